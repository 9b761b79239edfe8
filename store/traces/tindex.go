package traces

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
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

func encodeIndex(from, to int, pairs []idxPair) []byte {
	out := make([]byte, idxHeaderSize, idxHeaderSize+len(pairs)*idxEntrySize)
	for _, p := range pairs {
		out = binary.LittleEndian.AppendUint64(out, p.lo)
		out = binary.LittleEndian.AppendUint32(out, p.block)
	}
	copy(out, idxMagic[:])
	out[4] = idxVersion
	binary.LittleEndian.PutUint32(out[8:], uint32(from))
	binary.LittleEndian.PutUint32(out[12:], uint32(to))
	binary.LittleEndian.PutUint32(out[16:], uint32(len(pairs)))
	binary.LittleEndian.PutUint32(out[20:], crc32.Checksum(out[idxHeaderSize:], crcTable))
	binary.LittleEndian.PutUint32(out[24:], crc32.Checksum(out[:24], crcTable))
	return out
}

var errBadIndex = errors.New("bad trace index")

// openTraceIndex reads and checks an index file. A bad one is reported so
// the caller can rebuild it from the blocks (it is derived data).
func openTraceIndex(path string) (*traceIndex, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < idxHeaderSize || [4]byte(b[:4]) != idxMagic || binary.LittleEndian.Uint32(b[24:]) != crc32.Checksum(b[:24], crcTable) {
		return nil, errBadIndex
	}
	if b[4] != idxVersion {
		return nil, fmt.Errorf("trace index version %d: this obs reads version %d", b[4], idxVersion)
	}
	n := int(binary.LittleEndian.Uint32(b[16:]))
	if len(b) != idxHeaderSize+n*idxEntrySize || crc32.Checksum(b[idxHeaderSize:], crcTable) != binary.LittleEndian.Uint32(b[20:]) {
		return nil, errBadIndex
	}
	ix := &traceIndex{path: path, from: int(binary.LittleEndian.Uint32(b[8:])), to: int(binary.LittleEndian.Uint32(b[12:])), n: n}
	for i := 0; i < n; i += fenceEvery {
		ix.fences = append(ix.fences, binary.LittleEndian.Uint64(b[idxHeaderSize+i*idxEntrySize:]))
	}
	if ix.f, err = os.Open(path); err != nil {
		return nil, err
	}
	return ix, nil
}

// pairs reads every entry (compaction merges them with new blocks).
func (ix *traceIndex) pairs() ([]idxPair, error) {
	b := make([]byte, ix.n*idxEntrySize)
	if _, err := ix.f.ReadAt(b, idxHeaderSize); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read trace index: %w", err)
	}
	out := make([]idxPair, ix.n)
	for i := range out {
		out[i] = idxPair{binary.LittleEndian.Uint64(b[i*idxEntrySize:]), binary.LittleEndian.Uint32(b[i*idxEntrySize+8:])}
	}
	return out, nil
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
