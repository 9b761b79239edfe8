package traces

import (
	"container/list"
	"fmt"
	"hash/crc32"
	"sync"
	"time"
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
// the same few blocks. A block no one asked for in cacheIdle goes too, as
// in the log store's cache: a search for the newest traces, asked again
// and again, reads the newest blocks, and without that the blocks it read
// minutes ago stayed until the bound pushed them out, so the cache only
// ever grew to its bound (the soak: 7 MB at 30 minutes on its way to 16).
type blockCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[*blockMeta]*list.Element
	now   func() time.Time
	swept time.Time
}

// cacheIdle is how long a block stays without being asked for.
const cacheIdle = 3 * time.Minute

type cacheEntry struct {
	key  *blockMeta
	d    *decoded
	used time.Time
}

func newBlockCache(maxBytes int) *blockCache {
	return &blockCache{max: maxBytes, ll: list.New(), items: map[*blockMeta]*list.Element{}, now: time.Now}
}

func (c *blockCache) get(b *blockMeta) *decoded {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweep(now)
	if el, ok := c.items[b]; ok {
		c.ll.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		e.used = now
		return e.d
	}
	return nil
}

func (c *blockCache) put(b *blockMeta, d *decoded) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[b]; ok {
		return
	}
	c.items[b] = c.ll.PushFront(&cacheEntry{b, d, c.now()})
	c.size += d.bytes
	c.evict()
}

// sweep drops the blocks unused for cacheIdle, at most every cacheIdle/8:
// they sit at the back. The caller holds mu.
func (c *blockCache) sweep(now time.Time) {
	if now.Sub(c.swept) < cacheIdle/8 {
		return
	}
	c.swept = now
	for el := c.ll.Back(); el != nil && now.Sub(el.Value.(*cacheEntry).used) > cacheIdle; el = c.ll.Back() {
		c.remove(el)
	}
}

func (c *blockCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.size -= e.d.bytes
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
		c.remove(c.ll.Back())
	}
}

func (c *blockCache) drop(blocks []*blockMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range blocks {
		if el, ok := c.items[b]; ok {
			c.remove(el)
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
