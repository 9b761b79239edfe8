package logs

import (
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
	crc := crc32.Update(crc32.Checksum(rawZ, crcTable), crcTable, idxZ)
	binary.LittleEndian.PutUint32(out[36:], crc)
	out = append(out, rawZ...)
	out = append(out, idxZ...)
	return out, m
}

// scanSegment reads every block header of f and verifies each payload's crc.
// It returns the valid blocks and the offset where valid data ends; anything
// after that offset is a torn write.
func scanSegment(f *os.File) ([]blockMeta, int64, error) {
	var metas []blockMeta
	var off int64
	hdr := make([]byte, blockHeaderSize)
	for {
		if _, err := f.ReadAt(hdr, off); err != nil {
			if errors.Is(err, io.EOF) {
				return metas, off, nil
			}
			return metas, off, fmt.Errorf("read block header at %d: %w", off, err)
		}
		if [4]byte(hdr[:4]) != blockMagic {
			return metas, off, nil
		}
		m := blockMeta{
			Seq:    binary.LittleEndian.Uint32(hdr[4:]),
			N:      int(binary.LittleEndian.Uint32(hdr[8:])),
			MinTS:  int64(binary.LittleEndian.Uint64(hdr[12:])),
			MaxTS:  int64(binary.LittleEndian.Uint64(hdr[20:])),
			RawLen: int(binary.LittleEndian.Uint32(hdr[28:])),
			IdxLen: int(binary.LittleEndian.Uint32(hdr[32:])),
			Off:    off + blockHeaderSize,
		}
		if m.N <= 0 || m.N > BlockSize || m.RawLen < 0 || m.IdxLen < 0 {
			return metas, off, nil
		}
		payload := make([]byte, m.RawLen+m.IdxLen)
		if _, err := f.ReadAt(payload, m.Off); err != nil {
			return metas, off, nil // torn tail
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[36:]) {
			return metas, off, nil
		}
		metas = append(metas, m)
		off = m.Off + int64(m.RawLen+m.IdxLen)
	}
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
