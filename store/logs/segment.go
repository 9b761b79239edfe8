package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// BlockSize is the most events one block holds. 2,000 keeps a block's index
// small enough to decode in well under a millisecond while giving zstd
// enough similar events to reach ~10 bytes per event.
const BlockSize = 2000

// A segment file is a sequence of blocks, each:
//
//	magic "OBSB" | seq u32 | n u32 | minTS i64 | maxTS i64 | rawLen u32 | idxLen u32 | crc32 u32
//	raw (zstd: uvarint-length-prefixed event JSON) | idx (zstd: encoded BlockIndex)
//
// The crc covers both payloads, so a block torn by a crash is detected and
// cut off when the segment is opened.
const blockHeaderSize = 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4

var blockMagic = [4]byte{'O', 'B', 'S', 'B'}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// blockMeta locates a block in its segment file.
type blockMeta struct {
	Seq          uint32
	N            int
	MinTS, MaxTS int64 // unix ms
	Off          int64 // offset of the raw payload
	RawLen       int
	IdxLen       int
	CRC          uint32
}

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
)

// encodeBlock compresses a block's events and index, returning header+payload.
func encodeBlock(seq uint32, entries []Entry, ix *BlockIndex) ([]byte, blockMeta) {
	var raw []byte
	for _, e := range entries {
		raw = appendString(raw, string(e.Raw))
	}
	rawZ := zenc.EncodeAll(raw, nil)
	idxZ := zenc.EncodeAll(ix.encode(nil), nil)
	m := blockMeta{Seq: seq, N: len(entries), RawLen: len(rawZ), IdxLen: len(idxZ)}
	m.CRC = crc32.Update(crc32.Checksum(rawZ, crcTable), crcTable, idxZ)
	m.MinTS, m.MaxTS = ix.TS[0], ix.TS[0]
	for _, t := range ix.TS {
		m.MinTS, m.MaxTS = min(m.MinTS, t), max(m.MaxTS, t)
	}
	out := make([]byte, blockHeaderSize, blockHeaderSize+len(rawZ)+len(idxZ))
	copy(out, blockMagic[:])
	binary.LittleEndian.PutUint32(out[4:], seq)
	binary.LittleEndian.PutUint32(out[8:], uint32(m.N))
	binary.LittleEndian.PutUint64(out[12:], uint64(m.MinTS))
	binary.LittleEndian.PutUint64(out[20:], uint64(m.MaxTS))
	binary.LittleEndian.PutUint32(out[28:], uint32(len(rawZ)))
	binary.LittleEndian.PutUint32(out[32:], uint32(len(idxZ)))
	binary.LittleEndian.PutUint32(out[36:], m.CRC)
	out = append(out, rawZ...)
	out = append(out, idxZ...)
	return out, m
}

// scanResult is what scanSegment found.
type scanResult struct {
	blocks []blockMeta
	// end is where valid data ends: anything after it is a block torn by
	// a crash, to be cut off (its events are still in the WAL).
	end int64
	// damaged lists byte ranges skipped between valid blocks: a block
	// damaged in place (not a torn tail), whose events are lost.
	damaged [][2]int64
}

// scanSegment reads the block headers of f. Only headers are read for the
// blocks it can step over (cheap at start-up, whatever the partition's
// size; zstd's own checksum catches a damaged payload when it is read); the
// last block's payload is checked in full, since a crash tears the tail.
// An unreadable header in the middle is skipped by looking for the next
// block whose header and checksum are good.
func scanSegment(f *os.File) (scanResult, error) {
	var res scanResult
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat segment: %w", err)
	}
	size := st.Size()
	var off int64
	for off < size {
		m, ok, err := readHeader(f, off, size)
		if err != nil {
			return res, err
		}
		if ok && m.Off+int64(m.RawLen+m.IdxLen) == size {
			// The last block: a crash may have torn its payload.
			ok = payloadOK(f, m)
		}
		if !ok {
			next, found := resync(f, off+1, size)
			if !found {
				break // a torn tail
			}
			res.damaged = append(res.damaged, [2]int64{off, next})
			off = next
			continue
		}
		res.blocks = append(res.blocks, m)
		off = m.Off + int64(m.RawLen+m.IdxLen)
	}
	res.end = off
	return res, nil
}

// readHeader decodes the block header at off; ok is false when it is not a
// plausible header.
func readHeader(f *os.File, off, size int64) (blockMeta, bool, error) {
	hdr := make([]byte, blockHeaderSize)
	if _, err := f.ReadAt(hdr, off); err != nil {
		if errors.Is(err, io.EOF) {
			return blockMeta{}, false, nil
		}
		return blockMeta{}, false, fmt.Errorf("read block header at %d: %w", off, err)
	}
	if [4]byte(hdr[:4]) != blockMagic {
		return blockMeta{}, false, nil
	}
	m := blockMeta{
		Seq:    binary.LittleEndian.Uint32(hdr[4:]),
		N:      int(binary.LittleEndian.Uint32(hdr[8:])),
		MinTS:  int64(binary.LittleEndian.Uint64(hdr[12:])),
		MaxTS:  int64(binary.LittleEndian.Uint64(hdr[20:])),
		RawLen: int(binary.LittleEndian.Uint32(hdr[28:])),
		IdxLen: int(binary.LittleEndian.Uint32(hdr[32:])),
		CRC:    binary.LittleEndian.Uint32(hdr[36:]),
		Off:    off + blockHeaderSize,
	}
	if m.N <= 0 || m.N > BlockSize || m.RawLen < 0 || m.IdxLen < 0 || m.Off+int64(m.RawLen+m.IdxLen) > size || m.MinTS > m.MaxTS {
		return blockMeta{}, false, nil
	}
	return m, true, nil
}

// payloadOK checks a block's payload against its header's checksum.
func payloadOK(f *os.File, m blockMeta) bool {
	payload := make([]byte, m.RawLen+m.IdxLen)
	if _, err := f.ReadAt(payload, m.Off); err != nil {
		return false
	}
	return crc32.Checksum(payload, crcTable) == m.CRC
}

// resync finds the next offset from off holding a block whose header and
// payload checksum are good.
func resync(f *os.File, off, size int64) (int64, bool) {
	buf := make([]byte, 1<<20)
	for off < size {
		n, _ := f.ReadAt(buf, off)
		if n <= 0 {
			return 0, false
		}
		for i := 0; i+4 <= n; {
			k := bytes.Index(buf[i:n], blockMagic[:])
			if k < 0 {
				break
			}
			at := off + int64(i+k)
			if m, ok, _ := readHeader(f, at, size); ok && payloadOK(f, m) {
				return at, true
			}
			i += k + 1
		}
		if n < 4 {
			return 0, false
		}
		off += int64(n - 3) // a magic may straddle two reads
	}
	return 0, false
}

func readBlockIndex(f *os.File, m blockMeta) (*BlockIndex, error) {
	z := make([]byte, m.IdxLen)
	if _, err := f.ReadAt(z, m.Off+int64(m.RawLen)); err != nil {
		return nil, fmt.Errorf("read index of block %d: %w", m.Seq, err)
	}
	b, err := zdec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress index of block %d: %w", m.Seq, err)
	}
	ix, err := decodeBlockIndex(b)
	if err != nil {
		return nil, fmt.Errorf("decode index of block %d: %w", m.Seq, err)
	}
	return ix, nil
}

// readBlockRaw returns the events of a block, in row order.
func readBlockRaw(f *os.File, m blockMeta) ([][]byte, error) {
	z := make([]byte, m.RawLen)
	if _, err := f.ReadAt(z, m.Off); err != nil {
		return nil, fmt.Errorf("read events of block %d: %w", m.Seq, err)
	}
	b, err := zdec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress events of block %d: %w", m.Seq, err)
	}
	r := &reader{b: b}
	out := make([][]byte, 0, m.N)
	for i := 0; i < m.N; i++ {
		out = append(out, r.bytes(int(r.uvarint())))
	}
	if r.err != nil {
		return nil, fmt.Errorf("block %d: %w", m.Seq, r.err)
	}
	return out, nil
}
