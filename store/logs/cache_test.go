package logs

import (
	"testing"
	"time"
)

// TestCacheIdle: a part nobody asks for in cacheIdle leaves the cache
// even far below its bound; one asked for again stays.
func TestCacheIdle(t *testing.T) {
	c := newBlockCache(1 << 30)
	clock := time.Unix(1700000000, 0)
	c.now = func() time.Time { return clock }
	put := func(seq uint32) {
		if _, err := c.get(cacheKey{part: "d", seq: seq}, func() (any, int64, error) { return seq, 1000, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for seq := range uint32(10) {
		put(seq)
	}
	for range 4 { // seq 0 read every minute, the others never again
		clock = clock.Add(time.Minute)
		put(0)
	}
	if got := c.bytes(); got != 1000 {
		t.Fatalf("after 4 idle minutes the cache holds %d bytes, want only the part read each minute (1000)", got)
	}
	if _, ok := c.items[cacheKey{part: "d", seq: 0}]; !ok {
		t.Fatal("the part read each minute was dropped")
	}
	// The byte bound still holds on its own.
	c = newBlockCache(3000)
	for seq := range uint32(10) {
		put(seq)
	}
	if got := c.bytes(); got != 3000 {
		t.Fatalf("bound 3000: holds %d", got)
	}
}
