package logs

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/zstd"
)

// A v2 block's payload (after the segment's block header, see segment.go):
//
//	meta: zstd of
//	  uvarint n | n varint timestamp deltas (unix ms)
//	  uvarint shapes | per shape: byte verbatim, uvarint len, bytes, uvarint leaves, leaves × uvarint column
//	  when shapes > 1: n × uvarint shape of each row
//	  uvarint columns | per column (sorted by path): string path, byte encoding, byte kind, byte flags,
//	    uvarint values, [const, dict: uvarint k, k × string], uvarint data offset, data length,
//	    uncompressed length, [bloom: uvarint offset, words, u32 crc32]
//	data: each column's data (zstd), then the bloom filters (64-bit words, little endian)
//
// A column's data: per-row value counts (unless one value per row), kinds
// (when mixed), then the values: dictionary codes, uvarints, timestamps as
// zigzag deltas from their row's time, or uvarint lengths then spellings.
//
// Each part can be read alone: a query reads the meta and the columns it
// names. zstd's checksums catch damage in the compressed parts, a crc32
// in the blooms.

// maxColumns bounds a block's directory (the overflow column included),
// maxValues a column's values (a block's events hold at most a few
// hundred megabytes of leaves, each at least one byte).
const (
	maxColumns = MaxFieldsPerBlock + 1
	maxValues  = 1 << 28
)

// codec compresses blocks; its zstd encoder serves concurrent sealers.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCodec(concurrency int) *codec {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(max(1, concurrency)),
		zstd.WithLowerEncoderMem(true))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
	return &codec{enc: enc, dec: dec}
}

// encode serialises a built block: the meta (compressed) and the data.
func (cd *codec) encode(b *builtBlock) (meta, data []byte) {
	bm := b.meta
	var buf, raw []byte
	for i := range bm.cols {
		c := &bm.cols[i]
		raw = b.data[i].appendTo(raw[:0], c, bm)
		c.dataOff, c.rawLen = len(data), len(raw)
		if len(raw) > 0 {
			data = cd.enc.EncodeAll(raw, data)
		}
		c.dataLen = len(data) - c.dataOff
	}
	for i := range bm.cols {
		c := &bm.cols[i]
		if c.flags&colBloom == 0 {
			continue
		}
		c.bloomOff = len(data)
		data = b.blooms[i].appendTo(data)
		c.bloomLen = len(data) - c.bloomOff
		c.bloomCRC = crc32.Checksum(data[c.bloomOff:], crcTable)
	}
	buf = bm.appendTo(buf)
	return cd.enc.EncodeAll(buf, nil), data
}

func (bm *blockMetaV2) appendTo(buf []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(bm.n))
	prev := int64(0)
	c := bm.ts.cursor()
	for i := range bm.ts.len() {
		t := c.at(i)
		buf = binary.AppendVarint(buf, t-prev)
		prev = t
	}
	buf = binary.AppendUvarint(buf, uint64(len(bm.shapes)))
	for _, sh := range bm.shapes {
		v := byte(0)
		if sh.verbatim {
			v = 1
		}
		buf = append(buf, v)
		buf = appendBytes(buf, sh.bytes)
		buf = binary.AppendUvarint(buf, uint64(len(sh.cols)))
		for _, c := range sh.cols {
			buf = binary.AppendUvarint(buf, uint64(c))
		}
	}
	if len(bm.shapes) > 1 {
		for _, s := range bm.rowShape {
			buf = binary.AppendUvarint(buf, uint64(s))
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(bm.cols)))
	for i := range bm.cols {
		c := &bm.cols[i]
		buf = appendString(buf, c.name)
		buf = append(buf, byte(c.enc), byte(c.kind), c.flags)
		buf = binary.AppendUvarint(buf, uint64(c.nvals))
		if c.enc == encConst || c.enc == encDict {
			buf = binary.AppendUvarint(buf, uint64(len(c.dict)))
			for _, v := range c.dict {
				buf = appendString(buf, v)
			}
		}
		buf = binary.AppendUvarint(buf, uint64(c.dataOff))
		buf = binary.AppendUvarint(buf, uint64(c.dataLen))
		buf = binary.AppendUvarint(buf, uint64(c.rawLen))
		if c.flags&colBloom != 0 {
			buf = binary.AppendUvarint(buf, uint64(c.bloomOff))
			buf = binary.AppendUvarint(buf, uint64(c.bloomLen))
			buf = binary.LittleEndian.AppendUint32(buf, c.bloomCRC)
		}
	}
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// appendTo serialises a column's data (uncompressed).
func (d *colData) appendTo(buf []byte, m *colMeta, bm *blockMetaV2) []byte {
	if m.flags&colOnePerRow == 0 {
		for r := 0; r < bm.n; r++ {
			buf = binary.AppendUvarint(buf, uint64(d.rowStart[r+1]-d.rowStart[r]))
		}
	}
	if m.kind == kindMixed {
		for _, k := range d.kinds {
			buf = append(buf, byte(k))
		}
	}
	switch m.enc {
	case encDict:
		buf = append(buf, d.codes...)
	case encUint:
		for _, v := range d.u {
			buf = binary.AppendUvarint(buf, v)
		}
	case encTime:
		c := bm.ts.cursor()
		for i, t := range d.t {
			buf = binary.AppendVarint(buf, t-c.at(d.row(i)))
		}
	case encPlain:
		prev := uint32(0)
		for _, e := range d.ends {
			buf = binary.AppendUvarint(buf, uint64(e-prev))
			prev = e
		}
		buf = append(buf, d.buf...)
	}
	return buf
}

func (d *colData) row(i int) int {
	if d.valRow != nil {
		return int(d.valRow[i])
	}
	return i
}

// decodeMeta reads a block's meta (decompressed). Whatever it accepts is
// safe to query: every index it holds is checked.
func decodeMeta(b []byte, dataLen int) (*blockMetaV2, error) {
	return decodeMetaTS(b, dataLen, true)
}

// decodeMetaTS decodes a meta; without withStamps it keeps only the rows'
// earliest and latest time, and the row times are read again from disk
// when a query asks for one (encodedBlock.stamps). A histogram over the
// last hour reads every meta of that hour and keeps them in the cache,
// but needs no row time for a block inside one bar (nearly all of them),
// and the times were 45% of a cached meta: the cache grew with the
// query's window all through a run's first hour (the soak's slope).
func decodeMetaTS(b []byte, dataLen int, withStamps bool) (*blockMetaV2, error) {
	r := &reader{b: b}
	n, err := readRows(r)
	if err != nil {
		return nil, err
	}
	bm := &blockMetaV2{n: n, ts: readStamps(r, n, withStamps), lazyTS: !withStamps}
	ns := r.count(3)
	if ns == 0 && r.err == nil {
		r.err = errCorrupt
	}
	bm.shapes = make([]shape, 0, ns)
	for i := 0; i < ns && r.err == nil; i++ {
		v := r.bytes(1)
		sb := r.bytes(int(r.uvarint()))
		nl := r.count(1)
		if r.err != nil {
			break
		}
		sh := shape{bytes: append([]byte(nil), sb...), verbatim: v[0] == 1, cols: make([]int32, nl)}
		for k := range sh.cols {
			sh.cols[k] = int32(r.uvarint())
		}
		marks := 0
		if !sh.verbatim {
			for _, c := range sh.bytes {
				if c == markString || c == markBare {
					marks++
				}
			}
		}
		if marks != nl || v[0] > 1 {
			r.err = errCorrupt
		}
		bm.shapes = append(bm.shapes, sh)
	}
	if ns > 1 {
		bm.rowShape = make([]uint16, n)
		for i := range bm.rowShape {
			if s := r.uvarint(); s < uint64(ns) {
				bm.rowShape[i] = uint16(s) // ns <= n <= BlockSize
			} else {
				r.err = errCorrupt
			}
		}
	}
	nc := r.count(8)
	if nc > maxColumns {
		r.err = errCorrupt
	}
	bm.cols = make([]colMeta, nc)
	for i := 0; i < nc && r.err == nil; i++ {
		c := &bm.cols[i]
		c.name = r.interned()
		h := r.bytes(3)
		if r.err != nil {
			break
		}
		c.enc, c.kind, c.flags = colEnc(h[0]), Kind(h[1]), h[2]
		nv := r.uvarint()
		c.nvals = int(min(nv, maxValues+1))
		if nv > maxValues || c.enc < encConst || c.enc > encPlain || (c.kind > KindBool && c.kind != kindMixed) || c.nvals == 0 {
			r.err = errCorrupt
			break
		}
		if c.flags&colOnePerRow != 0 && c.nvals != n {
			r.err = errCorrupt
			break
		}
		if c.enc == encConst || c.enc == encDict {
			k := r.count(1)
			if k == 0 || k > maxDict+1 || (c.enc == encConst && (k != 1 || c.flags&colOnePerRow == 0)) || c.kind == kindMixed {
				r.err = errCorrupt
				break
			}
			c.dict = make([]string, k)
			for j := range c.dict {
				c.dict[j] = r.interned()
			}
		}
		c.dataOff, c.dataLen, c.rawLen = int(r.uvarint()), int(r.uvarint()), int(r.uvarint())
		// Every value but a constant's takes at least a byte of data.
		if c.dataOff < 0 || c.dataLen < 0 || c.rawLen < 0 || c.dataOff+c.dataLen > dataLen || c.rawLen > 64<<20 ||
			(c.enc != encConst && c.nvals > c.rawLen) {
			r.err = errCorrupt
			break
		}
		if c.flags&colBloom != 0 {
			c.bloomOff, c.bloomLen = int(r.uvarint()), int(r.uvarint())
			crc := r.bytes(4)
			if r.err != nil || c.bloomOff < 0 || c.bloomLen <= 0 || c.bloomLen%8 != 0 || c.bloomOff+c.bloomLen > dataLen || c.enc != encPlain {
				r.err = errCorrupt
				break
			}
			c.bloomCRC = binary.LittleEndian.Uint32(crc)
		}
		c.prepare()
	}
	for _, sh := range bm.shapes {
		for _, c := range sh.cols {
			if int(c) >= nc {
				r.err = errCorrupt
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	bm.index()
	return bm, nil
}

// decodeColData reads one column's data (decompressed); ts is the block's
// row times (nil: the meta's own), which a time column's values are
// stored against.
func decodeColData(b []byte, m *colMeta, bm *blockMetaV2, ts *stamps) (*colData, error) {
	if ts == nil {
		ts = &bm.ts
	}
	r := &reader{b: b}
	d := &colData{}
	n := bm.n
	if m.flags&colOnePerRow == 0 {
		rows := make([]uint16, 0, m.nvals)
		for row := 0; row < n && r.err == nil; row++ {
			k := r.uvarint()
			if k > uint64(m.nvals-len(rows)) {
				r.err = errCorrupt
				break
			}
			for ; k > 0; k-- {
				rows = append(rows, uint16(row))
			}
		}
		if len(rows) != m.nvals && r.err == nil {
			r.err = errCorrupt
		}
		d.setRows(rows, n)
	}
	if m.kind == kindMixed && r.err == nil {
		kb := r.bytes(m.nvals)
		d.kinds = make([]Kind, len(kb))
		for i, k := range kb {
			if Kind(k) > KindBool {
				r.err = errCorrupt
			}
			d.kinds[i] = Kind(k)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	switch m.enc {
	case encDict:
		d.codes = append([]uint8(nil), r.bytes(m.nvals)...)
		for _, c := range d.codes {
			if int(c) >= len(m.dict) {
				r.err = errCorrupt
			}
		}
	case encUint:
		d.u = make([]uint64, m.nvals)
		for i := range d.u {
			d.u[i] = r.uvarint()
		}
	case encTime:
		d.t = make([]int64, m.nvals)
		c := ts.cursor()
		for i := range d.t {
			d.t[i] = c.at(d.row(i)) + r.varint()
		}
	case encPlain:
		d.ends = make([]uint32, m.nvals)
		total := uint64(0)
		for i := range d.ends {
			total += r.uvarint()
			if total > uint64(len(b)) {
				r.err = errCorrupt
				break
			}
			d.ends[i] = uint32(total)
		}
		d.buf = r.bytes(int(total))
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	if r.err != nil {
		return nil, r.err
	}
	d.prepare(m)
	return d, nil
}

// encodedBlock is a block in a segment file: its meta decoded, its
// columns read and decoded on first use.
type encodedBlock struct {
	meta *blockMetaV2
	read func(off, n int) ([]byte, error) // reads the block's data area
	cd   *codec
	// readMeta reads and decompresses the block's meta again (for the
	// row times of a meta cached without them).
	readMeta func() ([]byte, error)
	// cache keeps decoded columns across queries (nil: no caching).
	cache func(col int, load func() (any, int64, error)) (any, error)
}

func (e *encodedBlock) colData(i int) (*colData, error) {
	load := func() (any, int64, error) {
		m := &e.meta.cols[i]
		var raw []byte
		if m.dataLen > 0 {
			z, err := e.read(m.dataOff, m.dataLen)
			if err != nil {
				return nil, 0, err
			}
			raw, err = e.cd.dec.DecodeAll(z, make([]byte, 0, m.rawLen))
			if err != nil {
				return nil, 0, fmt.Errorf("decompress column %q: %w", m.name, err)
			}
			if len(raw) != m.rawLen {
				return nil, 0, fmt.Errorf("column %q: %w", m.name, errCorrupt)
			}
		}
		var ts *stamps
		if m.enc == encTime {
			var err error
			if ts, err = e.stamps(); err != nil {
				return nil, 0, err
			}
		}
		d, err := decodeColData(raw, m, e.meta, ts)
		if err != nil {
			return nil, 0, fmt.Errorf("column %q: %w", m.name, err)
		}
		return d, d.size(), nil
	}
	v, err := e.cached(2*i, load)
	if err != nil {
		return nil, err
	}
	return v.(*colData), nil
}

func (e *encodedBlock) colBloom(i int) (bloom, error) {
	load := func() (any, int64, error) {
		m := &e.meta.cols[i]
		p, err := e.read(m.bloomOff, m.bloomLen)
		if err != nil {
			return nil, 0, err
		}
		if crc32.Checksum(p, crcTable) != m.bloomCRC {
			return nil, 0, fmt.Errorf("bloom filter of column %q: %w", m.name, errCorrupt)
		}
		return decodeBloom(p), int64(len(p)) + 64, nil
	}
	v, err := e.cached(2*i+1, load)
	if err != nil {
		return nil, err
	}
	return v.(bloom), nil
}

// stamps returns the block's row times: the meta's own, or read again
// from the meta on disk when it was cached without them.
func (e *encodedBlock) stamps() (*stamps, error) {
	if !e.meta.lazyTS {
		return &e.meta.ts, nil
	}
	if e.readMeta == nil {
		return nil, fmt.Errorf("row times: %w", errCorrupt)
	}
	v, err := e.cached(partStamps, func() (any, int64, error) {
		b, err := e.readMeta()
		if err != nil {
			return nil, 0, err
		}
		s, err := decodeStamps(b)
		if err != nil {
			return nil, 0, fmt.Errorf("row times: %w", err)
		}
		if s.n != e.meta.n {
			return nil, 0, fmt.Errorf("row times: %d rows, meta %d: %w", s.n, e.meta.n, errCorrupt)
		}
		return s, s.size(), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*stamps), nil
}

func (e *encodedBlock) cached(key int, load func() (any, int64, error)) (any, error) {
	if e.cache == nil {
		v, _, err := load()
		return v, err
	}
	return e.cache(key, load)
}
