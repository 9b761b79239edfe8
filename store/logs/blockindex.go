package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

const noID = ^uint32(0)

// BlockIndex is the columnar index of one block: enough to evaluate a query
// and bucket the matches by time without touching the events themselves.
type BlockIndex struct {
	N      int
	TS     []int64 // unix milliseconds, one per row
	fields map[string]*FieldIndex
	names  []string // sorted field paths
}

// FieldIndex indexes one field path within a block.
type FieldIndex struct {
	Dict  []string // sorted distinct values (their text)
	IDs   []uint32 // per row: index into Dict, noID when the row lacks the field
	Extra []RowVal // further values of multi-valued (array) rows
	// Nums is per row the first numeric value (NaN when none); nil when the
	// field never held a number in this block.
	Nums     []float64
	MultiNum bool     // some row holds several numbers: Nums alone is not exact
	Tokens   []string // sorted distinct words of text values
	Post     [][]uint16
}

// RowVal is an extra dictionary value of a row.
type RowVal struct {
	Row uint16
	ID  uint32
}

// Fields returns the block's field paths, sorted.
func (ix *BlockIndex) Fields() []string { return ix.names }

// Field returns a field's index, or nil when no row has it.
func (ix *BlockIndex) Field(path string) *FieldIndex { return ix.fields[path] }

// Present is the set of rows that have the field at all.
func (f *FieldIndex) Present(n int) Bits {
	b := NewBits(n)
	for r, id := range f.IDs {
		if id != noID {
			b.Set(r)
		}
	}
	return b
}

// MatchDict is the set of rows having a value for which pred is true.
func (f *FieldIndex) MatchDict(n int, pred func(string) bool) Bits {
	b := NewBits(n)
	hit := make([]bool, len(f.Dict))
	any := false
	for i, v := range f.Dict {
		if pred(v) {
			hit[i], any = true, true
		}
	}
	if !any {
		return b
	}
	f.markIDs(b, func(id uint32) bool { return hit[id] })
	return b
}

// Term is the set of rows having exactly value s.
func (f *FieldIndex) Term(n int, s string) Bits {
	b := NewBits(n)
	i := sort.SearchStrings(f.Dict, s)
	if i == len(f.Dict) || f.Dict[i] != s {
		return b
	}
	want := uint32(i)
	f.markIDs(b, func(id uint32) bool { return id == want })
	return b
}

func (f *FieldIndex) markIDs(b Bits, hit func(uint32) bool) {
	for r, id := range f.IDs {
		if id != noID && hit(id) {
			b.Set(r)
		}
	}
	for _, x := range f.Extra {
		if hit(x.ID) {
			b.Set(int(x.Row))
		}
	}
}

// NumMatch is the set of rows whose number satisfies pred. exact is false
// when multi-valued rows mean that only the first number was tested.
func (f *FieldIndex) NumMatch(n int, pred func(float64) bool) (b Bits, exact bool) {
	b = NewBits(n)
	for r, v := range f.Nums {
		if !math.IsNaN(v) && pred(v) {
			b.Set(r)
		}
	}
	if f.MultiNum {
		// A later array element may match: the rows with any number are candidates.
		for r, v := range f.Nums {
			if !math.IsNaN(v) {
				b.Set(r)
			}
		}
		return b, false
	}
	return b, true
}

// Token is the set of rows whose text contains the word tok (lower case).
func (f *FieldIndex) Token(n int, tok string) Bits {
	b := NewBits(n)
	i := sort.SearchStrings(f.Tokens, tok)
	if i < len(f.Tokens) && f.Tokens[i] == tok {
		for _, r := range f.Post[i] {
			b.Set(int(r))
		}
	}
	return b
}

// MatchTokens is the set of rows with a word for which pred is true.
func (f *FieldIndex) MatchTokens(n int, pred func(string) bool) Bits {
	b := NewBits(n)
	for i, t := range f.Tokens {
		if pred(t) {
			for _, r := range f.Post[i] {
				b.Set(int(r))
			}
		}
	}
	return b
}

// HasText says whether the field has tokenized text in this block.
func (f *FieldIndex) HasText() bool { return len(f.Tokens) > 0 }

// MaxFieldsPerBlock caps distinct field paths indexed per block (as
// Elasticsearch's total_fields limit caps a mapping): events with a million
// different keys would otherwise make a block index, and the heap, unbounded.
// Fields past the cap stay in the stored event; they are not searchable by
// name.
const MaxFieldsPerBlock = 1000

// blockBuilder accumulates rows and produces a BlockIndex.
type blockBuilder struct {
	ts       []int64
	fields   map[string]*fieldBuilder
	rejected int64
}

type fieldBuilder struct {
	vals     map[string]uint32 // value -> provisional id (insertion order)
	order    []string
	ids      []uint32
	extra    []RowVal
	nums     []float64
	multiNum bool
	toks     map[string][]uint16
}

func newBlockBuilder() *blockBuilder {
	return &blockBuilder{fields: map[string]*fieldBuilder{}}
}

func (bb *blockBuilder) add(tsMillis int64, fields []Field) {
	row := len(bb.ts)
	bb.ts = append(bb.ts, tsMillis)
	for i := range fields {
		f := &fields[i]
		if f.Kind == KindNull {
			continue // like Elasticsearch, null is "no value"
		}
		fb := bb.fields[f.Path]
		if fb == nil {
			if len(bb.fields) >= MaxFieldsPerBlock {
				bb.rejected++
				continue
			}
			fb = &fieldBuilder{vals: map[string]uint32{}}
			bb.fields[f.Path] = fb
		}
		fb.add(row, f)
	}
}

func (fb *fieldBuilder) add(row int, f *Field) {
	for len(fb.ids) <= row {
		fb.ids = append(fb.ids, noID)
	}
	s := validUTF8(f.Str)
	id, ok := fb.vals[s]
	if !ok {
		id = uint32(len(fb.order))
		fb.vals[s] = id
		fb.order = append(fb.order, s)
	}
	if fb.ids[row] == noID {
		fb.ids[row] = id
	} else if fb.ids[row] != id {
		fb.extra = append(fb.extra, RowVal{Row: uint16(row), ID: id})
	}
	if f.Kind == KindNumber {
		if fb.nums == nil {
			fb.nums = []float64{}
		}
		for len(fb.nums) <= row {
			fb.nums = append(fb.nums, math.NaN())
		}
		if math.IsNaN(fb.nums[row]) {
			fb.nums[row] = f.Num
		} else {
			fb.multiNum = true
		}
	}
	if f.Kind == KindString && IsText(f.Path, s) {
		if fb.toks == nil {
			fb.toks = map[string][]uint16{}
		}
		for _, t := range Tokens(s) {
			p := fb.toks[t]
			if len(p) == 0 || p[len(p)-1] != uint16(row) {
				fb.toks[t] = append(p, uint16(row))
			}
		}
	}
}

func (bb *blockBuilder) build() *BlockIndex {
	n := len(bb.ts)
	ix := &BlockIndex{N: n, TS: bb.ts, fields: make(map[string]*FieldIndex, len(bb.fields))}
	for path, fb := range bb.fields {
		fi := &FieldIndex{}
		// Sort the dictionary and remap the provisional ids.
		fi.Dict = append([]string(nil), fb.order...)
		sort.Strings(fi.Dict)
		remap := make([]uint32, len(fb.order))
		for newID, v := range fi.Dict {
			remap[fb.vals[v]] = uint32(newID)
		}
		fi.IDs = make([]uint32, n)
		for r := range fi.IDs {
			fi.IDs[r] = noID
			if r < len(fb.ids) && fb.ids[r] != noID {
				fi.IDs[r] = remap[fb.ids[r]]
			}
		}
		for _, x := range fb.extra {
			fi.Extra = append(fi.Extra, RowVal{Row: x.Row, ID: remap[x.ID]})
		}
		if fb.nums != nil {
			fi.Nums = make([]float64, n)
			for r := range fi.Nums {
				fi.Nums[r] = math.NaN()
				if r < len(fb.nums) {
					fi.Nums[r] = fb.nums[r]
				}
			}
			fi.MultiNum = fb.multiNum
		}
		if fb.toks != nil {
			fi.Tokens = sortedKeys(fb.toks)
			fi.Post = make([][]uint16, len(fi.Tokens))
			for i, t := range fi.Tokens {
				fi.Post[i] = fb.toks[t]
			}
		}
		ix.fields[path] = fi
		ix.names = append(ix.names, path)
	}
	sort.Strings(ix.names)
	return ix
}

// encode writes the index in a compact varint form; the caller compresses it.
func (ix *BlockIndex) encode(buf []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(ix.N))
	prev := int64(0)
	for _, t := range ix.TS {
		buf = binary.AppendVarint(buf, t-prev)
		prev = t
	}
	buf = binary.AppendUvarint(buf, uint64(len(ix.names)))
	for _, name := range ix.names {
		f := ix.fields[name]
		buf = appendString(buf, name)
		buf = binary.AppendUvarint(buf, uint64(len(f.Dict)))
		for _, v := range f.Dict {
			buf = appendString(buf, v)
		}
		for _, id := range f.IDs {
			buf = binary.AppendUvarint(buf, uint64(id+1)) // noID+1 wraps to 0
		}
		buf = binary.AppendUvarint(buf, uint64(len(f.Extra)))
		for _, x := range f.Extra {
			buf = binary.AppendUvarint(buf, uint64(x.Row))
			buf = binary.AppendUvarint(buf, uint64(x.ID))
		}
		flags := byte(0)
		if f.Nums != nil {
			flags |= 1
		}
		if f.MultiNum {
			flags |= 2
		}
		buf = append(buf, flags)
		if f.Nums != nil {
			// Presence bitmap then the present values, so that sparse
			// numeric fields cost little.
			for r := 0; r < ix.N; r += 8 {
				var m byte
				for j := 0; j < 8 && r+j < ix.N; j++ {
					if !math.IsNaN(f.Nums[r+j]) {
						m |= 1 << uint(j)
					}
				}
				buf = append(buf, m)
			}
			for _, v := range f.Nums {
				if !math.IsNaN(v) {
					buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
				}
			}
		}
		buf = binary.AppendUvarint(buf, uint64(len(f.Tokens)))
		for i, t := range f.Tokens {
			buf = appendString(buf, t)
			buf = binary.AppendUvarint(buf, uint64(len(f.Post[i])))
			last := uint16(0)
			for _, r := range f.Post[i] {
				buf = binary.AppendUvarint(buf, uint64(r-last))
				last = r
			}
		}
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

var errCorrupt = errors.New("corrupt block index")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes(int(r.uvarint()))) }

// count reads a length and checks it against what the remaining bytes could hold.
func (r *reader) count(minBytesEach int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/max(minBytesEach, 1)+1) {
		r.err = errCorrupt
		return 0
	}
	return int(v)
}

func decodeBlockIndex(b []byte) (*BlockIndex, error) {
	r := &reader{b: b}
	n := r.count(1)
	if n > BlockSize {
		return nil, fmt.Errorf("%w: %d rows", errCorrupt, n)
	}
	ix := &BlockIndex{N: n, TS: make([]int64, n), fields: map[string]*FieldIndex{}}
	prev := int64(0)
	for i := range ix.TS {
		prev += r.varint()
		ix.TS[i] = prev
	}
	nf := r.count(2)
	for k := 0; k < nf && r.err == nil; k++ {
		name := r.string()
		f := &FieldIndex{}
		nd := r.count(1)
		f.Dict = make([]string, nd)
		for i := range f.Dict {
			f.Dict[i] = r.string()
		}
		f.IDs = make([]uint32, n)
		for i := range f.IDs {
			v := r.uvarint()
			if v > uint64(nd) {
				r.err = errCorrupt
			}
			f.IDs[i] = uint32(v) - 1
		}
		ne := r.count(2)
		for i := 0; i < ne && r.err == nil; i++ {
			row, id := r.uvarint(), r.uvarint()
			if row >= uint64(n) || id >= uint64(nd) {
				r.err = errCorrupt
				break
			}
			f.Extra = append(f.Extra, RowVal{Row: uint16(row), ID: uint32(id)})
		}
		flags := r.bytes(1)
		if r.err != nil {
			break
		}
		f.MultiNum = flags[0]&2 != 0
		if flags[0]&1 != 0 {
			mask := r.bytes((n + 7) / 8)
			f.Nums = make([]float64, n)
			for i := range f.Nums {
				f.Nums[i] = math.NaN()
				if r.err == nil && mask[i/8]&(1<<uint(i%8)) != 0 {
					if v := r.bytes(8); v != nil {
						f.Nums[i] = math.Float64frombits(binary.LittleEndian.Uint64(v))
					}
				}
			}
		}
		nt := r.count(2)
		f.Tokens = make([]string, nt)
		f.Post = make([][]uint16, nt)
		for i := 0; i < nt && r.err == nil; i++ {
			f.Tokens[i] = r.string()
			np := r.count(1)
			p := make([]uint16, np)
			last := uint64(0)
			for j := range p {
				last += r.uvarint()
				if last >= uint64(n) {
					r.err = errCorrupt
					break
				}
				p[j] = uint16(last)
			}
			f.Post[i] = p
		}
		ix.fields[name] = f
		ix.names = append(ix.names, name)
	}
	if r.err != nil {
		return nil, r.err
	}
	sort.Strings(ix.names)
	return ix, nil
}
