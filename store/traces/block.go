package traces

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A partition's spans.dat is a sequence of blocks of up to blockSpans
// spans, appended as heads fill up. Each block:
//
//	header (72 bytes, below) | summary | columns (zstd) | json (zstd)
//
// The summary (uncompressed, small) holds the block's local services and
// a bloom filter of its search tokens (span names, remote services, tag
// keys, key=value, annotations), which the store keeps in memory, and its
// trace ids (sorted), which rebuild the partition's trace map at start.
// The columns hold, per span, the fields searches and the dependency linker
// read, so that neither parses JSON; the JSON section holds each span's
// JSON exactly as acknowledged. Each section has its own crc so that
// opening a partition reads only headers and summaries.
const blockHeaderSize = 72

var blockMagic = [4]byte{'O', 'T', 'R', 'B'}

// blockVersion is the block format; a reader refuses versions it does not
// know instead of misreading them.
const blockVersion = 1

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	// A block's JSON is at most blockJSONBytes: a larger window only costs
	// memory (the default keeps 8 MiB of history).
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(blockJSONBytes), zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
)

// blockMeta is what the store keeps in memory about one block.
type blockMeta struct {
	off                     int64 // of the header in spans.dat
	n                       int
	sumLen, colLen, jsonLen uint32
	colCRC, jsonCRC         uint32
	firstSeq, lastSeq       uint64
	minTS, maxTS            int64 // over spans with a timestamp; both 0 when none has one

	services []string // local service names, sorted
	tokens   *bloom
}

func (b *blockMeta) colOff() int64  { return b.off + blockHeaderSize + int64(b.sumLen) }
func (b *blockMeta) jsonOff() int64 { return b.colOff() + int64(b.colLen) }
func (b *blockMeta) end() int64     { return b.jsonOff() + int64(b.jsonLen) }

func (b *blockMeta) memBytes() int {
	n := 160 + 16*len(b.services)
	if b.tokens != nil {
		n += b.tokens.memBytes()
	}
	return n
}

func (b *blockMeta) hasService(s string) bool {
	_, ok := slices.BinarySearch(b.services, s)
	return ok
}

// Column numbers, in the order they are written.
const (
	colTraceHi = iota
	colTraceLo
	colID
	colParent
	colSeq
	colTS
	colDur
	colKindFlags
	colName
	colLocal
	colRemote
	colTags
	colAnnos
	colJSONLen
	numCols
)

// dictBuilder numbers the distinct strings of a block.
type dictBuilder struct {
	idx  map[string]uint64
	strs []string
}

// ref is 0 for "", else the string's number + 1.
func (d *dictBuilder) ref(s string) uint64 {
	if s == "" {
		return 0
	}
	if i, ok := d.idx[s]; ok {
		return i + 1
	}
	i := uint64(len(d.strs))
	d.idx[s] = i
	d.strs = append(d.strs, s)
	return i + 1
}

// encodeScratch is what sealing a block needs only while it runs, kept
// for the next block: the dictionary's map and the sets stay sized for a
// block instead of growing from nothing a thousand spans at a time.
type encodeScratch struct {
	dict           dictBuilder
	traces, tokens u64set
	cols           [numCols][]byte
	js, raw        []byte
}

var sealScratch = sync.Pool{New: func() any {
	return &encodeScratch{dict: dictBuilder{idx: make(map[string]uint64, 64)}}
}}

// release clears the scratch (dropping its references to the block's
// strings) and returns it to the pool.
func (sc *encodeScratch) release() {
	if len(sc.dict.strs) > 1<<16 || len(sc.tokens.slots) > 1<<18 || len(sc.traces.slots) > 1<<18 || cap(sc.js)+cap(sc.raw) > 8*blockJSONBytes {
		return // an absurd block's sizes are not worth keeping
	}
	clear(sc.dict.idx)
	clear(sc.dict.strs)
	sc.dict.strs = sc.dict.strs[:0]
	sc.traces.reset()
	sc.tokens.reset()
	sealScratch.Put(sc)
}

// tokenCount bounds the token filter's size; the filter saturates (more
// false positives, never a false negative) beyond it.
const maxTokenWords = 128

// encodeBlock builds a block of rows (in arrival order), its meta (off is
// left for the caller) and its distinct trace ids, sorted. The summary's
// service names are interned through intern so that thousands of blocks
// share one copy of each.
func encodeBlock(rows []row, intern func(string) string) ([]byte, *blockMeta, []uint64) {
	m := &blockMeta{n: len(rows), firstSeq: rows[0].Seq, lastSeq: rows[len(rows)-1].Seq}
	for i := range rows {
		if ts := rows[i].TS; ts > 0 {
			if m.minTS == 0 || ts < m.minTS {
				m.minTS = ts
			}
			m.maxTS = max(m.maxTS, ts)
		}
	}
	// Sized up front: sealing runs for every thousand spans, and growing
	// these buffers was most of what it allocated.
	n, jsLen := len(rows), 0
	for i := range rows {
		jsLen += len(rows[i].JSON)
	}
	sc := sealScratch.Get().(*encodeScratch)
	defer sc.release()
	d := &sc.dict
	// The column and JSON buffers are the scratch's, sized for the
	// biggest block so far (they are compressed into the block, not kept).
	cols := &sc.cols
	for c := range cols {
		cols[c] = cols[c][:0]
	}
	cols[colTraceHi] = slices.Grow(cols[colTraceHi], 8*n)
	cols[colTraceLo] = slices.Grow(cols[colTraceLo], 8*n)
	cols[colID] = slices.Grow(cols[colID], 8*n)
	cols[colParent] = slices.Grow(cols[colParent], 8*n)
	js := slices.Grow(sc.js[:0], jsLen)
	defer func() { sc.js = js }()
	traces, tokens := &sc.traces, &sc.tokens
	services := make(map[string]struct{}, 8)
	var prevSeq uint64
	for i := range rows {
		r := &rows[i]
		cols[colTraceHi] = binary.LittleEndian.AppendUint64(cols[colTraceHi], r.TraceHi)
		cols[colTraceLo] = binary.LittleEndian.AppendUint64(cols[colTraceLo], r.TraceLo)
		cols[colID] = binary.LittleEndian.AppendUint64(cols[colID], r.ID)
		cols[colParent] = binary.LittleEndian.AppendUint64(cols[colParent], r.Parent)
		cols[colSeq] = binary.AppendUvarint(cols[colSeq], r.Seq-prevSeq)
		prevSeq = r.Seq
		var ts uint64
		if r.TS > 0 {
			ts = uint64(r.TS-m.minTS) + 1
		}
		cols[colTS] = binary.AppendUvarint(cols[colTS], ts)
		cols[colDur] = binary.AppendUvarint(cols[colDur], uint64(max(r.Dur, 0)))
		cols[colKindFlags] = append(cols[colKindFlags], r.Kind|r.Flags<<4)
		cols[colName] = binary.AppendUvarint(cols[colName], d.ref(r.Name))
		c := cols[colLocal]
		c = binary.AppendUvarint(c, d.ref(r.Local.Service))
		c = binary.AppendUvarint(c, d.ref(r.Local.IPv4))
		c = binary.AppendUvarint(c, d.ref(r.Local.IPv6))
		cols[colLocal] = binary.AppendUvarint(c, uint64(r.Local.Port))
		cols[colRemote] = binary.AppendUvarint(cols[colRemote], d.ref(r.Remote))
		c = binary.AppendUvarint(cols[colTags], uint64(len(r.TagK)))
		for j := range r.TagK {
			c = binary.AppendUvarint(c, d.ref(r.TagK[j]))
			c = binary.AppendUvarint(c, d.ref(r.TagV[j]))
			tokens.add(tokenHash(tokKey, r.TagK[j]))
			tokens.add(tokenHashKV(r.TagK[j], r.TagV[j]))
		}
		cols[colTags] = c
		c = binary.AppendUvarint(cols[colAnnos], uint64(len(r.Annos)))
		for _, a := range r.Annos {
			c = binary.AppendUvarint(c, d.ref(a))
			tokens.add(tokenHash(tokKey, a))
		}
		cols[colAnnos] = c
		cols[colJSONLen] = binary.AppendUvarint(cols[colJSONLen], uint64(len(r.JSON)))
		js = append(js, r.JSON...)
		traces.add(r.TraceLo)
		if r.Name != "" {
			tokens.add(tokenHash(tokName, r.Name))
		}
		if r.Remote != "" {
			tokens.add(tokenHash(tokRemote, r.Remote))
		}
		if r.Local.Service != "" {
			services[r.Local.Service] = struct{}{}
		}
	}
	rawLen := 20
	for _, str := range d.strs {
		rawLen += len(str) + 3
	}
	for _, c := range cols {
		rawLen += len(c) + 5
	}
	raw := slices.Grow(sc.raw[:0], rawLen)
	raw = binary.AppendUvarint(raw, uint64(len(rows)))
	raw = binary.AppendUvarint(raw, uint64(len(d.strs)))
	for _, s := range d.strs {
		raw = binary.AppendUvarint(raw, uint64(len(s)))
		raw = append(raw, s...)
	}
	for _, c := range cols {
		raw = binary.AppendUvarint(raw, uint64(len(c)))
		raw = append(raw, c...)
	}
	sc.raw = raw

	ids := make([]uint64, 0, traces.len())
	traces.each(func(t uint64) { ids = append(ids, t) })
	slices.Sort(ids)
	m.tokens = newBloom(tokens.len(), maxTokenWords)
	tokens.each(m.tokens.add)
	for s := range services {
		m.services = append(m.services, intern(s))
	}
	slices.Sort(m.services)
	sum := binary.AppendUvarint(nil, uint64(len(m.services)))
	for _, s := range m.services {
		sum = binary.AppendUvarint(sum, uint64(len(s)))
		sum = append(sum, s...)
	}
	sum = binary.AppendUvarint(sum, uint64(len(ids)))
	for _, t := range ids {
		sum = binary.LittleEndian.AppendUint64(sum, t)
	}
	sum = m.tokens.appendTo(sum)

	// Header, summary, then both sections compressed straight into the
	// block; the header's lengths and crcs are filled in last.
	out := make([]byte, blockHeaderSize, blockHeaderSize+len(sum)+len(raw)/2+len(js)/4)
	out = append(out, sum...)
	colAt := len(out)
	out = zenc.EncodeAll(raw, out)
	jsonAt := len(out)
	out = zenc.EncodeAll(js, out)
	colZ, jsonZ := out[colAt:jsonAt], out[jsonAt:]
	m.sumLen, m.colLen, m.jsonLen = uint32(len(sum)), uint32(len(colZ)), uint32(len(jsonZ))
	m.colCRC, m.jsonCRC = crc32.Checksum(colZ, crcTable), crc32.Checksum(jsonZ, crcTable)
	putHeader(out, m)
	sumCRC := crc32.Update(crc32.Checksum(out[:64], crcTable), crcTable, sum)
	binary.LittleEndian.PutUint32(out[64:], sumCRC)
	return out, m, ids
}

func putHeader(h []byte, m *blockMeta) {
	copy(h, blockMagic[:])
	h[4] = blockVersion
	binary.LittleEndian.PutUint32(h[8:], uint32(m.n))
	binary.LittleEndian.PutUint32(h[12:], m.sumLen)
	binary.LittleEndian.PutUint32(h[16:], m.colLen)
	binary.LittleEndian.PutUint32(h[20:], m.jsonLen)
	binary.LittleEndian.PutUint64(h[24:], m.firstSeq)
	binary.LittleEndian.PutUint64(h[32:], m.lastSeq)
	binary.LittleEndian.PutUint64(h[40:], uint64(m.minTS))
	binary.LittleEndian.PutUint64(h[48:], uint64(m.maxTS))
	binary.LittleEndian.PutUint32(h[56:], m.colCRC)
	binary.LittleEndian.PutUint32(h[60:], m.jsonCRC)
}

var errTorn = errors.New("torn or corrupt block")

// parseHeader reads a header and its summary (hs: the header bytes, sum:
// the summary bytes that follow it), returning the block's trace ids too.
func parseHeader(hs, sum []byte, intern func(string) string) (*blockMeta, []uint64, error) {
	if len(hs) < blockHeaderSize || [4]byte(hs[:4]) != blockMagic {
		return nil, nil, errTorn
	}
	if hs[4] != blockVersion {
		return nil, nil, fmt.Errorf("block format version %d: this obs reads version %d", hs[4], blockVersion)
	}
	m := &blockMeta{n: int(binary.LittleEndian.Uint32(hs[8:])),
		sumLen: binary.LittleEndian.Uint32(hs[12:]), colLen: binary.LittleEndian.Uint32(hs[16:]),
		jsonLen: binary.LittleEndian.Uint32(hs[20:]), firstSeq: binary.LittleEndian.Uint64(hs[24:]),
		lastSeq: binary.LittleEndian.Uint64(hs[32:]), minTS: int64(binary.LittleEndian.Uint64(hs[40:])),
		maxTS: int64(binary.LittleEndian.Uint64(hs[48:])), colCRC: binary.LittleEndian.Uint32(hs[56:]),
		jsonCRC: binary.LittleEndian.Uint32(hs[60:])}
	if sum == nil {
		return m, nil, nil // the caller reads the summary next
	}
	if uint32(len(sum)) != m.sumLen || crc32.Update(crc32.Checksum(hs[:64], crcTable), crcTable, sum) != binary.LittleEndian.Uint32(hs[64:]) {
		return nil, nil, errTorn
	}
	r := colReader{p: sum}
	n := r.uvarint()
	if r.err || n > uint64(len(sum)) {
		return nil, nil, errTorn
	}
	for i := uint64(0); i < n; i++ {
		l := r.uvarint()
		if r.err || l > uint64(len(r.p)) {
			return nil, nil, errTorn
		}
		m.services = append(m.services, intern(string(r.p[:l])))
		r.p = r.p[l:]
	}
	nt := r.uvarint()
	if r.err || nt > uint64(len(r.p))/8 {
		return nil, nil, errTorn
	}
	ids := make([]uint64, nt)
	for i := range ids {
		ids[i] = r.u64()
	}
	var err error
	if m.tokens, _, err = readBloom(r.p); err != nil {
		return nil, nil, errTorn
	}
	return m, ids, nil
}

// colReader walks one column.
type colReader struct {
	p   []byte
	err bool
}

func (c *colReader) uvarint() uint64 {
	v, n := binary.Uvarint(c.p)
	if n <= 0 {
		c.err = true
		c.p = nil
		return 0
	}
	c.p = c.p[n:]
	return v
}

func (c *colReader) u64() uint64 {
	if len(c.p) < 8 {
		c.err = true
		c.p = nil
		return 0
	}
	v := binary.LittleEndian.Uint64(c.p)
	c.p = c.p[8:]
	return v
}

func (c *colReader) byte() byte {
	if len(c.p) < 1 {
		c.err = true
		return 0
	}
	v := c.p[0]
	c.p = c.p[1:]
	return v
}

// decodeColumns reads a block's decompressed columns into rows (JSON not
// set: jsonLens has each span's JSON length).
func decodeColumns(raw []byte, minTS int64) (rows []row, jsonLens []int, err error) {
	r := colReader{p: raw}
	n := r.uvarint()
	nd := r.uvarint()
	// Each row has four 8-byte ids: a count beyond that is damage.
	if r.err || n > uint64(len(raw))/32 || nd > uint64(len(raw)) {
		return nil, nil, errTorn
	}
	dict := make([]string, nd+1)
	for i := uint64(1); i <= nd; i++ {
		l := r.uvarint()
		if r.err || l > uint64(len(r.p)) {
			return nil, nil, errTorn
		}
		dict[i] = string(r.p[:l])
		r.p = r.p[l:]
	}
	var cols [numCols]colReader
	for i := range cols {
		l := r.uvarint()
		if r.err || l > uint64(len(r.p)) {
			return nil, nil, errTorn
		}
		cols[i] = colReader{p: r.p[:l]}
		r.p = r.p[l:]
	}
	str := func(c *colReader) string {
		i := c.uvarint()
		if i >= uint64(len(dict)) {
			c.err = true
			return ""
		}
		return dict[i]
	}
	rows = make([]row, n)
	jsonLens = make([]int, n)
	var seq uint64
	for i := range rows {
		x := &rows[i]
		x.TraceHi = cols[colTraceHi].u64()
		x.TraceLo = cols[colTraceLo].u64()
		x.ID = cols[colID].u64()
		x.Parent = cols[colParent].u64()
		seq += cols[colSeq].uvarint()
		x.Seq = seq
		if ts := cols[colTS].uvarint(); ts > 0 {
			x.TS = minTS + int64(ts-1)
		}
		x.Dur = int64(cols[colDur].uvarint())
		kf := cols[colKindFlags].byte()
		x.Kind, x.Flags = kf&0xf, kf>>4
		x.Name = str(&cols[colName])
		x.Local.Service = str(&cols[colLocal])
		x.Local.IPv4 = str(&cols[colLocal])
		x.Local.IPv6 = str(&cols[colLocal])
		x.Local.Port = uint16(cols[colLocal].uvarint())
		x.Remote = str(&cols[colRemote])
		nt := cols[colTags].uvarint()
		if nt > uint64(len(cols[colTags].p)) {
			return nil, nil, errTorn
		}
		if nt > 0 {
			x.TagK, x.TagV = make([]string, nt), make([]string, nt)
			for j := range x.TagK {
				x.TagK[j] = str(&cols[colTags])
				x.TagV[j] = str(&cols[colTags])
			}
		}
		na := cols[colAnnos].uvarint()
		if na > uint64(len(cols[colAnnos].p)) {
			return nil, nil, errTorn
		}
		if na > 0 {
			x.Annos = make([]string, na)
			for j := range x.Annos {
				x.Annos[j] = str(&cols[colAnnos])
			}
		}
		l := cols[colJSONLen].uvarint()
		if l > 1<<30 {
			return nil, nil, errTorn
		}
		jsonLens[i] = int(l)
	}
	for i := range cols {
		if cols[i].err {
			return nil, nil, errTorn
		}
	}
	return rows, jsonLens, nil
}
