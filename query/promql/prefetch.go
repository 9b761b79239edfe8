package promql

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// The engine walks a selection's series one after another and decodes
// each one's chunks as it goes: over many series, decoding is nearly all
// of a query's time, on one core, while the others idle. The prefetching
// Queryable has worker goroutines decode the series into arrays ahead of
// the engine, each through a querier of its own (the TSDB's head chunk
// reader is not safe for concurrent use), so that the engine's walk
// becomes array reads. A worker's querier is opened a few microseconds
// after the engine's: a commit landing in between can be seen on some
// series of a selection and not yet on others.

// minPrefetchSeries is the smallest selection worth the extra queriers.
const minPrefetchSeries = 64

// prefetchAhead is how many decoded series each worker may hold ready
// beyond the one the engine reads: the bound on the memory prefetching
// takes, whatever the selection's size.
const prefetchAhead = 8

type prefetchQueryable struct {
	storage.Queryable
	workers int
	// lookback is the engine's lookback delta, which every query of the
	// engine uses (none sets its own): see prefetchSet.keepFrom.
	lookback int64
	pool     *sync.Pool // *floatSamples
}

func newPrefetchQueryable(q storage.Queryable, workers int, lookback time.Duration) *prefetchQueryable {
	return &prefetchQueryable{Queryable: q, workers: workers, lookback: lookback.Milliseconds(),
		pool: &sync.Pool{New: func() any { return new(floatSamples) }}}
}

func (p *prefetchQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := p.Queryable.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	if p.workers < 1 {
		return q, nil
	}
	return &prefetchQuerier{Querier: q, p: p, mint: mint, maxt: maxt}, nil
}

type prefetchQuerier struct {
	storage.Querier
	p          *prefetchQueryable
	mint, maxt int64
	mu         sync.Mutex
	sets       []*prefetchSet
}

func (q *prefetchQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	inner := q.Querier.Select(ctx, sortSeries, hints, ms...)
	if hints != nil && hints.Func == "series" {
		return inner // labels only: nothing to decode
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &prefetchSet{inner: inner, ctx: ctx, cancel: cancel, q: q, sortSeries: sortSeries, hints: hints, ms: ms, keepFrom: math.MinInt64}
	if hints != nil && hints.Range == 0 && q.p.lookback > 0 {
		// An instant vector selector: the engine selects from Start (its
		// earliest step, less offsets, less the lookback) and at each step
		// T reads the last sample at or before T. No step is earlier than
		// keepFrom, so of the samples up to keepFrom only the last can
		// matter: the workers keep that one, not the lookback window the
		// engine would otherwise step through sample by sample.
		s.keepFrom = hints.Start + q.p.lookback
	}
	q.mu.Lock()
	q.sets = append(q.sets, s)
	q.mu.Unlock()
	return s
}

// Close stops the workers before the queriers they read through close.
func (q *prefetchQuerier) Close() error {
	q.mu.Lock()
	sets := q.sets
	q.mu.Unlock()
	for _, s := range sets {
		s.cancel()
		s.wg.Wait()
	}
	return q.Querier.Close()
}

// prefetchSet is the engine's view of one selection: the series of the
// engine's own querier, their samples decoded by workers. Worker w
// decodes positions w, w+W, ... in order into its channel; the engine
// asks for positions in increasing order, so it takes them off the
// channels in the order they were put on.
type prefetchSet struct {
	inner      storage.SeriesSet
	ctx        context.Context
	cancel     context.CancelFunc
	q          *prefetchQuerier
	sortSeries bool
	hints      *storage.SelectHints
	ms         []*labels.Matcher
	keepFrom   int64 // unix ms: of the samples up to here, only the last is read

	expanded bool
	series   []*prefetchSeries
	pos      int
	wg       sync.WaitGroup
	out      []chan decoded
	last     []int // per worker, the last position taken off its channel
}

type decoded struct {
	pos     int
	samples *floatSamples // nil: not plain floats, or an error; read it the slow way
}

func (s *prefetchSet) Next() bool {
	if !s.expanded {
		s.expand()
	}
	if s.pos >= len(s.series) {
		return false
	}
	s.pos++
	return true
}

func (s *prefetchSet) At() storage.Series                { return s.series[s.pos-1] }
func (s *prefetchSet) Err() error                        { return s.inner.Err() }
func (s *prefetchSet) Warnings() annotations.Annotations { return s.inner.Warnings() }

// expand reads the selection's labels (as the engine does first anyway)
// and starts the workers.
func (s *prefetchSet) expand() {
	s.expanded = true
	for s.inner.Next() {
		s.series = append(s.series, &prefetchSeries{Series: s.inner.At(), set: s, pos: len(s.series)})
	}
	if s.inner.Err() != nil || len(s.series) < minPrefetchSeries {
		return
	}
	w := min(s.q.p.workers, len(s.series)/(minPrefetchSeries/2))
	s.out = make([]chan decoded, w)
	s.last = make([]int, w)
	for i := range s.out {
		s.out[i] = make(chan decoded, prefetchAhead)
		s.last[i] = -1
		s.wg.Add(1)
		go s.work(i)
	}
}

// work decodes positions i, i+W, ... of its own querier's selection,
// which lists the same series in the same order as the engine's unless
// series came or went in between; then it stops, and the engine decodes
// the rest itself.
func (s *prefetchSet) work(i int) {
	defer s.wg.Done()
	defer close(s.out[i])
	q, err := s.q.p.Queryable.Querier(s.q.mint, s.q.maxt)
	if err != nil {
		return
	}
	defer q.Close()
	set := q.Select(s.ctx, s.sortSeries, s.hints, s.ms...)
	var it chunkenc.Iterator
	for pos := 0; set.Next() && pos < len(s.series); pos++ {
		if pos%len(s.out) != i {
			continue
		}
		if s.ctx.Err() != nil {
			return
		}
		own := set.At()
		if !labels.Equal(own.Labels(), s.series[pos].Labels()) {
			return
		}
		d := decoded{pos: pos, samples: s.q.p.pool.Get().(*floatSamples)}
		if it = d.samples.decode(own, it, s.keepFrom); it == nil {
			s.q.p.pool.Put(d.samples)
			d.samples, it = nil, nil
		}
		select {
		case s.out[i] <- d:
		case <-s.ctx.Done():
			return
		}
	}
}

// take returns the decoded samples of pos, nil where they must be read
// from the engine's own querier.
func (s *prefetchSet) take(pos int) *floatSamples {
	if s.out == nil {
		return nil
	}
	w := pos % len(s.out)
	if pos <= s.last[w] {
		return nil // asked again, or out of order
	}
	for d := range s.out[w] {
		s.last[w] = d.pos
		if d.pos == pos {
			return d.samples
		}
		if d.samples != nil {
			s.q.p.pool.Put(d.samples)
		}
		if d.pos > pos {
			return nil
		}
	}
	return nil
}

type prefetchSeries struct {
	storage.Series
	set *prefetchSet
	pos int
}

// Iterator hands over the prefetched samples; the iterator the engine
// passes back is done with, so its arrays go back to the pool.
func (p *prefetchSeries) Iterator(reuse chunkenc.Iterator) chunkenc.Iterator {
	a, ok := reuse.(*prefetched)
	if ok {
		if a.s != nil {
			p.set.q.p.pool.Put(a.s)
		}
		a.s, reuse = nil, nil
	} else {
		a = &prefetched{}
	}
	if fs := p.set.take(p.pos); fs != nil {
		a.s, a.i = fs, -1
		return a
	}
	return p.Series.Iterator(reuse)
}

// floatSamples is one series' samples in the querier's range.
type floatSamples struct{ points []point }

type point struct {
	t int64
	v float64
}

// decode reads s into f, of the samples up to keepFrom only the last; nil
// when s holds anything but plain floats (or fails), which the engine then
// reads itself.
func (f *floatSamples) decode(s storage.Series, it chunkenc.Iterator, keepFrom int64) chunkenc.Iterator {
	f.points = f.points[:0]
	it = s.Iterator(it)
	for {
		switch it.Next() {
		case chunkenc.ValNone:
			if it.Err() != nil {
				return nil
			}
			return it
		case chunkenc.ValFloat:
			if it.AtST() != 0 {
				return nil
			}
			t, v := it.At()
			if n := len(f.points); t <= keepFrom && n > 0 {
				f.points[n-1] = point{t, v} // superseded by this one
				continue
			}
			f.points = append(f.points, point{t, v})
		default:
			return nil
		}
	}
}

// prefetched is a chunkenc.Iterator over one series' decoded samples: the
// engine steps through every sample of a lookback window, and here a
// step is an index increment (the promql package's own iterator over
// points, which also merges histograms, took twice as long).
type prefetched struct {
	s *floatSamples
	i int
}

func (a *prefetched) Next() chunkenc.ValueType {
	if a.i+1 >= len(a.s.points) {
		a.i = len(a.s.points)
		return chunkenc.ValNone
	}
	a.i++
	return chunkenc.ValFloat
}

// unixMillis is int64; named so that go vet's stdmethods check does not
// take this Seek for io.Seeker's.
type unixMillis = int64

func (a *prefetched) Seek(t unixMillis) chunkenc.ValueType {
	a.i = max(a.i, 0)
	pts := a.s.points
	if a.i < len(pts) && pts[a.i].t < t {
		a.i += sort.Search(len(pts)-a.i, func(j int) bool { return pts[a.i+j].t >= t })
	}
	if a.i >= len(pts) {
		return chunkenc.ValNone
	}
	return chunkenc.ValFloat
}

func (a *prefetched) At() (int64, float64) { p := a.s.points[a.i]; return p.t, p.v }
func (a *prefetched) AtT() int64           { return a.s.points[a.i].t }
func (a *prefetched) AtST() int64          { return 0 }
func (a *prefetched) Err() error           { return nil }

// The samples are floats only (decode leaves the rest to the engine).
func (a *prefetched) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return a.AtT(), nil
}

func (a *prefetched) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return a.AtT(), nil
}
