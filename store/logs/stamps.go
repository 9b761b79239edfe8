package logs

import (
	"encoding/binary"
	"fmt"
)

// stamps are a block's row timestamps (unix ms) as they sit in the block
// cache. A query over the last hour keeps every block's meta of that hour
// in the cache, and 8-byte times were two thirds of it; 4-byte offsets
// from the block's earliest row still left the metas growing the cache
// into the second half of the soak. Rows arrive roughly in time order, so
// the difference from the previous row is a one- or two-byte varint:
// times are kept as those differences (as the block stores them on disk),
// with the absolute time of every stampStride-th row so that any row is
// at most stampStride-1 differences away. A block of 2,000 rows at a busy
// dev box's rate takes about 2.5 KB instead of 8.
type stamps struct {
	n      int
	lo, hi int64    // the earliest and latest row
	enc    []byte   // row i > 0: zigzag varint of t[i]-t[i-1] (wrapping)
	marks  []int64  // time of row k*stampStride
	offs   []uint32 // where row k*stampStride+1's difference starts in enc
}

const stampStride = 32

func newStamps(ts []int64) stamps {
	s := stamps{n: len(ts), enc: make([]byte, 0, len(ts)+len(ts)/4)}
	nm := (len(ts) + stampStride - 1) / stampStride
	s.marks, s.offs = make([]int64, 0, nm), make([]uint32, 0, nm)
	for i, t := range ts {
		if i == 0 {
			s.lo, s.hi = t, t
		}
		s.lo, s.hi = min(s.lo, t), max(s.hi, t)
		if i > 0 {
			s.enc = binary.AppendVarint(s.enc, t-ts[i-1])
		}
		if i%stampStride == 0 {
			s.marks = append(s.marks, t)
			s.offs = append(s.offs, uint32(len(s.enc)))
		}
	}
	if cap(s.enc) > len(s.enc)+len(s.enc)/8 {
		s.enc = append([]byte(nil), s.enc...) // the cache counts len, so hold no more
	}
	return s
}

// readRows reads a meta's row count, which its row times follow.
func readRows(r *reader) (int, error) {
	n := r.count(1)
	if r.err != nil || n == 0 || n > BlockSize {
		return 0, fmt.Errorf("%w: %d rows", errCorrupt, n)
	}
	return n, nil
}

// readStamps reads a meta's n row times (varint differences from the
// previous row, the first from zero); without keep it keeps only the
// earliest and the latest (a meta cached without its row times).
func readStamps(r *reader, n int, keep bool) stamps {
	var ts []int64
	if keep {
		ts = make([]int64, n)
	}
	s := stamps{n: n}
	prev := int64(0)
	for i := range n {
		prev += r.varint()
		if keep {
			ts[i] = prev
		}
		if i == 0 {
			s.lo, s.hi = prev, prev
		}
		s.lo, s.hi = min(s.lo, prev), max(s.hi, prev)
	}
	if keep {
		return newStamps(ts)
	}
	return s
}

// decodeStamps reads only the row times at the head of a decompressed meta.
func decodeStamps(b []byte) (*stamps, error) {
	r := &reader{b: b}
	n, err := readRows(r)
	if err != nil {
		return nil, err
	}
	s := readStamps(r, n, true)
	if r.err != nil {
		return nil, r.err
	}
	return &s, nil
}

func (s *stamps) len() int { return s.n }

// at is row i's time. A loop over many rows uses a stampCursor instead.
func (s *stamps) at(i int) int64 {
	c := stampCursor{s: s, row: -1}
	return c.at(i)
}

// all returns the times as a new slice.
func (s *stamps) all() []int64 {
	out := make([]int64, s.n)
	c := s.cursor()
	for i := range out {
		out[i] = c.at(i)
	}
	return out
}

// size is what the stamps hold in memory.
func (s *stamps) size() int64 { return int64(len(s.enc)+len(s.marks)*8+len(s.offs)*4) + 88 }

func (s *stamps) cursor() stampCursor { return stampCursor{s: s, row: -1} }

// stampCursor reads rows in rising order at the cost of one difference
// each; going back, or past the next mark, restarts from a mark. It is
// one caller's, never shared: blocks are read by many queries at once.
type stampCursor struct {
	s   *stamps
	row int // the row t is the time of; -1 before the first
	t   int64
	p   int // where row+1's difference starts
}

func (c *stampCursor) at(i int) int64 {
	if i == c.row {
		return c.t
	}
	if k := i / stampStride; i < c.row || c.row < 0 || k > c.row/stampStride {
		c.row, c.t, c.p = k*stampStride, c.s.marks[k], int(c.s.offs[k])
	}
	for c.row < i {
		d, w := binary.Varint(c.s.enc[c.p:])
		c.p += w
		c.t += d
		c.row++
	}
	return c.t
}
