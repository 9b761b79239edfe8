package logs

import (
	"bytes"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxFieldsPerBlock caps distinct field paths made searchable per block (as
// Elasticsearch's total_fields limit caps a mapping): events with a million
// different keys would otherwise make a block's directory, and the heap,
// unbounded. The values of paths past the cap are kept (every event comes
// back whole) in one overflow column that no query names.
const MaxFieldsPerBlock = 1000

// maxDict is the most distinct values a dictionary column holds; a
// column with more is stored plain (or as numbers) with a bloom filter.
const (
	maxDict      = 255
	maxDictBytes = 8 << 10
)

// blockBuilder turns rows (timestamp + raw event) into a block's shapes and
// columns.
type blockBuilder struct {
	ts       []int64
	cols     []*colBuilder
	byPath   map[string]int32
	overflow int32 // the overflow column, -1 until needed
	shapes   []shape
	shapeIDs map[string]int32
	rowShape []uint16
	rejected int64

	sp    splitter
	shape []byte
	free  []*colBuilder // columns of an earlier block, for reuse
	// scratch for the bloom items of a column, reused
	hs      []uint64
	scratch []byte
}

// shape is one distinct event skeleton of a block: bytes with leaf marks
// and the column of each leaf in order. A verbatim shape is an event that
// is not JSON, kept as it came with no leaves.
type shape struct {
	bytes    []byte
	cols     []int32
	verbatim bool
}

type colBuilder struct {
	path     string
	overflow bool
	buf      []byte   // raw spellings, one after another
	ends     []uint32 // end of each value in buf
	kinds    []Kind
	rows     []uint16
	lastRow  int
	multi    bool // a row holds several values
	escaped  bool
	text     bool             // a value is text: a string that IsText
	pathText bool             // every string of the path is text
	dict     map[string]uint8 // nil once over maxDict
	dictLen  int
	kindSet  uint8 // 1<<Kind of the values seen
	allUint  bool
	allTime  bool
}

func newBlockBuilder() *blockBuilder {
	bb := &blockBuilder{byPath: map[string]int32{}, shapeIDs: map[string]int32{}, overflow: -1}
	bb.sp.col = bb.column
	return bb
}

// builders recycles block builders. A builder's column slices grow to a
// block's size as it fills; building each sealed block, and the head for
// every query over it, from empty allocated about 1 KB per event, most of
// it growth that was thrown away (15% of all the 60-minute soak
// allocates). build copies out what the block keeps.
var builders = sync.Pool{New: func() any { return newBlockBuilder() }}

// Bounds on what a pooled builder may hold: a block with many fields or
// large values is not worth keeping for the next one.
const (
	poolMaxCols  = 256
	poolMaxBytes = 4 << 20
)

func getBlockBuilder() *blockBuilder { return builders.Get().(*blockBuilder) }

// putBlockBuilder recycles a builder once its block is built.
func putBlockBuilder(bb *blockBuilder) {
	if bb.reset() {
		builders.Put(bb)
	}
}

// reset empties the builder for another block, keeping its columns'
// capacity; false if it holds too much to keep.
func (bb *blockBuilder) reset() bool {
	bb.free = append(bb.free, bb.cols...)
	clear(bb.cols)
	bb.cols = bb.cols[:0]
	if len(bb.free) > poolMaxCols {
		return false
	}
	held := cap(bb.ts)*8 + cap(bb.hs)*8 + cap(bb.scratch)
	for _, c := range bb.free {
		held += cap(c.buf) + cap(c.ends)*4 + cap(c.kinds) + cap(c.rows)*2
	}
	if held > poolMaxBytes {
		return false
	}
	bb.ts = bb.ts[:0]
	clear(bb.byPath)
	bb.overflow = -1
	bb.shapes, bb.rowShape = nil, nil // the built block keeps them
	clear(bb.shapeIDs)
	bb.rejected = 0
	return true
}

// column returns the column of a path, making it if new.
func (bb *blockBuilder) column(path []byte) int32 {
	if id, ok := bb.byPath[string(path)]; ok {
		return id
	}
	if len(bb.byPath) >= MaxFieldsPerBlock {
		bb.rejected++
		if bb.overflow < 0 {
			bb.overflow = bb.newCol("", true)
		}
		return bb.overflow
	}
	id := bb.newCol(string(path), false)
	bb.byPath[string(path)] = id
	return id
}

func (bb *blockBuilder) newCol(path string, overflow bool) int32 {
	c := &colBuilder{}
	if n := len(bb.free); n > 0 {
		c, bb.free[n-1] = bb.free[n-1], nil
		bb.free = bb.free[:n-1]
	}
	dict := c.dict
	if dict == nil {
		dict = map[string]uint8{}
	}
	clear(dict)
	*c = colBuilder{path: path, overflow: overflow, lastRow: -1, pathText: textField(path),
		buf: c.buf[:0], ends: c.ends[:0], kinds: c.kinds[:0], rows: c.rows[:0],
		dict: dict, allUint: true, allTime: true}
	bb.cols = append(bb.cols, c)
	return int32(len(bb.cols) - 1)
}

// add appends one row.
func (bb *blockBuilder) add(tsMillis int64, raw []byte) {
	row := len(bb.ts)
	bb.ts = append(bb.ts, tsMillis)
	var verbatim bool
	if err := bb.sp.split(raw); err != nil {
		verbatim = true
		bb.shape = append(bb.shape[:0], raw...)
		bb.sp.leaves = bb.sp.leaves[:0]
	} else {
		bb.shape = cutShape(bb.shape[:0], raw, bb.sp.leaves)
	}
	key := bb.shape
	if verbatim {
		// A verbatim shape never equals a cut one: marks cannot be in raw JSON,
		// but raw input that is not JSON may hold anything.
		key = append(bb.shape, 0xff, 0xfe)
	}
	id, ok := bb.shapeIDs[string(key)]
	if !ok {
		id = int32(len(bb.shapes))
		bb.shapeIDs[string(key)] = id
		sh := shape{bytes: append([]byte(nil), bb.shape...), verbatim: verbatim}
		for _, l := range bb.sp.leaves {
			sh.cols = append(sh.cols, l.col)
		}
		bb.shapes = append(bb.shapes, sh)
	}
	bb.rowShape = append(bb.rowShape, uint16(id)) // id < BlockSize
	for _, l := range bb.sp.leaves {
		bb.cols[l.col].add(row, raw[l.start:l.end], l.kind, l.escaped)
	}
}

func (c *colBuilder) add(row int, v []byte, k Kind, escaped bool) {
	if c.lastRow == row {
		c.multi = true
	}
	c.lastRow = row
	c.buf = append(c.buf, v...)
	c.ends = append(c.ends, uint32(len(c.buf)))
	c.kinds = append(c.kinds, k)
	c.rows = append(c.rows, uint16(row))
	c.kindSet |= 1 << k
	c.escaped = c.escaped || escaped
	if k == KindString && !c.text {
		// A value with a space is text; so is any value of a message field.
		// Escapes may hide a space: decode those.
		c.text = c.pathText || bytes.ContainsAny(v, " \t\n") || (escaped && IsText(c.path, decodeString(v)))
	}
	if c.dict != nil {
		if _, ok := c.dict[string(v)]; !ok {
			if len(c.dict) >= maxDict || c.dictLen+len(v) > maxDictBytes {
				c.dict = nil
			} else {
				c.dict[string(v)] = uint8(len(c.dict))
				c.dictLen += len(v)
			}
		}
	}
	if c.allUint && (k != KindNumber || !canonicalUint(v)) {
		c.allUint = false
	}
	if c.allTime && (k != KindString || escaped || !isMillisTime(v)) {
		c.allTime = false
	}
}

// canonicalUint says whether v is an unsigned integer spelled as
// strconv.FormatUint spells it (so that it can be stored as a number and
// spelled again byte for byte).
func canonicalUint(v []byte) bool {
	if len(v) == 0 || len(v) > 19 || (v[0] == '0' && len(v) > 1) {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// millisLayout is the timestamp spelling Logstash and most shippers use;
// values spelled so are stored as numbers.
const millisLayout = "2006-01-02T15:04:05.000Z"

// timeDictMax is the most distinct times a column keeps as a dictionary.
// A shipper's @timestamp repeats within a millisecond burst, so a block
// of 2,000 rows often had under 256 distinct times and became a
// dictionary: 150-200 time strings in every cached meta, none shared with
// the next block (in the soak, 300,000 strings and 6 MB of the cache an
// hour, and metas 50% larger), where times take one varint byte each.
const timeDictMax = 4

// isMillisTime says whether v is a time spelled exactly in millisLayout.
func isMillisTime(v []byte) bool {
	_, ok := parseMillisTime(v)
	return ok
}

func parseMillisTime(v []byte) (int64, bool) {
	if len(v) != len(millisLayout) || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' || v[19] != '.' || v[23] != 'Z' {
		return 0, false
	}
	num := func(a, b int) int {
		n := 0
		for _, c := range v[a:b] {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, s, ms := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19), num(20, 23)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || ms < 0 {
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	if t.Day() != d { // Feb 30 and friends
		return 0, false
	}
	return t.UnixMilli(), true
}

func appendMillisTime(dst []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(dst, millisLayout)
}

// build finishes the block: its columns in their chosen encodings, ready
// to query or to encode.
func (bb *blockBuilder) build() *builtBlock {
	n := len(bb.ts)
	// Columns with no value (their only rows were not JSON) go.
	remap := make([]int32, len(bb.cols))
	var cols []*colBuilder
	for i, c := range bb.cols {
		remap[i] = -1
		if len(c.ends) > 0 {
			remap[i] = int32(len(cols))
			cols = append(cols, c)
		}
	}
	// Columns are kept sorted by path (the overflow column first: its path
	// is ""), so that the encoding does not depend on arrival order.
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ca, cb := cols[order[a]], cols[order[b]]
		if ca.path != cb.path {
			return ca.path < cb.path
		}
		return ca.overflow && !cb.overflow
	})
	pos := make([]int32, len(cols))
	for newPos, old := range order {
		pos[old] = int32(newPos)
	}
	out := &builtBlock{meta: &blockMetaV2{n: n, ts: newStamps(bb.ts), shapes: bb.shapes, rowShape: bb.rowShape}}
	for si := range out.meta.shapes {
		sh := &out.meta.shapes[si]
		for k, c := range sh.cols {
			sh.cols[k] = pos[remap[c]]
		}
	}
	if len(bb.shapes) == 1 {
		out.meta.rowShape = nil
	}
	out.meta.cols = make([]colMeta, len(cols))
	out.data = make([]*colData, len(cols))
	out.blooms = make([]bloom, len(cols))
	hs, scratch := bb.hs, bb.scratch
	for old, c := range cols {
		i := pos[old]
		m, d := c.finish(n, bb.ts)
		out.meta.cols[i], out.data[i] = m, d
		if m.enc == encPlain && !m.overflow() {
			hs, scratch = c.bloomHashes(d, hs[:0], scratch)
			out.blooms[i] = newBloom(hs)
			out.meta.cols[i].flags |= colBloom
		}
	}
	bb.hs, bb.scratch = hs[:0], scratch[:0]
	out.meta.index()
	return out
}

// finish chooses the column's encoding and makes its query form.
func (c *colBuilder) finish(n int, ts []int64) (colMeta, *colData) {
	m := colMeta{name: c.path, nvals: len(c.ends)}
	d := &colData{}
	single := c.kindSet&(c.kindSet-1) == 0
	m.kind = kindMixed
	if single {
		for k := KindString; k <= KindNull; k++ {
			if c.kindSet == 1<<k {
				m.kind = k
			}
		}
	} else {
		d.kinds = slices.Clone(c.kinds) // the builder's slices are reused
	}
	if !c.multi && len(c.ends) == n {
		m.flags |= colOnePerRow
	} else {
		d.setRows(slices.Clone(c.rows), n)
	}
	if c.escaped {
		m.flags |= colEscaped
	}
	if c.text {
		m.flags |= colText
	}
	if c.overflow {
		m.flags |= colOverflowed
	}
	value := func(i int) []byte {
		start := uint32(0)
		if i > 0 {
			start = c.ends[i-1]
		}
		return c.buf[start:c.ends[i]]
	}
	switch {
	case c.dict != nil && single && len(c.dict) == 1 && m.flags&colOnePerRow != 0:
		m.enc = encConst
		m.dict = []string{string(value(0))}
	case c.dict != nil && single && !(c.allTime && len(c.dict) > timeDictMax):
		m.enc = encDict
		m.dict = make([]string, len(c.dict))
		for v, code := range c.dict {
			m.dict[code] = v
		}
		d.codes = make([]uint8, len(c.ends))
		for i := range d.codes {
			d.codes[i] = c.dict[string(value(i))]
		}
	case c.allUint:
		m.enc = encUint
		d.u = make([]uint64, len(c.ends))
		for i := range d.u {
			d.u[i], _ = strconv.ParseUint(string(value(i)), 10, 64)
		}
	case c.allTime:
		m.enc = encTime
		d.t = make([]int64, len(c.ends))
		for i := range d.t {
			d.t[i], _ = parseMillisTime(value(i))
		}
	default:
		m.enc = encPlain
		d.buf, d.ends = slices.Clone(c.buf), slices.Clone(c.ends)
	}
	m.prepare()
	d.prepare(&m)
	return m, d
}

// bloomHashes lists the bloom items of a plain column: the words of its
// text values and the whole text of the others.
func (c *colBuilder) bloomHashes(d *colData, hs []uint64, scratch []byte) ([]uint64, []byte) {
	for i := range c.ends {
		text := d.plainText(i)
		if d.kind(i, c.kindOf()) == KindString && IsText(c.path, text) {
			scratch = eachToken(text, scratch, func(w []byte) { hs = append(hs, hashWord(w)) })
		} else {
			hs = append(hs, hashValueS(text))
		}
	}
	return hs, scratch
}

func (c *colBuilder) kindOf() Kind {
	for k := KindString; k <= KindNull; k++ {
		if c.kindSet == 1<<k {
			return k
		}
	}
	return kindMixed
}

// validText is the text Flatten gives a string spelled without escapes:
// the bytes, with invalid UTF-8 replaced.
func validText(b []byte) bool { return utf8.Valid(b) }
