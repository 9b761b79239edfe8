package logs

import (
	"container/list"
	"sync"
)

// blockCache keeps decoded block parts (metas, columns, bloom filters, v1
// blocks in v2 form), least recently used out first, within a byte bound:
// a count of blocks said nothing about memory, since one block's parts
// range from a few kilobytes to megabytes.
type blockCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List
	items map[cacheKey]*list.Element
	// loading makes concurrent queries wanting the same part load it once.
	loading map[cacheKey]*cacheLoad
}

// cacheKey names one part of one block: item is partMeta, partV1, or a
// column's data (2i) or bloom filter (2i+1).
type cacheKey struct {
	part string
	seq  uint32
	item int32
}

const (
	partMeta = -1
	partV1   = -2
)

type cacheItem struct {
	key  cacheKey
	v    any
	size int64
}

type cacheLoad struct {
	done chan struct{}
	v    any
	err  error
}

func newBlockCache(maxBytes int64) *blockCache {
	return &blockCache{max: maxBytes, ll: list.New(), items: map[cacheKey]*list.Element{}, loading: map[cacheKey]*cacheLoad{}}
}

// get returns the part, loading (and keeping) it when absent.
func (c *blockCache) get(k cacheKey, load func() (any, int64, error)) (any, error) {
	c.mu.Lock()
	if el, ok := c.items[k]; ok {
		c.ll.MoveToFront(el)
		v := el.Value.(*cacheItem).v
		c.mu.Unlock()
		return v, nil
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
		c.items[k] = c.ll.PushFront(&cacheItem{k, v, size})
		c.size += size
		for c.size > c.max && c.ll.Len() > 1 {
			el := c.ll.Back()
			it := el.Value.(*cacheItem)
			c.ll.Remove(el)
			delete(c.items, it.key)
			c.size -= it.size
		}
	}
	c.mu.Unlock()
	close(l.done)
	return v, err
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
			c.size -= el.Value.(*cacheItem).size
			c.ll.Remove(el)
			delete(c.items, k)
		}
	}
}
