package traces

import (
	"testing"
	"time"
)

// A block no search asked for in cacheIdle leaves the cache, whatever
// room is left; one asked for stays.
func TestBlockCacheDropsIdleBlocks(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	c := newBlockCache(16 << 20)
	c.now = func() time.Time { return clock }
	a, b := &blockMeta{}, &blockMeta{}
	c.put(a, &decoded{bytes: 1000})
	c.put(b, &decoded{bytes: 2000})
	clock = clock.Add(cacheIdle / 2)
	if c.get(a) == nil {
		t.Fatal("a went before it was idle")
	}
	clock = clock.Add(cacheIdle/2 + time.Second)
	if c.get(a) == nil {
		t.Fatal("a, asked for half an idle time ago, went")
	}
	if c.get(b) != nil {
		t.Fatal("b, idle longer than cacheIdle, stayed")
	}
	if c.size != 1000 || len(c.items) != 1 || c.ll.Len() != 1 {
		t.Fatalf("size %d, %d items, list %d: want a alone", c.size, len(c.items), c.ll.Len())
	}
	// The byte bound still holds.
	small := newBlockCache(2500)
	small.now = c.now
	small.put(a, &decoded{bytes: 1000})
	small.put(b, &decoded{bytes: 2000})
	if small.get(a) != nil || small.size != 2000 {
		t.Fatalf("over the bound: size %d, a kept %v", small.size, small.get(a) != nil)
	}
}
