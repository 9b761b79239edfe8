// Package metrics stores samples in the Prometheus TSDB
// (github.com/prometheus/prometheus/tsdb) under <data>/metrics. A Graphite
// path such as stats.timers.web-api.x.upper_90 is the series' __name__;
// DogStatsD tags are further labels. The same DB serves Graphite-style reads
// (glob over names) and PromQL (it is a storage.Queryable).
package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Sample is one value to store.
type Sample struct {
	Name   string
	Labels []Label
	TS     int64 // unix milliseconds
	Value  float64
}

// Label is a name/value pair besides __name__.
type Label struct{ Name, Value string }

// Options configure the store.
type Options struct {
	Retention time.Duration
	Logger    *slog.Logger
	// OutOfOrderWindow is how far behind the newest sample a sample may be
	// and still be stored: Graphite plaintext and DogStatsD |T carry their
	// own timestamps, and carbon backfills a day at a time. Default 24h
	// (the retention, if shorter).
	OutOfOrderWindow time.Duration
	// Registerer receives the TSDB's own metrics (prometheus_tsdb_*); nil skips them.
	Registerer prometheus.Registerer

	// every is how often the TSDB writes full head chunks to its chunk
	// files and the store compacts its head (a minute, Prometheus's
	// default, when 0); tests shorten it.
	every time.Duration
}

// Store wraps one TSDB.
type Store struct {
	db      *tsdb.DB
	dir     string
	cutoff  atomic.Int64            // unix ms: blocks wholly older go (disk budget); 0 = none
	opened  atomic.Pointer[tsdb.DB] // db, for the TSDB's own goroutines
	log     *slog.Logger
	Written atomic.Int64
	Failed  atomic.Int64
	lastErr atomic.Pointer[string]

	// maint serialises what maps and unmaps the head's chunk files
	// (compaction, Close) with DropMapped: see maintain.go.
	maint     sync.Mutex
	closed    bool
	mapsDir   string // the TSDB's directory as /proc/self/maps names it
	chunksDir string
	stop      context.CancelFunc
	done      chan struct{}
	dropReq   chan struct{} // a query ended: drop what it mapped
}

// The head's layout. Prometheus cuts a block out of the head every two
// hours and keeps up to three hours there, in chunks of 120 samples: per
// series an open chunk of up to 120 samples in memory (about 1 KB of
// StatsD timer values) plus a reference to every chunk written since the
// last cut. Measured with the soak's StatsD mix (14 timer series a name
// and one new name every two seconds, 64,600 series after two simulated
// hours), the head held 70 MB on average over the second hour and grew
// 41 MB/h; with 20-minute blocks and 60-sample chunks, 58 MB and 32 MB/h,
// for 2% more bytes per sample on disk. Series no longer written leave
// memory at the next cut, within 40 minutes rather than three hours. Cut
// blocks are merged into 1-hour and then 3-hour blocks (a week is about
// 60 blocks, not 84), so that the disk budget still removes data a few
// hours at a time.
const (
	headBlock       = 20 * time.Minute
	largestBlock    = 3 * time.Hour
	samplesPerChunk = 60
)

func headLayout(opts *tsdb.Options) {
	opts.SamplesPerChunk = samplesPerChunk
	opts.MinBlockDuration = headBlock.Milliseconds()
	// As Prometheus does, no block longer than a tenth of the retention,
	// so that retention removes data in small steps.
	opts.MaxBlockDuration = max(opts.MinBlockDuration, min(largestBlock.Milliseconds(), opts.RetentionDuration/10))
}

// Open opens or creates the TSDB in dir, replaying its WAL after a crash.
func Open(dir string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metrics dir: %w", err)
	}
	opts := tsdb.DefaultOptions()
	if o.Retention > 0 {
		opts.RetentionDuration = o.Retention.Milliseconds()
	}
	ooo := o.OutOfOrderWindow
	if ooo <= 0 {
		ooo = 24 * time.Hour
		if o.Retention > 0 && o.Retention < ooo {
			ooo = o.Retention
		}
	}
	opts.OutOfOrderTimeWindow = ooo.Milliseconds()
	// Isolation keeps a ring of open append transactions in every series
	// (about 60 bytes each: 6% of a head series' memory, measured) so that
	// a query never sees half of a commit. obs's commits are a StatsD
	// flush or one intake batch; a query that sees part of one shows the
	// rest a moment later, so the memory is better spent elsewhere, as
	// Prometheus's agent mode does.
	opts.IsolationDisabled = true
	headLayout(opts)
	if o.every > 0 {
		opts.BlockReloadInterval = o.every
	}
	s := &Store{log: o.Logger, dir: dir}
	opts.BlocksToDelete = s.blocksToDelete
	db, err := tsdb.Open(dir, o.Logger, o.Registerer, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("open metrics tsdb %s: %w", dir, err)
	}
	s.db = db
	s.opened.Store(db)
	// obs compacts the head itself (maintain.go), so that no compaction
	// unmaps a chunk file while DropMapped works on the mappings. This
	// waits for a compaction Prometheus may already have started.
	db.DisableCompactions() // logs "Compactions disabled": say what runs them instead
	s.log.Info("head compaction runs from obs's metrics store, once a minute")
	s.mapsDir = mapsDir(dir)
	s.chunksDir = headChunksDir(s.mapsDir)
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done, s.dropReq = cancel, make(chan struct{}), make(chan struct{}, 1)
	go s.maintain(ctx, cmp.Or(o.every, compactEvery))
	return s, nil
}

// DB is the TSDB itself, for tests and tools that inspect it. Queries go
// through Queryable (its queriers hand back mapped pages), and nothing
// but the store may compact or close it (see maintain.go).
func (s *Store) DB() *tsdb.DB { return s.db }

// Queryable is the storage PromQL reads. Its queriers hand back the
// chunk-file pages they mapped in when they close (see maintain.go).
func (s *Store) Queryable() storage.Queryable { return queryable{s} }

type queryable struct{ s *Store }

func (q queryable) Querier(mint, maxt int64) (storage.Querier, error) { return q.s.querier(mint, maxt) }

// querier is a TSDB querier that, once closed, asks for the head chunk
// pages it read through the TSDB's memory map to be handed back.
type querier struct {
	storage.Querier
	s *Store
}

func (q *querier) Close() error {
	err := q.Querier.Close()
	q.s.queried()
	return err
}

func (s *Store) querier(mint, maxt int64) (storage.Querier, error) {
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return nil, fmt.Errorf("metrics querier: %w", err)
	}
	return &querier{Querier: q, s: s}, nil
}

// Appender is one transaction on the TSDB (a storage.Appendable, so
// that a writer can keep series references between transactions: an
// append by reference skips hashing and looking up the labels). Commit
// counts what was written and failed, as Write does.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	a := s.db.Appender(ctx)
	return &appender{Appender: a, tally: tally{s: s, commit: a.Commit, rollback: a.Rollback}}
}

// AppenderV2 is one transaction in Prometheus's second appender
// interface (a storage.AppendableV2: the OTLP translator writes through
// it), floats and native histograms alike, counted as Appender counts.
func (s *Store) AppenderV2(ctx context.Context) storage.AppenderV2 {
	a := s.db.AppenderV2(ctx)
	return &appenderV2{AppenderV2: a, tally: tally{s: s, commit: a.Commit, rollback: a.Rollback}}
}

// tally counts one transaction; samples the TSDB refuses (too old,
// duplicates with another value) are counted, not fatal for the rest.
type tally struct {
	s                *Store
	commit, rollback func() error
	n                int
	failed           int
	firstErr         error
}

func (t *tally) note(l labels.Labels, err error) {
	t.n++
	if err != nil {
		t.failed++
		if t.firstErr == nil {
			t.firstErr = fmt.Errorf("append %s: %w", l.Get(labels.MetricName), err)
		}
	}
}

// Commit returns the commit's error, else the first refused sample's.
func (t *tally) Commit() error {
	s := t.s
	if t.n == 0 {
		return t.rollback()
	}
	if err := t.commit(); err != nil {
		s.Failed.Add(int64(t.n))
		s.setErr(err)
		return fmt.Errorf("commit %d samples: %w", t.n, err)
	}
	s.Written.Add(int64(t.n - t.failed))
	if t.failed > 0 {
		s.Failed.Add(int64(t.failed))
		s.setErr(t.firstErr)
		return t.firstErr
	}
	s.lastErr.Store(nil)
	return nil
}

type appender struct {
	storage.Appender
	tally
}

func (a *appender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	r, err := a.Appender.Append(ref, l, t, v)
	a.note(l, err)
	return r, err
}

func (a *appender) Commit() error { return a.tally.Commit() }

type appenderV2 struct {
	storage.AppenderV2
	tally
}

func (a *appenderV2) Append(ref storage.SeriesRef, l labels.Labels, st, t int64, v float64, h *histogram.Histogram,
	fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	r, err := a.AppenderV2.Append(ref, l, st, t, v, h, fh, opts)
	var partial *storage.AppendPartialError
	if errors.As(err, &partial) {
		err = nil // the sample is in; only exemplars were not (obs keeps none)
	}
	a.note(l, err)
	return r, err
}

func (a *appenderV2) Commit() error { return a.tally.Commit() }

// Write writes samples in one transaction (see Appender).
func (s *Store) Write(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	app := s.Appender(ctx)
	var b labels.ScratchBuilder
	for _, smp := range samples {
		b.Reset()
		b.Add(labels.MetricName, smp.Name)
		for _, l := range smp.Labels {
			b.Add(l.Name, l.Value)
		}
		b.Sort()
		app.Append(0, b.Labels(), smp.TS, smp.Value)
	}
	return app.Commit()
}

func (s *Store) setErr(err error) { m := err.Error(); s.lastErr.Store(&m) }

// Err is the last write error, "" while writes succeed.
func (s *Store) Err() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Series is one stored series over a time range.
type Series struct {
	Name   string
	Labels map[string]string // without __name__
	TS     []int64           // unix ms
	Values []float64
}

// Select reads series matching ms in [from, to] (unix ms): their float
// samples. A native histogram's samples (OTLP's exponential histograms)
// have no one value to give, so such a series comes with none; asking
// its iterator for a float would panic.
func (s *Store) Select(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]Series, error) {
	var out []Series
	err := s.Visit(ctx, from, to, func(ser Series) func(t int64, v float64) {
		out = append(out, ser)
		i := len(out) - 1
		return func(t int64, v float64) {
			out[i].TS = append(out[i].TS, t)
			out[i].Values = append(out[i].Values, v)
		}
	}, ms...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Visit streams what Select returns: add is called once per matching
// series (name and labels, no samples) and returns where that series'
// float samples go, oldest first. A caller that puts samples straight on
// its own grid (Graphite's render) so holds one copy of the answer, not
// the samples and then the grid: with an hour of a growing set of timers
// the samples were the largest thing in flight (soak, 19 MB).
func (s *Store) Visit(ctx context.Context, from, to int64, add func(Series) func(t int64, v float64), ms ...*labels.Matcher) error {
	q, err := s.querier(from, to)
	if err != nil {
		return err
	}
	defer q.Close()
	set := q.Select(ctx, true, nil, ms...)
	var it chunkenc.Iterator
	for set.Next() {
		st := set.At()
		ser := seriesOf(st.Labels())
		put := add(ser)
		it = st.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			if math.IsNaN(v) {
				continue // staleness markers
			}
			put(t, v)
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("read %s: %w", ser.Name, err)
		}
	}
	if err := set.Err(); err != nil {
		return fmt.Errorf("select series: %w", err)
	}
	return nil
}

// seriesOf is a series with no samples yet: its name and other labels.
func seriesOf(ls labels.Labels) Series {
	ser := Series{Labels: map[string]string{}}
	ls.Range(func(l labels.Label) {
		if l.Name == labels.MetricName {
			ser.Name = l.Value
		} else {
			ser.Labels[l.Name] = l.Value
		}
	})
	return ser
}

// SeriesIn lists the series matching ms that have data anywhere in
// [from, to] (unix ms), without reading their samples: Graphite answers a
// series that exists but has no points in the asked range with nulls.
func (s *Store) SeriesIn(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]Series, error) {
	q, err := s.querier(from, to)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	set := q.Select(ctx, false, &storage.SelectHints{Start: from, End: to, Func: "series"}, ms...)
	var out []Series
	for set.Next() {
		ser := seriesOf(set.At().Labels())
		out = append(out, ser)
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("list series: %w", err)
	}
	return out, nil
}

// Names lists metric names with data in [from, to], sorted.
func (s *Store) Names(ctx context.Context, from, to int64) ([]string, error) {
	q, err := s.querier(from, to)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	names, _, err := q.LabelValues(ctx, labels.MetricName, nil)
	if err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// LabelNames lists the label names of the series matching ms with data
// in [from, to] (all series without ms).
func (s *Store) LabelNames(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]string, error) {
	q, err := s.querier(from, to)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	names, _, err := q.LabelNames(ctx, nil, ms...)
	return names, err
}

// LabelValues lists the values of label name in the series matching ms
// with data in [from, to].
func (s *Store) LabelValues(ctx context.Context, name string, from, to int64, ms ...*labels.Matcher) ([]string, error) {
	q, err := s.querier(from, to)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	vals, _, err := q.LabelValues(ctx, name, nil, ms...)
	return vals, err
}

// Close flushes the head and closes the TSDB.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	s.maint.Lock()
	defer s.maint.Unlock()
	s.closed = true
	if err := s.db.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close metrics tsdb: %w", err)
	}
	return nil
}

// Collectors exports the store's counters.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_metrics_samples_written_total", Help: "Samples written to the TSDB."},
			func() float64 { return float64(s.Written.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_metrics_samples_failed_total", Help: "Samples the TSDB refused (out of bounds, duplicates, disk errors)."},
			func() float64 { return float64(s.Failed.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_metrics_series", Help: "Series in the TSDB head."},
			func() float64 { return float64(s.db.Head().NumSeries()) }),
	}
}

// Writer takes samples: the TSDB, a forwarder to a remote engine, or both.
type Writer interface {
	Write(context.Context, []Sample) error
}

// Tee writes every batch to each writer (a local copy and the engine);
// one failing does not keep the batch from the others.
type Tee []Writer

// Write implements Writer.
func (t Tee) Write(ctx context.Context, samples []Sample) error {
	var errs []error
	for _, w := range t {
		if err := w.Write(ctx, samples); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
