package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"unique"
)

// Version 1 blocks (obs-logs 1) kept rows: the events' JSON, zstd, and a
// columnar index with per-field dictionaries and token postings. This obs
// reads them and never writes them: a v1 block is turned into the v2 form
// (shapes and columns) in memory when a query first needs it, from its
// events and the timestamps of its index, so that one evaluator serves
// both and the block's bytes on disk stay as the previous obs left them.

// readV1Block returns a v1 block's row timestamps and events.
func readV1Block(f *os.File, cd *codec, m blockMeta) ([]int64, [][]byte, error) {
	z := make([]byte, m.IdxLen)
	if _, err := f.ReadAt(z, m.Off+int64(m.RawLen)); err != nil {
		return nil, nil, fmt.Errorf("read index of block %d: %w", m.Seq, err)
	}
	b, err := cd.dec.DecodeAll(z, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("decompress index of block %d: %w", m.Seq, err)
	}
	ts, err := decodeV1Index(b)
	if err != nil {
		return nil, nil, fmt.Errorf("decode index of block %d: %w", m.Seq, err)
	}
	z = make([]byte, m.RawLen)
	if _, err := f.ReadAt(z, m.Off); err != nil {
		return nil, nil, fmt.Errorf("read events of block %d: %w", m.Seq, err)
	}
	b, err = cd.dec.DecodeAll(z, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("decompress events of block %d: %w", m.Seq, err)
	}
	r := &reader{b: b}
	raws := make([][]byte, 0, m.N)
	for i := 0; i < m.N; i++ {
		raws = append(raws, r.bytes(int(r.uvarint())))
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("block %d: %w", m.Seq, r.err)
	}
	if len(ts) != m.N {
		return nil, nil, fmt.Errorf("block %d: header says %d events, index %d rows: %w", m.Seq, m.N, len(ts), errCorrupt)
	}
	return ts, raws, nil
}

// buildV1 turns a v1 block into the v2 form.
func buildV1(ts []int64, raws [][]byte) *builtBlock {
	bb := newBlockBuilder()
	for i, raw := range raws {
		bb.add(ts[i], raw)
	}
	return bb.build()
}

// decodeV1Index reads a v1 block index, checking all of it, and returns
// the row timestamps (all a v2 block needs from it).
func decodeV1Index(b []byte) ([]int64, error) {
	r := &reader{b: b}
	n := r.count(1)
	if n > BlockSize {
		return nil, fmt.Errorf("%w: %d rows", errCorrupt, n)
	}
	ts := make([]int64, n)
	prev := int64(0)
	for i := range ts {
		prev += r.varint()
		ts[i] = prev
	}
	nf := r.count(2)
	for k := 0; k < nf && r.err == nil; k++ {
		r.string() // path
		nd := r.count(1)
		for i := 0; i < nd; i++ {
			r.string()
		}
		for i := 0; i < n; i++ {
			if r.uvarint() > uint64(nd) {
				r.err = errCorrupt
			}
		}
		ne := r.count(2)
		for i := 0; i < ne && r.err == nil; i++ {
			if row, id := r.uvarint(), r.uvarint(); row >= uint64(n) || id >= uint64(nd) {
				r.err = errCorrupt
			}
		}
		flags := r.bytes(1)
		if r.err != nil {
			break
		}
		if flags[0]&1 != 0 {
			mask := r.bytes((n + 7) / 8)
			for i := 0; i < n && r.err == nil; i++ {
				if mask[i/8]&(1<<uint(i%8)) != 0 {
					r.bytes(8)
				}
			}
		}
		nt := r.count(2)
		for i := 0; i < nt && r.err == nil; i++ {
			r.string()
			np := r.count(1)
			last := uint64(0)
			for j := 0; j < np; j++ {
				last += r.uvarint()
				if last >= uint64(n) {
					r.err = errCorrupt
					break
				}
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return ts, nil
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

var errCorrupt = errors.New("corrupt block")

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

// interned reads a string that many blocks repeat (a column's path, a
// dictionary value) as one shared copy: the block cache holds the metas
// of every block a query window touches (1,800 an hour at 1,000 events/s),
// and their own copies of "severity" and "info" were a fifth of a meta
// (measured in the soak). unique drops a copy once no meta holds it.
func (r *reader) interned() string {
	b := r.bytes(int(r.uvarint()))
	return unique.Make(string(b)).Value()
}

// count reads a length and checks it against what the remaining bytes could hold.
func (r *reader) count(minBytesEach int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/max(minBytesEach, 1)+1) {
		r.err = errCorrupt
		return 0
	}
	return int(v)
}
