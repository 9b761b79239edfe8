// Package traces stores Zipkin spans under <data>/traces: one append-only
// file of span JSON per UTC day, and an in-memory index of traces (rebuilt
// from the files at start) that answers Zipkin's queries, trace lookups by
// id and dependency links.
package traces

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/prometheus/client_golang/prometheus"
)

// Span is a validated span with its stored JSON.
type Span struct {
	Model *model.SpanModel
	JSON  []byte // canonical Zipkin v2 JSON
}

// Options configure the store.
type Options struct {
	Retention time.Duration
	Logger    *slog.Logger
}

type spanRef struct {
	file uint16
	off  int64
	n    int32
}

// spanInfo is what searches look at, without reading the span back.
type spanInfo struct {
	ref      spanRef
	id       uint64
	parent   uint64
	service  string // local service
	remote   string
	name     string
	kind     model.Kind
	ts, dur  int64 // microseconds
	shared   bool
	errorTag bool
	tags     []string // "k=v" and "k" for each tag, annotation values
}

type trace struct {
	low        uint64
	ids        map[model.TraceID]bool // full ids seen (64 and 128 bit)
	start, end int64                  // microseconds
	spans      []spanInfo
	// svcMask has bit i set when a span's local service has number i
	// (services numbered in order of appearance, the first 64 only), so
	// that searches skip traces of other services without a span loop.
	svcMask uint64
}

// Store is the span store.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	files  []*dayFile // index = spanRef.file
	byDay  map[string]*dayFile
	traces map[uint64]*trace // by low 64 bits of the trace id
	order  []*trace          // every trace, in order of first arrival (searches scan this)
	intern map[string]string
	svcNum map[string]int // service name -> bit in trace.svcMask

	Stored  atomic.Int64
	lastErr atomic.Pointer[string]
}

type dayFile struct {
	idx  uint16
	day  string
	f    *os.File
	size int64
	dead bool
}

// Open opens the store and rebuilds the index from the span files.
func Open(dir string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create traces dir: %w", err)
	}
	s := &Store{dir: dir, opts: o, log: o.Logger, byDay: map[string]*dayFile{}, traces: map[uint64]*trace{}, intern: map[string]string{}, svcNum: map[string]int{}}
	names, _ := filepath.Glob(filepath.Join(dir, "spans-*.ndjson"))
	sort.Strings(names)
	for _, n := range names {
		day := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "spans-"), ".ndjson")
		df, err := s.openDay(day)
		if err != nil {
			s.Close()
			return nil, err
		}
		if err := s.load(df); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) openDay(day string) (*dayFile, error) {
	if df := s.byDay[day]; df != nil {
		return df, nil
	}
	if len(s.files) >= 1<<16-1 {
		return nil, errors.New("too many span files")
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "spans-"+day+".ndjson"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open span file %s: %w", day, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	df := &dayFile{idx: uint16(len(s.files)), day: day, f: f, size: st.Size()}
	s.files = append(s.files, df)
	s.byDay[day] = df
	return df, nil
}

// load indexes every complete line of a day file; a torn last line (a
// crash mid-write) is cut off.
func (s *Store) load(df *dayFile) error {
	r := bufio.NewReaderSize(&offsetReader{f: df.f}, 1<<20)
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var m model.SpanModel
			if jerr := json.Unmarshal(line[:len(line)-1], &m); jerr == nil {
				s.index(&m, spanRef{file: df.idx, off: off, n: int32(len(line) - 1)})
				s.Stored.Add(1)
			}
			off += int64(len(line))
		}
		if err != nil {
			break
		}
	}
	if off < df.size {
		s.log.Warn("cutting a torn span record", "file", df.day, "at", off)
		if err := df.f.Truncate(off); err != nil {
			return fmt.Errorf("truncate %s: %w", df.day, err)
		}
		df.size = off
	}
	return nil
}

type offsetReader struct {
	f   *os.File
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.f.ReadAt(p, o.off)
	o.off += int64(n)
	return n, err
}

func (s *Store) str(v string) string {
	if i, ok := s.intern[v]; ok {
		return i
	}
	s.intern[v] = v
	return v
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano() / 1000
}

// index adds a span to the in-memory index; the caller holds s.mu.
func (s *Store) index(m *model.SpanModel, ref spanRef) {
	low := m.TraceID.Low
	t := s.traces[low]
	if t == nil {
		t = &trace{low: low, ids: map[model.TraceID]bool{}}
		s.traces[low] = t
		s.order = append(s.order, t)
	}
	t.ids[m.TraceID] = true
	info := spanInfo{ref: ref, id: uint64(m.ID), name: s.str(m.Name), kind: m.Kind, ts: micros(m.Timestamp),
		dur: m.Duration.Microseconds(), shared: m.Shared}
	if m.ParentID != nil {
		info.parent = uint64(*m.ParentID)
	}
	if m.LocalEndpoint != nil {
		info.service = s.str(strings.ToLower(m.LocalEndpoint.ServiceName))
	}
	n, ok := s.svcNum[info.service]
	if !ok {
		n = len(s.svcNum)
		s.svcNum[info.service] = n
	}
	if n < 64 {
		t.svcMask |= 1 << uint(n)
	}
	if m.RemoteEndpoint != nil {
		info.remote = s.str(strings.ToLower(m.RemoteEndpoint.ServiceName))
	}
	for k, v := range m.Tags {
		info.tags = append(info.tags, s.str(k), s.str(k+"="+v))
		if k == "error" {
			info.errorTag = true
		}
	}
	for _, a := range m.Annotations {
		info.tags = append(info.tags, s.str(a.Value))
	}
	if info.ts > 0 {
		if t.start == 0 || info.ts < t.start {
			t.start = info.ts
		}
		t.end = max(t.end, info.ts+info.dur)
	}
	t.spans = append(t.spans, info)
}

func dayOf(ts time.Time) string {
	if ts.IsZero() {
		ts = time.Now()
	}
	return ts.UTC().Format("2006-01-02")
}

// Write stores a batch: all of it or, on an I/O error, none of it.
func (s *Store) Write(spans []Span) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	byDay := map[string][]int{}
	for i, sp := range spans {
		d := dayOf(sp.Model.Timestamp)
		byDay[d] = append(byDay[d], i)
	}
	type pending struct {
		df   *dayFile
		refs []spanRef
		idx  []int
	}
	var done []pending
	for day, idx := range byDay {
		df, err := s.openDay(day)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		var refs []spanRef
		for _, i := range idx {
			refs = append(refs, spanRef{file: df.idx, off: df.size + int64(buf.Len()), n: int32(len(spans[i].JSON))})
			buf.Write(spans[i].JSON)
			buf.WriteByte('\n')
		}
		if _, err := df.f.WriteAt(buf.Bytes(), df.size); err != nil {
			df.f.Truncate(df.size)
			// Undo the days already written so the batch is all or nothing.
			for _, p := range done {
				p.df.f.Truncate(p.refs[0].off)
				p.df.size = p.refs[0].off
			}
			msg := err.Error()
			s.lastErr.Store(&msg)
			return fmt.Errorf("write spans %s: %w", day, err)
		}
		df.size += int64(buf.Len())
		done = append(done, pending{df, refs, idx})
	}
	for _, p := range done {
		for k, i := range p.idx {
			s.index(spans[i].Model, p.refs[k])
		}
	}
	s.Stored.Add(int64(len(spans)))
	s.lastErr.Store(nil)
	return nil
}

// Err is the last write error, "" while writes succeed.
func (s *Store) Err() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *Store) read(refs []spanRef) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(refs))
	for _, r := range refs {
		df := s.files[r.file]
		if df.dead {
			continue
		}
		b := make([]byte, r.n)
		if _, err := df.f.ReadAt(b, r.off); err != nil {
			return nil, fmt.Errorf("read span from %s: %w", df.day, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Trace returns the spans of one trace, in stored order. A 64-bit id and the
// low half of a 128-bit id find the same trace, as Zipkin's non-strict mode.
func (s *Store) Trace(id model.TraceID) ([]json.RawMessage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.traces[id.Low]
	if t == nil {
		return nil, nil
	}
	if id.High != 0 && !t.ids[id] && !t.ids[model.TraceID{Low: id.Low}] {
		return nil, nil
	}
	refs := make([]spanRef, len(t.spans))
	for i, sp := range t.spans {
		refs[i] = sp.ref
	}
	return s.read(refs)
}

// Close closes the span files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, df := range s.files {
		if !df.dead {
			errs = append(errs, df.f.Close())
		}
	}
	return errors.Join(errs...)
}

// RunRetention deletes whole days older than the retention every interval
// until ctx ends.
func (s *Store) RunRetention(ctx context.Context, every time.Duration) {
	if s.opts.Retention <= 0 {
		return
	}
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.ApplyRetention(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ApplyRetention removes day files that ended before now-retention and the
// traces that only they held.
func (s *Store) ApplyRetention(now time.Time) {
	cutoff := now.UTC().Add(-s.opts.Retention).Format("2006-01-02")
	s.mu.Lock()
	defer s.mu.Unlock()
	removed := false
	for _, df := range s.files {
		if df.dead || df.day >= cutoff {
			continue
		}
		df.dead = true
		removed = true
		df.f.Close()
		delete(s.byDay, df.day)
		if err := os.Remove(filepath.Join(s.dir, "spans-"+df.day+".ndjson")); err != nil {
			s.log.Error("remove expired spans", "day", df.day, "err", err)
		}
	}
	if !removed {
		return
	}
	order := s.order[:0]
	for _, t := range s.order {
		kept := t.spans[:0]
		for _, sp := range t.spans {
			if !s.files[sp.ref.file].dead {
				kept = append(kept, sp)
			}
		}
		t.spans = kept
		if len(kept) == 0 {
			delete(s.traces, t.low)
		} else {
			order = append(order, t)
		}
	}
	s.order = order
}

// Collectors exports the store's counters.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_traces_spans_stored_total", Help: "Spans stored."},
			func() float64 { return float64(s.Stored.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_traces", Help: "Traces in the index."},
			func() float64 { s.mu.RLock(); defer s.mu.RUnlock(); return float64(len(s.traces)) }),
	}
}
