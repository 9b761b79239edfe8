package traces

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"sync"
	"time"
)

// depsAgg keeps dependency links aggregated per hour as spans arrive, the
// way Zipkin's dependencies job aggregates a day: a day's graph is the sum
// of 24 small rows, whatever the day holds.
//
// Spans are linked a trace at a time (linker.go), in epochs: the writer
// buffers the spans of each trace for a second (or up to
// maxEpochSpans) and hands the buffer to the linker goroutine, which links
// every buffered trace and adds its links to the hour of the trace's
// timestamp. A trace whose spans straddle epochs
// (a late span, a retry) is relinked exactly: its earlier contribution,
// recomputed from its stored spans that arrived before this epoch's, is
// taken out and the links of all its spans put in. Recent epochs' trace
// ids are remembered in two rotating bloom filters so that only traces
// that may have earlier spans pay for that lookup; a span arriving after
// about genCount×genCap more traces have been linked (hours, at a busy dev
// box's rate) counts as a new trace.
//
// Traces without a timestamp have no links, as in Zipkin, whose
// dependency query only sees traces inside its time window.
//
// deps.state holds the rows and the watermark: every span with a smaller
// seq is counted. It is written after each epoch (at most every second);
// after a crash, Open links the spans from the watermark on again.
type depsAgg struct {
	path string

	mu   sync.RWMutex
	rows map[int64]map[linkKey]linkCount // hour → links

	// Linker-only state.
	lk        *linker
	gens      [genCount]*bloom // newest first
	genN      int
	watermark uint64
	dirty     bool
	savedAt   time.Time
	relinked  int64
}

// fragment is a trace's spans in an epoch: their places in the epoch's
// rows, in arrival order.
type fragment struct {
	idx    []int32
	minSeq uint64
}

// linkBuf is an epoch's spans by trace, filled by the writer. The rows
// are kept in one slice in arrival order (a trace's spans mostly arrive
// together), not a growing slice per trace: that was the writer's
// largest allocation.
type linkBuf struct {
	frags map[uint64]*fragment
	rows  []row
	spans int
	since time.Time
}

// traceRows returns a fragment's rows: a part of b.rows when they are
// contiguous (the linker only reads them), else a copy gathered from it.
func (b *linkBuf) traceRows(f *fragment) []row {
	first, last := f.idx[0], f.idx[len(f.idx)-1]
	if int(last-first)+1 == len(f.idx) {
		return b.rows[first : last+1 : last+1]
	}
	rows := make([]row, len(f.idx))
	for j, i := range f.idx {
		rows[j] = b.rows[i]
	}
	return rows
}

func newLinkBuf() *linkBuf {
	b := &linkBuf{frags: map[uint64]*fragment{}}
	select {
	case b.rows = <-spareRows:
	default:
	}
	return b
}

// spareRows holds a linked epoch's row slice for the next epoch (a
// sync.Pool would drop it at every GC, which ingest makes frequent).
var spareRows = make(chan []row, 1)

// release hands the epoch's row slice back once it is linked. One
// larger than two full epochs (the linker fell behind) is let go.
func (b *linkBuf) release() {
	rows := b.rows
	b.rows = nil
	if cap(rows) > 2*maxEpochSpans {
		return
	}
	clear(rows[:cap(rows)]) // no references to the epoch's strings
	select {
	case spareRows <- rows[:0]:
	default:
	}
}

const (
	maxEpochSpans = 16 << 10
	epochEvery    = time.Second
	// Recently linked trace ids: genCount generations of genCap ids, at 16
	// bits an id (~0.05% false positives each). A false positive costs a
	// lookup that finds no earlier spans.
	genCount = 4
	genCap   = 1 << 18
	genWords = genCap * 16 / 64
)

func newDeps(path string) *depsAgg {
	d := &depsAgg{path: path, rows: map[int64]map[linkKey]linkCount{}, lk: newLinker()}
	for i := range d.gens {
		d.gens[i] = newGen()
	}
	return d
}

func newGen() *bloom {
	return &bloom{k: 11, bits: make([]uint64, genWords)}
}

// linkRow keeps what the linker reads.
func linkRow(r *row) row {
	return row{TraceHi: r.TraceHi, TraceLo: r.TraceLo, ID: r.ID, Parent: r.Parent, Seq: r.Seq, TS: r.TS,
		Kind: r.Kind, Flags: r.Flags, Local: r.Local, Remote: r.Remote}
}

func (b *linkBuf) add(r *row) {
	f := b.frags[r.TraceLo]
	if f == nil {
		if len(b.frags) == 0 {
			b.since = time.Now()
		}
		f = &fragment{minSeq: r.Seq}
		b.frags[r.TraceLo] = f
	}
	f.idx = append(f.idx, int32(len(b.rows)))
	if len(b.rows) == cap(b.rows) {
		// Double (append grows big slices by a quarter, copying often).
		b.rows = slices.Grow(b.rows, max(1024, len(b.rows)))
	}
	b.rows = append(b.rows, linkRow(r))
	b.spans++
}

func (b *linkBuf) due() bool {
	return b.spans >= maxEpochSpans || (len(b.frags) > 0 && time.Since(b.since) >= epochEvery)
}

// traceTS is QueryRequest's trace timestamp: the root span's, else the
// earliest.
func traceTS(rows []row) int64 {
	var ts int64
	for i := range rows {
		t := rows[i].TS
		if t == 0 {
			continue
		}
		if rows[i].Parent == 0 {
			return t
		}
		if ts == 0 || t < ts {
			ts = t
		}
	}
	return ts
}

func (d *depsAgg) apply(rows []row, sign int64) {
	ts := traceTS(rows)
	if ts == 0 {
		return
	}
	h := ts / 3_600_000_000
	m := d.rows[h]
	if m == nil {
		m = map[linkKey]linkCount{}
		d.rows[h] = m
	}
	d.lk.link(rows, sign, m)
	if len(m) == 0 {
		delete(d.rows, h)
	}
}

func (d *depsAgg) seen(lo uint64) bool {
	h := traceHash(lo)
	for _, g := range d.gens {
		if g.has(h) {
			return true
		}
	}
	return false
}

func (d *depsAgg) remember(lo uint64) {
	if d.genN >= genCap {
		last := d.gens[len(d.gens)-1]
		copy(d.gens[1:], d.gens[:len(d.gens)-1])
		clear(last.bits)
		d.gens[0] = last
		d.genN = 0
	}
	d.gens[0].add(traceHash(lo))
	d.genN++
}

// link links an epoch's traces (linker only). stored returns a trace's
// spans stored before a seq; next is the seq the first span after the
// epoch got.
func (d *depsAgg) link(buf *linkBuf, stored func(lo, before uint64) ([]row, error), next uint64) error {
	var errs []error
	type change struct {
		rows []row
		sign int64
	}
	var changes []change
	for lo, f := range buf.frags {
		rows := buf.traceRows(f)
		all := rows
		if d.seen(lo) {
			rs, err := stored(lo, f.minSeq)
			if err != nil {
				errs = append(errs, err)
			}
			var old []row
			for i := range rs {
				old = append(old, linkRow(&rs[i]))
			}
			if len(old) > 0 {
				d.relinked++
				changes = append(changes, change{old, -1})
				all = append(old, rows...)
			}
		}
		changes = append(changes, change{all, 1})
		d.remember(lo)
	}
	d.mu.Lock()
	for _, c := range changes {
		d.apply(c.rows, c.sign)
	}
	d.mu.Unlock()
	d.watermark = next
	d.dirty = true
	return errors.Join(errs...)
}

// DependencyLink is Zipkin's link between two services.
type DependencyLink struct {
	Parent     string `json:"parent"`
	Child      string `json:"child"`
	CallCount  int64  `json:"callCount"`
	ErrorCount int64  `json:"errorCount,omitempty"`
}

// links sums the rows of the hours from..to (inclusive).
func (d *depsAgg) links(from, to int64) []DependencyLink {
	sum := map[linkKey]linkCount{}
	d.mu.RLock()
	for h, m := range d.rows {
		if h < from || h > to {
			continue
		}
		for k, c := range m {
			s := sum[k]
			s.Calls += c.Calls
			s.Errors += c.Errors
			sum[k] = s
		}
	}
	d.mu.RUnlock()
	out := make([]DependencyLink, 0, len(sum))
	for k, c := range sum {
		if c.Calls > 0 {
			out = append(out, DependencyLink{Parent: k.Parent, Child: k.Child, CallCount: c.Calls, ErrorCount: c.Errors})
		}
	}
	slices.SortFunc(out, func(a, b DependencyLink) int {
		return cmp.Or(cmp.Compare(a.Parent, b.Parent), cmp.Compare(a.Child, b.Child))
	})
	return out
}

// expire drops hours before from.
func (d *depsAgg) expire(from int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for h := range d.rows {
		if h < from {
			delete(d.rows, h)
			d.dirty = true
		}
	}
}

var depsMagic = [4]byte{'O', 'T', 'R', 'D'}

const depsVersion = 1

func (d *depsAgg) encode() []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := append([]byte(nil), depsMagic[:]...)
	out = append(out, depsVersion)
	out = binary.LittleEndian.AppendUint64(out, d.watermark)
	out = binary.AppendUvarint(out, uint64(len(d.rows)))
	str := func(s string) {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	for h, m := range d.rows {
		out = binary.AppendVarint(out, h)
		out = binary.AppendUvarint(out, uint64(len(m)))
		for k, c := range m {
			str(k.Parent)
			str(k.Child)
			out = binary.AppendVarint(out, c.Calls)
			out = binary.AppendVarint(out, c.Errors)
		}
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crcTable))
}

// save writes deps.state when something changed (linker only).
func (d *depsAgg) save(force bool) error {
	if !d.dirty || (!force && time.Since(d.savedAt) < time.Second) {
		return nil
	}
	if err := writeFileAtomic(d.path, d.encode()); err != nil {
		return fmt.Errorf("save dependency links: %w", err)
	}
	d.dirty = false
	d.savedAt = time.Now()
	return nil
}

var errBadDeps = errors.New("bad dependency state")

// load reads deps.state; a missing or bad file leaves the rows empty and
// the watermark 0, so every stored span is linked again.
func (d *depsAgg) load() error {
	b, err := os.ReadFile(d.path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if len(b) < 17 || [4]byte(b[:4]) != depsMagic || crc32.Checksum(b[:len(b)-4], crcTable) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return errBadDeps
	}
	if b[4] != depsVersion {
		return fmt.Errorf("dependency state version %d: this obs reads version %d", b[4], depsVersion)
	}
	r := colReader{p: b[13 : len(b)-4]}
	wm := binary.LittleEndian.Uint64(b[5:])
	rows := map[int64]map[linkKey]linkCount{}
	str := func() string {
		l := r.uvarint()
		if r.err || l > uint64(len(r.p)) {
			r.err = true
			return ""
		}
		s := string(r.p[:l])
		r.p = r.p[l:]
		return s
	}
	varint := func() int64 {
		v, n := binary.Varint(r.p)
		if n <= 0 {
			r.err = true
			return 0
		}
		r.p = r.p[n:]
		return v
	}
	nh := r.uvarint()
	for i := uint64(0); i < nh && !r.err; i++ {
		h := varint()
		nl := r.uvarint()
		m := map[linkKey]linkCount{}
		for j := uint64(0); j < nl && !r.err; j++ {
			k := linkKey{str(), str()}
			m[k] = linkCount{varint(), varint()}
		}
		rows[h] = m
	}
	if r.err {
		return errBadDeps
	}
	d.rows, d.watermark = rows, wm
	return nil
}
