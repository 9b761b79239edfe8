package logs

import (
	"container/list"
	"sync"
	"time"
)

// blockCache keeps decoded block parts (metas, columns, bloom filters, v1
// blocks in v2 form), least recently used out first, within a byte bound:
// a count of blocks said nothing about memory, since one block's parts
// range from a few kilobytes to megabytes.
//
// A part no query asked for in cacheIdle goes too, as VictoriaMetrics'
// block cache drops entries unused for a few minutes. Without that the
// cache only ever grew to its bound: the columns of every block one
// search had read stayed, and at a busy dev box's rate the bound was
// reached only after the first hour, so memory climbed all that time
// (the soak's second-half slope) for parts nobody read twice.
type blockCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List
	items map[cacheKey]*list.Element
	// loading makes concurrent queries wanting the same part load it once.
	loading map[cacheKey]*cacheLoad
	now     func() time.Time
	swept   time.Time
}

// cacheIdle is how long a part stays without being asked for. The
// Discover page refreshes every few seconds to a minute, and an hour's
// histogram over and over keeps its metas; a search read once does not.
const cacheIdle = 3 * time.Minute

// cacheKey names one part of one block: item is partMeta, partV1,
// partStamps (a meta's row times, kept apart: see decodeMetaTS),
// partCount (a query's match count: see counter), or a
// column's data (2i) or bloom filter (2i+1).
type cacheKey struct {
	part string
	seq  uint32
	item int32
	q    string // partCount: the matcher's key
}

const (
	partMeta   = -1
	partV1     = -2
	partStamps = -3
	partCount  = -4 // a Keyed matcher's count of the block's rows
)

type cacheItem struct {
	key  cacheKey
	v    any
	size int64
	used time.Time
}

type cacheLoad struct {
	done chan struct{}
	v    any
	err  error
}

func newBlockCache(maxBytes int64) *blockCache {
	return &blockCache{max: maxBytes, ll: list.New(), items: map[cacheKey]*list.Element{}, loading: map[cacheKey]*cacheLoad{}, now: time.Now}
}

// get returns the part, loading (and keeping) it when absent.
func (c *blockCache) get(k cacheKey, load func() (any, int64, error)) (any, error) {
	c.mu.Lock()
	now := c.now()
	c.sweep(now)
	if el, ok := c.items[k]; ok {
		c.ll.MoveToFront(el)
		it := el.Value.(*cacheItem)
		it.used = now
		c.mu.Unlock()
		return it.v, nil
	}
	if l, ok := c.loading[k]; ok {
		c.mu.Unlock()
		<-l.done
		return l.v, l.err
	}
	l := &cacheLoad{done: make(chan struct{})}
	c.loading[k] = l
	c.mu.Unlock()
	v, size, err := load()
	l.v, l.err = v, err
	c.mu.Lock()
	delete(c.loading, k)
	if err == nil {
		c.items[k] = c.ll.PushFront(&cacheItem{k, v, size, c.now()})
		c.size += size
		for c.size > c.max && c.ll.Len() > 1 {
			c.remove(c.ll.Back())
		}
	}
	c.mu.Unlock()
	close(l.done)
	return v, err
}

// sweep drops the parts unused for cacheIdle, at most every cacheIdle/8:
// they sit at the back, least recently used first. The caller holds mu.
func (c *blockCache) sweep(now time.Time) {
	if now.Sub(c.swept) < cacheIdle/8 {
		return
	}
	c.swept = now
	for el := c.ll.Back(); el != nil && now.Sub(el.Value.(*cacheItem).used) > cacheIdle; el = c.ll.Back() {
		c.remove(el)
	}
}

func (c *blockCache) remove(el *list.Element) {
	it := el.Value.(*cacheItem)
	c.ll.Remove(el)
	delete(c.items, it.key)
	c.size -= it.size
}

// bytes is what the cache holds now.
func (c *blockCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

func (c *blockCache) dropPartition(part string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.items {
		if k.part == part {
			c.remove(el)
		}
	}
}
