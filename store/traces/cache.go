package traces

import (
	"container/list"
	"fmt"
	"hash/crc32"
	"sync"
	"unsafe"
)

const rowSize = unsafe.Sizeof(row{})

// decoded is a block read back: its rows, and its JSON once something
// needs it (search results, trace lookups), decompressed on first use.
type decoded struct {
	rows  []row
	offs  []int // JSON of row i: json[offs[i]:offs[i+1]]
	once  sync.Once
	json  []byte
	jerr  error
	bytes int
}

func (d *decoded) jsonOf(i int) []byte { return d.json[d.offs[i]:d.offs[i+1]] }

// blockCache keeps recently decoded blocks, least recently used out first,
// bounded in bytes: searches and trace lookups in the same minutes read
// the same few blocks.
type blockCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[*blockMeta]*list.Element
}

type cacheEntry struct {
	key *blockMeta
	d   *decoded
}

func newBlockCache(maxBytes int) *blockCache {
	return &blockCache{max: maxBytes, ll: list.New(), items: map[*blockMeta]*list.Element{}}
}

func (c *blockCache) get(b *blockMeta) *decoded {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[b]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*cacheEntry).d
	}
	return nil
}

func (c *blockCache) put(b *blockMeta, d *decoded) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[b]; ok {
		return
	}
	c.items[b] = c.ll.PushFront(&cacheEntry{b, d})
	c.size += d.bytes
	c.evict()
}

// grow accounts for a block's JSON once loaded.
func (c *blockCache) grow(b *blockMeta, d *decoded, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[b]; !ok {
		return
	}
	d.bytes += n
	c.size += n
	c.evict()
}

func (c *blockCache) evict() {
	for c.size > c.max && c.ll.Len() > 1 {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.size -= e.d.bytes
	}
}

func (c *blockCache) drop(blocks []*blockMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range blocks {
		if el, ok := c.items[b]; ok {
			c.ll.Remove(el)
			delete(c.items, b)
			c.size -= el.Value.(*cacheEntry).d.bytes
		}
	}
}

// rowsOf returns a block's rows (JSON not loaded), from the cache or disk.
func (s *Store) rowsOf(p *partition, b *blockMeta) (*decoded, error) {
	if d := s.cache.get(b); d != nil {
		return d, nil
	}
	z := make([]byte, b.colLen)
	if err := p.readAt(z, b.colOff()); err != nil {
		return nil, err
	}
	if crc32.Checksum(z, crcTable) != b.colCRC {
		return nil, fmt.Errorf("partition %s: span block at %d: column checksum mismatch", p.name, b.off)
	}
	raw, err := zdec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("partition %s: span block at %d: %w", p.name, b.off, err)
	}
	rows, lens, err := decodeColumns(raw, b.minTS)
	if err != nil || len(rows) != b.n {
		return nil, fmt.Errorf("partition %s: span block at %d: %w", p.name, b.off, errTorn)
	}
	// The rows, their tag slices and the dictionary's strings.
	d := &decoded{rows: rows, offs: make([]int, len(rows)+1), bytes: 2*len(raw) + len(rows)*(int(rowSize)+64)}
	for i, l := range lens {
		d.offs[i+1] = d.offs[i] + l
	}
	s.cache.put(b, d)
	return d, nil
}

// loadJSON decompresses a block's JSON section once.
func (s *Store) loadJSON(p *partition, b *blockMeta, d *decoded) error {
	d.once.Do(func() {
		z := make([]byte, b.jsonLen)
		if d.jerr = p.readAt(z, b.jsonOff()); d.jerr != nil {
			return
		}
		if crc32.Checksum(z, crcTable) != b.jsonCRC {
			d.jerr = fmt.Errorf("partition %s: span block at %d: JSON checksum mismatch", p.name, b.off)
			return
		}
		js, err := zdec.DecodeAll(z, make([]byte, 0, d.offs[len(d.offs)-1]))
		if err != nil || len(js) != d.offs[len(d.offs)-1] {
			d.jerr = fmt.Errorf("partition %s: span block at %d: JSON section: %w", p.name, b.off, errTorn)
			return
		}
		d.json = js
		s.cache.grow(b, d, len(js))
	})
	return d.jerr
}
