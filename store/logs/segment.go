package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// BlockSize is the most events one block holds. 2,000 keeps a block's index
// small enough to decode in well under a millisecond while giving zstd
// enough similar events to reach ~10 bytes per event.
const BlockSize = 2000

// A segment file is a sequence of blocks, each:
//
//	magic | seq u32 | n u32 | minTS i64 | maxTS i64 | aLen u32 | bLen u32 | crc32 u32
//	a payload | b payload
//
// Version 2 blocks (magic "OBS2", written by this obs) are columnar: a is
// the meta, b the column data and bloom filters (codec.go). Version 1
// blocks (magic "OBSB", obs-logs 1) hold rows: a is zstd of the
// uvarint-length-prefixed event JSON, b a zstd columnar index (v1.go); they
// are read, never written. Both versions may share a segment: a day begun
// by the previous obs goes on with v2 blocks.
//
// The crc covers both payloads, so a block torn by a crash is detected and
// cut off when the segment is opened.
const blockHeaderSize = 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4

var (
	blockMagic   = [4]byte{'O', 'B', 'S', 'B'}
	blockMagicV2 = [4]byte{'O', 'B', 'S', '2'}
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// blockMeta locates a block in its segment file.
type blockMeta struct {
	Seq          uint32
	Ver          uint8 // 1 or 2
	N            int
	MinTS, MaxTS int64 // unix ms
	Off          int64 // offset of the first payload
	RawLen       int   // v1: the events; v2: the meta
	IdxLen       int   // v1: the index; v2: the column data
	CRC          uint32
}

// encodeBlock encodes a built block (v2), returning header+payload.
func encodeBlock(cd *codec, seq uint32, b *builtBlock) ([]byte, blockMeta) {
	metaZ, data := cd.encode(b)
	m := blockMeta{Seq: seq, Ver: 2, N: b.meta.n, RawLen: len(metaZ), IdxLen: len(data)}
	m.CRC = crc32.Update(crc32.Checksum(metaZ, crcTable), crcTable, data)
	m.MinTS, m.MaxTS = b.meta.ts.lo, b.meta.ts.hi
	out := make([]byte, blockHeaderSize, blockHeaderSize+len(metaZ)+len(data))
	copy(out, blockMagicV2[:])
	binary.LittleEndian.PutUint32(out[4:], seq)
	binary.LittleEndian.PutUint32(out[8:], uint32(m.N))
	binary.LittleEndian.PutUint64(out[12:], uint64(m.MinTS))
	binary.LittleEndian.PutUint64(out[20:], uint64(m.MaxTS))
	binary.LittleEndian.PutUint32(out[28:], uint32(len(metaZ)))
	binary.LittleEndian.PutUint32(out[32:], uint32(len(data)))
	binary.LittleEndian.PutUint32(out[36:], m.CRC)
	out = append(out, metaZ...)
	out = append(out, data...)
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
	ver := uint8(0)
	switch [4]byte(hdr[:4]) {
	case blockMagic:
		ver = 1
	case blockMagicV2:
		ver = 2
	default:
		return blockMeta{}, false, nil
	}
	m := blockMeta{
		Ver:    ver,
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
			k := indexMagic(buf[i:n])
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

// indexMagic finds the first block magic of either version.
func indexMagic(b []byte) int {
	for i := 0; i+4 <= len(b); {
		k := bytes.Index(b[i:], []byte("OBS"))
		if k < 0 {
			return -1
		}
		if at := i + k; at+4 <= len(b) && (b[at+3] == 'B' || b[at+3] == '2') {
			return at
		}
		i += k + 1
	}
	return -1
}

// readMeta reads and decodes a v2 block's meta.
func readMeta(f *os.File, cd *codec, m blockMeta) (*blockMetaV2, error) {
	return readMetaTS(f, cd, m, true)
}

// readMetaTS reads a v2 block's meta, with its row times or without them
// (decodeMetaTS).
func readMetaTS(f *os.File, cd *codec, m blockMeta, withStamps bool) (*blockMetaV2, error) {
	b, err := readMetaBytes(f, cd, m)
	if err != nil {
		return nil, err
	}
	bm, err := decodeMetaTS(b, m.IdxLen, withStamps)
	if err != nil {
		return nil, fmt.Errorf("decode meta of block %d: %w", m.Seq, err)
	}
	if bm.n != m.N {
		return nil, fmt.Errorf("block %d: header says %d events, meta %d: %w", m.Seq, m.N, bm.n, errCorrupt)
	}
	return bm, nil
}

// readMetaBytes reads and decompresses a v2 block's meta.
func readMetaBytes(f *os.File, cd *codec, m blockMeta) ([]byte, error) {
	z := make([]byte, m.RawLen)
	if _, err := f.ReadAt(z, m.Off); err != nil {
		return nil, fmt.Errorf("read meta of block %d: %w", m.Seq, err)
	}
	b, err := cd.dec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress meta of block %d: %w", m.Seq, err)
	}
	return b, nil
}
