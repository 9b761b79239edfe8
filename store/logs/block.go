package logs

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"unsafe"
)

// Column encodings. A column holds the exact spelling of each of its leaf
// values, in the cheapest form that spells them again byte for byte.
type colEnc uint8

const (
	encConst colEnc = 1 + iota // one value in every row: kept once
	encDict                    // a few distinct values: a dictionary and a byte per value
	encUint                    // unsigned integers spelled as FormatUint spells them
	encTime                    // times spelled in millisLayout: milliseconds
	encPlain                   // anything else: the spellings, with a bloom filter
)

// kindMixed marks a column whose values are of several kinds.
const kindMixed Kind = 0xff

// Column flags.
const (
	colOnePerRow  = 1 << iota // every row holds exactly one value (value i is row i)
	colEscaped                // some string's text differs from its spelling
	colOverflowed             // values of paths past MaxFieldsPerBlock
	colBloom                  // a bloom filter follows the column's data
	colText                   // some value is text (a string that IsText): words may match
)

// blockMetaV2 is what a block says about itself: row timestamps, shapes
// and the column directory. Queries read it first; column data is read
// only for the columns a query names.
type blockMetaV2 struct {
	n        int
	ts       stamps
	lazyTS   bool // ts holds only lo and hi: the times are read when asked (decodeMetaTS)
	shapes   []shape
	rowShape []uint16 // nil when every row has shape 0 (a block has at most BlockSize rows)
	cols     []colMeta
	names    []string       // searchable paths, sorted
	nameCol  []int32        // the column of each of names
	byName   map[string]int // only when names are not sorted (a hand-made block)
}

// colMeta is one column's entry in the directory.
type colMeta struct {
	name  string
	enc   colEnc
	kind  Kind
	flags uint8
	nvals int
	dict  []string // const and dict: the spellings
	// Filled by prepare:
	dictText []string  // the texts of dict (== dict unless escaped)
	dictNums []float64 // dict entries as numbers (NaN when not one)
	// Where the data and the bloom filter are in the block (encoded blocks).
	dataOff, dataLen, rawLen int
	bloomOff, bloomLen       int
	bloomCRC                 uint32
}

func (m *colMeta) overflow() bool { return m.flags&colOverflowed != 0 }

// prepare derives the dictionary's texts and numbers.
func (m *colMeta) prepare() {
	m.dictText, m.dictNums = m.dict, nil
	if m.flags&colEscaped != 0 && m.kind == KindString {
		m.dictText = make([]string, len(m.dict))
		for i, v := range m.dict {
			m.dictText[i] = decodeString([]byte(v))
		}
	}
	if m.kind == KindNumber {
		m.dictNums = make([]float64, len(m.dict))
		for i, v := range m.dict {
			m.dictNums[i] = parseNum(v)
		}
	}
}

func parseNum(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// index lists the searchable paths. A block's columns are sorted by path
// (the builder sorts them), so a path is found by binary search; a map
// per block cost more than the rest of its directory, for every block
// meta in the cache. A block whose paths are out of order or repeated
// (not one obs wrote) gets the map.
func (bm *blockMetaV2) index() {
	bm.names, bm.nameCol, bm.byName = bm.names[:0], bm.nameCol[:0], nil
	sorted := true
	for i := range bm.cols {
		if bm.cols[i].overflow() {
			continue
		}
		name := bm.cols[i].name
		if n := len(bm.names); n > 0 && bm.names[n-1] >= name {
			sorted = false
		}
		bm.names = append(bm.names, name)
		bm.nameCol = append(bm.nameCol, int32(i))
	}
	if !sorted {
		bm.byName = make(map[string]int, len(bm.names))
		for k, name := range bm.names {
			if _, dup := bm.byName[name]; !dup {
				bm.byName[name] = int(bm.nameCol[k])
			}
		}
	}
}

// col is the column of path.
func (bm *blockMetaV2) col(path string) (int, bool) {
	if bm.byName != nil {
		i, ok := bm.byName[path]
		return i, ok
	}
	if k, ok := slices.BinarySearch(bm.names, path); ok {
		return int(bm.nameCol[k]), true
	}
	return 0, false
}

// colData is one column's values, decoded.
type colData struct {
	valRow   []uint16 // row of each value; nil when colOnePerRow
	rowStart []uint32 // first value of each row (n+1 entries); nil when colOnePerRow
	kinds    []Kind   // per value, when the column is mixed
	codes    []uint8  // encDict
	u        []uint64 // encUint
	t        []int64  // encTime
	ends     []uint32 // encPlain: end of each spelling in buf
	buf      []byte
	text     []string  // encPlain with colEscaped: the texts
	nums     []float64 // encPlain: each value as a number (NaN when not a number)
}

func (d *colData) setRows(rows []uint16, n int) {
	d.valRow = rows
	d.rowStart = make([]uint32, n+1)
	for _, r := range rows {
		d.rowStart[r+1]++
	}
	for i := 1; i <= n; i++ {
		d.rowStart[i] += d.rowStart[i-1]
	}
}

// prepare derives texts and numbers of plain columns.
func (d *colData) prepare(m *colMeta) {
	if m.enc != encPlain {
		return
	}
	n := len(d.ends)
	if m.flags&colEscaped != 0 {
		d.text = make([]string, n)
		for i := range d.text {
			sp := d.spelling(i)
			if d.kind(i, m.kind) == KindString && !isPlainString(sp) {
				d.text[i] = decodeString(sp)
			} else {
				d.text[i] = string(sp)
			}
		}
	}
	if m.kind == KindNumber || m.kind == kindMixed {
		for i := 0; i < n; i++ {
			if d.kind(i, m.kind) == KindNumber {
				if d.nums == nil {
					d.nums = make([]float64, n)
					for j := range d.nums {
						d.nums[j] = math.NaN()
					}
				}
				d.nums[i] = parseNum(unsafeString(d.spelling(i)))
			}
		}
	}
}

// isPlainString says whether a string's spelling is its text.
func isPlainString(sp []byte) bool {
	return bytes.IndexByte(sp, '\\') < 0 && validText(sp)
}

func (d *colData) kind(i int, k Kind) Kind {
	if d.kinds != nil {
		return d.kinds[i]
	}
	return k
}

func (d *colData) spelling(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = d.ends[i-1]
	}
	return d.buf[start:d.ends[i]]
}

// plainText is the text of value i of a plain column.
func (d *colData) plainText(i int) string {
	if d.text != nil {
		return d.text[i]
	}
	return unsafeString(d.spelling(i))
}

// unsafeString views bytes as a string without copying. Column buffers are
// never written once built, and predicates do not keep what they are shown.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (d *colData) size() int64 {
	s := int64(len(d.valRow)*2+len(d.rowStart)*4+len(d.kinds)+len(d.codes)+len(d.u)*8+len(d.t)*8+len(d.ends)*4+len(d.buf)+len(d.nums)*8) + 128
	for _, t := range d.text {
		s += int64(len(t)) + 16
	}
	return s
}

// size is what the meta holds in memory, headers included: the cache
// bound is only as true as this (the first estimate, without them, let
// the metas alone take 1.5x the whole bound). Paths and dictionary values
// read from disk are shared between blocks (reader.interned), so only
// their headers count.
func (bm *blockMetaV2) size() int64 {
	s := bm.ts.size() + int64(len(bm.rowShape)*2) + 256
	for _, sh := range bm.shapes {
		s += int64(len(sh.bytes)+len(sh.cols)*4) + 48 + 56
	}
	s += int64(len(bm.names)) * (16 + 4)
	if bm.byName != nil {
		s += int64(len(bm.byName)) * 64
	}
	for i := range bm.cols {
		c := &bm.cols[i]
		s += 200
		s += int64(len(c.dict)) * 16
		if len(c.dictText) > 0 && len(c.dict) > 0 && &c.dictText[0] != &c.dict[0] {
			for _, v := range c.dictText {
				s += int64(len(v)) + 16
			}
		}
		s += int64(len(c.dictNums)) * 8
	}
	return s
}

// builtBlock is a block as the builder made it: everything decoded.
type builtBlock struct {
	meta   *blockMetaV2
	data   []*colData
	blooms []bloom
}

// colSource gives a block's column data and bloom filters, reading and
// decoding them on first use (encoded blocks) or at once (built blocks).
type colSource interface {
	colData(i int) (*colData, error)
	colBloom(i int) (bloom, error)
	stamps() (*stamps, error)
}

func (b *builtBlock) colData(i int) (*colData, error) { return b.data[i], nil }
func (b *builtBlock) colBloom(i int) (bloom, error)   { return b.blooms[i], nil }
func (b *builtBlock) stamps() (*stamps, error)        { return &b.meta.ts, nil }

// Block is one block (or a head) as a query sees it: the timestamp of each
// row, and its columns by field path, read on first use.
type Block struct {
	N     int
	m     *blockMetaV2
	src   colSource
	err   error
	got   []*colData
	taken []int32 // rebuild's count of values taken per column
	ts    stampCursor
}

// NewBlock builds a block in memory from entries, as a head is built
// (query tests compare a query's answer on it with its answer per event).
func NewBlock(entries []Entry) *Block {
	b := buildEntries(entries)
	return newBlock(b.meta, b)
}

func newBlock(m *blockMetaV2, src colSource) *Block {
	return &Block{N: m.n, m: m, src: src}
}

// Time is row r's @timestamp in unix milliseconds. Rows asked in rising
// order (every query's loop) cost one stored difference each.
// A block whose times cannot be read (a damaged disk) answers its
// earliest time for every row and reports the error through Err.
func (b *Block) Time(r int) int64 {
	if b.ts.s == nil {
		s, err := b.src.stamps()
		if err != nil {
			b.fail(err)
			return b.m.ts.lo
		}
		b.ts = s.cursor()
	}
	return b.ts.at(r)
}

// Span is the earliest and the latest row's time.
func (b *Block) Span() (lo, hi int64) { return b.m.ts.lo, b.m.ts.hi }

// Fields returns the block's field paths, sorted.
func (b *Block) Fields() []string { return b.m.names }

// Field returns a field's column, or nil when no row has it.
func (b *Block) Field(path string) *Column {
	i, ok := b.m.col(path)
	if !ok {
		return nil
	}
	return &Column{b: b, i: i, m: &b.m.cols[i]}
}

// Err is the first error reading a column: the block is damaged and its
// answer not to be trusted.
func (b *Block) Err() error { return b.err }

func (b *Block) data(i int) *colData {
	if b.got == nil {
		b.got = make([]*colData, len(b.m.cols))
	}
	if d := b.got[i]; d != nil {
		return d
	}
	d, err := b.src.colData(i)
	if err != nil {
		b.fail(err)
		return nil
	}
	b.got[i] = d
	return d
}

// Column is one field path of a block.
type Column struct {
	b *Block
	i int
	m *colMeta
}

// Path is the column's field path.
func (c *Column) Path() string { return c.m.name }

// setRows marks the row of each value i for which hit(i) is true.
func (c *Column) setRows(bits Bits, d *colData, hit func(i int) bool) {
	for i := 0; i < c.m.nvals; i++ {
		if hit(i) {
			if d.valRow != nil {
				bits.Set(int(d.valRow[i]))
			} else {
				bits.Set(i)
			}
		}
	}
}

// Present is the set of rows that have the field at all.
func (c *Column) Present(n int) Bits {
	if c.m.flags&colOnePerRow != 0 {
		return AllBits(n)
	}
	b := NewBits(n)
	d := c.b.data(c.i)
	if d == nil {
		return b
	}
	for r := 0; r < n; r++ {
		if d.rowStart[r+1] > d.rowStart[r] {
			b.Set(r)
		}
	}
	return b
}

// dictRows is the set of rows whose dictionary code is one for which
// hit is true.
func (c *Column) dictRows(n int, hit []bool) Bits {
	b := NewBits(n)
	any := false
	for _, h := range hit {
		any = any || h
	}
	if !any {
		return b
	}
	if c.m.enc == encConst {
		return AllBits(n)
	}
	d := c.b.data(c.i)
	if d == nil {
		return b
	}
	if d.valRow == nil {
		// A row per value: build each word of the result from 64 codes.
		var lut [256]uint8
		for k, h := range hit {
			if h {
				lut[k] = 1
			}
		}
		codes := d.codes
		for w := range b {
			chunk := codes[w*64 : min(w*64+64, len(codes))]
			var word uint64
			for j, code := range chunk {
				word |= uint64(lut[code]) << uint(j)
			}
			b[w] = word
		}
		return b
	}
	c.setRows(b, d, func(i int) bool { return hit[d.codes[i]] })
	return b
}

// Term is the set of rows having a value whose text is exactly s.
func (c *Column) Term(n int, s string) Bits {
	switch c.m.enc {
	case encConst, encDict:
		hit := make([]bool, len(c.m.dict))
		for k, v := range c.m.dictText {
			hit[k] = v == s
		}
		return c.dictRows(n, hit)
	case encUint:
		if !canonicalUint([]byte(s)) {
			return NewBits(n)
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return NewBits(n)
		}
		return c.match(n, func(d *colData, i int) bool { return d.u[i] == v })
	case encTime:
		t, ok := parseMillisTime([]byte(s))
		if !ok {
			return NewBits(n)
		}
		return c.match(n, func(d *colData, i int) bool { return d.t[i] == t })
	}
	if !c.mayHaveTerm(s) {
		return NewBits(n)
	}
	return c.match(n, func(d *colData, i int) bool { return d.plainText(i) == s })
}

// match scans the column's values.
func (c *Column) match(n int, hit func(d *colData, i int) bool) Bits {
	b := NewBits(n)
	d := c.b.data(c.i)
	if d == nil {
		return b
	}
	c.setRows(b, d, func(i int) bool { return hit(d, i) })
	return b
}

// text is the text of value i, in any encoding.
func (c *Column) text(d *colData, i int, scratch []byte) string {
	switch c.m.enc {
	case encConst:
		return c.m.dictText[0]
	case encDict:
		return c.m.dictText[d.codes[i]]
	case encUint:
		return unsafeString(strconv.AppendUint(scratch[:0], d.u[i], 10))
	case encTime:
		return unsafeString(appendMillisTime(scratch[:0], d.t[i]))
	}
	return d.plainText(i)
}

// MatchValues is the set of rows having a value of a kind in kinds (a set
// of 1<<Kind) whose text satisfies pred.
func (c *Column) MatchValues(n int, kinds uint8, pred func(string) bool) Bits {
	if c.m.enc == encConst || c.m.enc == encDict {
		hit := make([]bool, len(c.m.dict))
		if kinds&(1<<c.m.kind) != 0 {
			for k, v := range c.m.dictText {
				hit[k] = pred(v)
			}
		}
		return c.dictRows(n, hit)
	}
	if c.m.kind != kindMixed && kinds&(1<<c.m.kind) == 0 {
		return NewBits(n)
	}
	var scratch [32]byte
	return c.match(n, func(d *colData, i int) bool {
		return kinds&(1<<d.kind(i, c.m.kind)) != 0 && pred(c.text(d, i, scratch[:]))
	})
}

// HasNumbers says whether some value of the column is a number.
func (c *Column) HasNumbers() bool { return c.m.kind == KindNumber || c.m.kind == kindMixed }

// NumMatch is the set of rows having a number that satisfies pred.
func (c *Column) NumMatch(n int, pred func(float64) bool) Bits {
	switch {
	case !c.HasNumbers():
		return NewBits(n)
	case c.m.enc == encConst || c.m.enc == encDict:
		hit := make([]bool, len(c.m.dict))
		for k, v := range c.m.dictNums {
			hit[k] = !math.IsNaN(v) && pred(v)
		}
		return c.dictRows(n, hit)
	case c.m.enc == encUint:
		return c.match(n, func(d *colData, i int) bool { return pred(float64(d.u[i])) })
	}
	return c.match(n, func(d *colData, i int) bool {
		return d.nums != nil && !math.IsNaN(d.nums[i]) && pred(d.nums[i])
	})
}

// HasText says whether some value is tokenized text (a string that IsText).
func (c *Column) HasText() bool { return c.m.flags&colText != 0 }

// MayHaveWord says whether a text value of the column may hold word w
// (lower case): false rules the block out.
func (c *Column) MayHaveWord(w string) bool {
	bl, ok := c.filter()
	return ok && bl.has(hashWordS(w))
}

// filter returns the column's bloom filter (nil when it has none: nothing
// is ruled out); ok is false when it cannot be read (the block is damaged).
func (c *Column) filter() (bl bloom, ok bool) {
	if c.m.flags&colBloom == 0 {
		return nil, true
	}
	bl, err := c.b.src.colBloom(c.i)
	if err != nil {
		c.b.fail(err)
		return nil, false
	}
	return bl, true
}

func (b *Block) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// mayHaveTerm says whether a value of this plain column may be exactly s.
func (c *Column) mayHaveTerm(s string) bool {
	bl, ok := c.filter()
	if !ok || bl.has(hashValueS(s)) {
		return ok
	}
	if !IsText(c.m.name, s) {
		return false
	}
	words := Tokens(s)
	for _, w := range words {
		if !bl.has(hashWordS(w)) {
			return false
		}
	}
	return true
}

// MatchWords is the set of rows with a text value (a string that IsText)
// whose words satisfy pred.
func (c *Column) MatchWords(n int, pred func(words []string) bool) Bits {
	if !c.HasText() {
		return NewBits(n)
	}
	if c.m.enc == encConst || c.m.enc == encDict {
		hit := make([]bool, len(c.m.dict))
		for k, v := range c.m.dictText {
			hit[k] = IsText(c.m.name, v) && pred(Tokens(v))
		}
		return c.dictRows(n, hit)
	}
	var scratch [32]byte
	return c.match(n, func(d *colData, i int) bool {
		if d.kind(i, c.m.kind) != KindString {
			return false
		}
		t := c.text(d, i, scratch[:])
		return IsText(c.m.name, t) && pred(Tokens(t))
	})
}

// rebuild appends row r's event, byte for byte as it was received.
func (b *Block) rebuild(dst []byte, r int) ([]byte, error) {
	sid := 0
	if b.m.rowShape != nil {
		sid = int(b.m.rowShape[r])
	}
	sh := &b.m.shapes[sid]
	if sh.verbatim {
		return append(dst, sh.bytes...), nil
	}
	if b.taken == nil {
		b.taken = make([]int32, len(b.m.cols))
	}
	for _, ci := range sh.cols {
		b.taken[ci] = 0
	}
	leaf, last := 0, 0
	for i, c := range sh.bytes {
		if c != markString && c != markBare {
			continue
		}
		dst = append(dst, sh.bytes[last:i]...)
		last = i + 1
		if leaf >= len(sh.cols) {
			return dst, errCorrupt
		}
		ci := sh.cols[leaf]
		leaf++
		m := &b.m.cols[ci]
		d := b.data(int(ci))
		if d == nil {
			return dst, b.err
		}
		// This row's first value of the column, plus the ones already taken.
		vi := r
		if d.rowStart != nil {
			vi = int(d.rowStart[r]) + int(b.taken[ci])
			b.taken[ci]++
			if vi >= int(d.rowStart[r+1]) {
				return dst, errCorrupt
			}
		}
		if c == markString {
			dst = append(dst, '"')
		}
		switch m.enc {
		case encConst:
			dst = append(dst, m.dict[0]...)
		case encDict:
			dst = append(dst, m.dict[d.codes[vi]]...)
		case encUint:
			dst = strconv.AppendUint(dst, d.u[vi], 10)
		case encTime:
			dst = appendMillisTime(dst, d.t[vi])
		default:
			dst = append(dst, d.spelling(vi)...)
		}
		if c == markString {
			dst = append(dst, '"')
		}
	}
	if leaf != len(sh.cols) {
		return dst, errCorrupt
	}
	return append(dst, sh.bytes[last:]...), nil
}
