package traces

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// A trace index run (traces-FROM-TO.idx) maps trace ids to the blocks
// [FROM, TO) of a partition that hold their spans: every (trace id low 64
// bits, block number) pair, sorted. A lookup binary-searches a sparse set
// of fences kept in memory (one per fenceEvery entries) and reads one
// small range of the file. The newest blocks of a partition are in an
// exact in-memory map until there are enough of them for a run; runs are
// merged into one when there are more than a few, so finding a trace costs
// a map lookup and one read per run, whatever the partition holds.
//
//	header: magic "OTRI" | version u8 | 3 reserved | from u32 | to u32 | n u32 | crc32c(entries) u32 | crc32c(header[0:24]) u32
//	entries: n × (trace low u64 | block u32)
const (
	idxHeaderSize = 28
	idxEntrySize  = 12
	fenceEvery    = 128
	idxVersion    = 1
)

var idxMagic = [4]byte{'O', 'T', 'R', 'I'}

type idxPair struct {
	lo    uint64
	block uint32
}

type traceIndex struct {
	f        *os.File
	path     string
	from, to int // the blocks it covers: [from, to)
	n        int
	fences   []uint64
}

func runName(from, to int) string { return fmt.Sprintf("traces-%08d-%08d.idx", from, to) }

func (ix *traceIndex) memBytes() int { return 64 + 8*len(ix.fences) }

var errBadIndex = errors.New("bad trace index")

func putIndexHeader(h []byte, from, to, n int, crc uint32) {
	copy(h, idxMagic[:])
	h[4] = idxVersion
	binary.LittleEndian.PutUint32(h[8:], uint32(from))
	binary.LittleEndian.PutUint32(h[12:], uint32(to))
	binary.LittleEndian.PutUint32(h[16:], uint32(n))
	binary.LittleEndian.PutUint32(h[20:], crc)
	binary.LittleEndian.PutUint32(h[24:], crc32.Checksum(h[:24], crcTable))
}

// writeRunFile writes a run from pairs in order (next returns false at
// the end; repeats are dropped), streaming: a merge of runs holds a few
// buffers, not the partition's index. Temp file, fsync, rename.
func writeRunFile(path string, from, to int, next func() (idxPair, bool)) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	var hdr [idxHeaderSize]byte
	w.Write(hdr[:])
	var crc uint32
	var e [idxEntrySize]byte
	n := 0
	var prev idxPair
	for p, ok := next(); ok; p, ok = next() {
		if n > 0 && p == prev {
			continue
		}
		prev = p
		binary.LittleEndian.PutUint64(e[:], p.lo)
		binary.LittleEndian.PutUint32(e[8:], p.block)
		crc = crc32.Update(crc, crcTable, e[:])
		if _, err := w.Write(e[:]); err != nil {
			return fail(err)
		}
		n++
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	putIndexHeader(hdr[:], from, to, n, crc)
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// openTraceIndex checks a run (header, entries' crc) and collects its
// fences in one streaming pass. A bad run is reported so the caller can
// rebuild it from the blocks (it is derived data).
func openTraceIndex(path string) (*traceIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	ix, err := checkRun(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return ix, nil
}

func checkRun(f *os.File, path string) (*traceIndex, error) {
	var h [idxHeaderSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || [4]byte(h[:4]) != idxMagic || binary.LittleEndian.Uint32(h[24:]) != crc32.Checksum(h[:24], crcTable) {
		return nil, errBadIndex
	}
	if h[4] != idxVersion {
		return nil, fmt.Errorf("trace index version %d: this obs reads version %d", h[4], idxVersion)
	}
	n := int(binary.LittleEndian.Uint32(h[16:]))
	if st, err := f.Stat(); err != nil || st.Size() != idxHeaderSize+int64(n)*idxEntrySize {
		return nil, errBadIndex
	}
	ix := &traceIndex{f: f, path: path, from: int(binary.LittleEndian.Uint32(h[8:])), to: int(binary.LittleEndian.Uint32(h[12:])), n: n}
	rr := ix.reader()
	var crc uint32
	for i := 0; rr.next(); i++ {
		crc = crc32.Update(crc, crcTable, rr.raw[:])
		if i%fenceEvery == 0 {
			ix.fences = append(ix.fences, rr.cur.lo)
		}
	}
	if rr.err != nil || crc != binary.LittleEndian.Uint32(h[20:]) {
		return nil, errBadIndex
	}
	return ix, nil
}

// runReader streams a run's entries in order.
type runReader struct {
	r    *bufio.Reader
	left int
	raw  [idxEntrySize]byte
	cur  idxPair
	err  error
}

func (ix *traceIndex) reader() *runReader {
	return &runReader{r: bufio.NewReaderSize(io.NewSectionReader(ix.f, idxHeaderSize, int64(ix.n)*idxEntrySize), 32<<10), left: ix.n}
}

func (rr *runReader) next() bool {
	if rr.left == 0 || rr.err != nil {
		return false
	}
	if _, rr.err = io.ReadFull(rr.r, rr.raw[:]); rr.err != nil {
		return false
	}
	rr.left--
	rr.cur = idxPair{binary.LittleEndian.Uint64(rr.raw[:]), binary.LittleEndian.Uint32(rr.raw[8:])}
	return true
}

func lessPair(a, b idxPair) bool { return a.lo < b.lo || a.lo == b.lo && a.block < b.block }

// mergeReaders yields the entries of sorted runs in order.
func mergeReaders(rs []*runReader) (func() (idxPair, bool), func() error) {
	live := make([]bool, len(rs))
	for i, r := range rs {
		live[i] = r.next()
	}
	next := func() (idxPair, bool) {
		best := -1
		for i, r := range rs {
			if live[i] && (best < 0 || lessPair(r.cur, rs[best].cur)) {
				best = i
			}
		}
		if best < 0 {
			return idxPair{}, false
		}
		p := rs[best].cur
		live[best] = rs[best].next()
		return p, true
	}
	errf := func() error {
		for _, r := range rs {
			if r.err != nil {
				return fmt.Errorf("read trace index: %w", r.err)
			}
		}
		return nil
	}
	return next, errf
}

// lookup appends the blocks that hold spans of trace lo.
func (ix *traceIndex) lookup(lo uint64, out []int) ([]int, error) {
	j := sort.Search(len(ix.fences), func(i int) bool { return ix.fences[i] >= lo })
	start := max(0, j-1) * fenceEvery
	buf := make([]byte, fenceEvery*idxEntrySize)
	for start < ix.n {
		cnt := min(fenceEvery, ix.n-start)
		b := buf[:cnt*idxEntrySize]
		if _, err := ix.f.ReadAt(b, idxHeaderSize+int64(start)*idxEntrySize); err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("read trace index: %w", err)
		}
		for i := 0; i < cnt; i++ {
			k := binary.LittleEndian.Uint64(b[i*idxEntrySize:])
			if k > lo {
				return out, nil
			}
			if k == lo {
				out = append(out, int(binary.LittleEndian.Uint32(b[i*idxEntrySize+8:])))
			}
		}
		start += cnt
	}
	return out, nil
}

func (ix *traceIndex) close() error { return ix.f.Close() }

func sortPairs(p []idxPair) []idxPair {
	slices.SortFunc(p, func(a, b idxPair) int {
		if a.lo != b.lo {
			if a.lo < b.lo {
				return -1
			}
			return 1
		}
		return int(a.block) - int(b.block)
	})
	return slices.Compact(p)
}
