package promql

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/obs-dev/obs/store/metrics"
)

// readAll reads every series of a selection the way the engine does:
// labels first, then each series' samples through one reused iterator,
// seeking as a lookback would.
func readAll(t *testing.T, q storage.Queryable, mint, maxt int64, seek int64, ms ...*labels.Matcher) (map[string][]string, int) {
	t.Helper()
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	return readSet(t, qr.Select(context.Background(), false, &storage.SelectHints{Start: mint, End: maxt}, ms...), seek)
}

// readSet returns the samples by series, and how many series came
// prefetched.
func readSet(t *testing.T, set storage.SeriesSet, seek int64) (map[string][]string, int) {
	t.Helper()
	var series []storage.Series
	for set.Next() {
		series = append(series, set.At())
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var it chunkenc.Iterator
	nPrefetched := 0
	for _, s := range series {
		it = s.Iterator(it)
		if _, ok := it.(*prefetched); ok {
			nPrefetched++
		}
		var got []string
		if seek > 0 && it.Seek(seek) != chunkenc.ValNone {
			got = append(got, fmt.Sprint("seek:", it.AtT()))
		}
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				ts, v := it.At()
				got = append(got, fmt.Sprint(ts, "=", v))
			default:
				ts, h := it.AtFloatHistogram(nil)
				got = append(got, fmt.Sprint(ts, "=h", h.Sum))
			}
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		out[s.Labels().String()] = got
	}
	return out, nPrefetched
}

// TestPrefetchReadsWhatTheTSDBReads: the prefetching Queryable hands the
// engine exactly the samples the TSDB's own querier does, histograms
// (read the slow way) included, while samples keep arriving.
func TestPrefetchReadsWhatTheTSDBReads(t *testing.T) {
	s, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	end := time.Now().Add(-time.Minute).Truncate(time.Second).UnixMilli()
	for p := 0; p < 400; p++ {
		var batch []metrics.Sample
		for i := 0; i < 300; i++ {
			if (i+p)%7 == 0 {
				continue // gaps
			}
			batch = append(batch, metrics.Sample{Name: fmt.Sprintf("fleet.host%d.load", i), TS: end - int64(400-p)*1000, Value: float64(p*i) / 7})
		}
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	app := s.DB().Appender(context.Background())
	for p := 0; p < 50; p++ {
		h := &histogram.Histogram{Count: uint64(p), ZeroCount: uint64(p), Sum: float64(p), Schema: 0, ZeroThreshold: 0.001}
		if _, err := app.AppendHistogram(0, labels.FromStrings("__name__", "fleet.host5.hist"), end-int64(50-p)*1000, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writes to other series meanwhile
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Write(context.Background(), []metrics.Sample{{Name: fmt.Sprintf("other.%d", i%500), TS: end + int64(i), Value: 1}})
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "fleet\\..*")
	for _, c := range []struct{ mint, maxt, seek int64 }{
		{0, math.MaxInt64, 0},
		{end - 300_000, end - 100_500, 0},
		{end - 200_000, end, end - 150_000},
		{end - 10_000, end, end},
	} {
		want, _ := readAll(t, s.DB(), c.mint, c.maxt, c.seek, m)
		got, prefetched := readAll(t, prefetching(s), c.mint, c.maxt, c.seek, m)
		if prefetched < len(want)-1 { // all but the histogram
			t.Errorf("%+v: %d of %d series prefetched", c, prefetched, len(want))
		}
		if !reflect.DeepEqual(got, want) {
			for k := range want {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%+v %s:\n got %v\nwant %v", c, k, got[k], want[k])
					break
				}
			}
			t.Fatalf("%+v: prefetched samples differ", c)
		}
	}
}

// TestPrefetchClosedEarly: a query that stops reading (an error, a limit)
// leaves no worker behind.
func TestPrefetchClosedEarly(t *testing.T) {
	s, now := seriesStore(t, 500, 20)
	q, err := prefetching(s).Querier(0, now)
	if err != nil {
		t.Fatal(err)
	}
	set := q.Select(context.Background(), false, &storage.SelectHints{Start: 0, End: now}, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "x.*"))
	for i := 0; i < 3 && set.Next(); i++ {
		set.At().Iterator(nil).Next()
	}
	done := make(chan struct{})
	go func() { q.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits on workers that never stop")
	}
}

// TestPrefetchSeriesChangedMeanwhile: a series that appears between the
// engine's select and the workers' shifts the workers' sorted selection;
// the workers stop and every sample is still read, from the engine's own
// querier.
func TestPrefetchSeriesChangedMeanwhile(t *testing.T) {
	s, now := seriesStore(t, 200, 30)
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "x.*")
	want, _ := readAll(t, s.DB(), 0, now, 0, m)
	q, err := prefetching(s).Querier(0, now)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, &storage.SelectHints{Start: 0, End: now}, m)
	if err := s.Write(context.Background(), []metrics.Sample{{Name: "x", TS: now - 500, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	got, prefetched := readSet(t, set, 0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("samples differ once the selection changed")
	}
	if prefetched != 0 {
		t.Errorf("%d series prefetched from a shifted selection", prefetched)
	}
}

// seriesStore is a store with n series x%03d of points samples 1 s apart
// up to now (unix ms).
func seriesStore(t *testing.T, n, points int) (*metrics.Store, int64) {
	s, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now().UnixMilli()
	var batch []metrics.Sample
	for i := 0; i < n; i++ {
		for p := 0; p < points; p++ {
			batch = append(batch, metrics.Sample{Name: fmt.Sprintf("x%03d", i), TS: now - int64(points-p)*1000, Value: float64(i + p)})
		}
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return s, now
}

// prefetching reads s through two workers, whatever this machine's cores.
func prefetching(s *metrics.Store) storage.Queryable { return newPrefetchQueryable(s.DB(), 2, 0) }

// TestPrefetchAnswersAsTheEngine: PromQL over the prefetching Queryable
// (its workers keep, of an instant selector's samples before its first
// step, only the last) answers every query as the engine over the TSDB
// does: instant and range queries, subqueries, offsets, @, staleness,
// series that stop.
func TestPrefetchAnswersAsTheEngine(t *testing.T) {
	st, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	end := time.Now().Add(-time.Minute).Truncate(time.Second)
	stale := math.Float64frombits(value.StaleNaN)
	for p := 0; p < 1800; p++ {
		ts := end.Add(-time.Duration(1800-p) * time.Second).UnixMilli()
		var batch []metrics.Sample
		for i := 0; i < 150; i++ {
			switch {
			case (p+i)%(3+i%5) != 0: // each series its own interval
				continue
			case i%10 == 3 && p > 1500: // stops: stale after the lookback
				continue
			}
			v := float64(p*(i%7+1)) + float64(i)/3
			if i%25 == 0 && p == 1700 {
				v = stale
			}
			host := fmt.Sprintf("h%03d", i)
			batch = append(batch, metrics.Sample{Name: "load", Labels: []metrics.Label{{Name: "host", Value: host}}, TS: ts, Value: v},
				metrics.Sample{Name: "fleet." + host + ".count", TS: ts + 500, Value: v * 2})
		}
		if err := st.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	plain, fetching := newEngine(st.DB(), 0), newEngine(st.DB(), 2)
	exprs := []string{
		`count(load)`, `sum(load)`, `max(timestamp(load))`, `min(timestamp({__name__=~"fleet\\..+"}))`,
		`rate(sum({__name__=~"fleet\\..+\\.count"})[5m:10s])`, `max_over_time(sum(load)[3m:7s])`,
		`sum(load offset 2m)`, `count(load offset -1m)`, fmt.Sprintf(`sum(load @ %d)`, end.Add(-10*time.Minute).Unix()), `sum(load @ end())`, `sum(rate(load[1m]))`,
		`sum by (host) (load) > 1000`, `count(load < 100 or load > 500)`, `topk(3, load)`,
		`count({__name__=~"fleet\\..+"})`, `count(count_over_time(load[2m:15s] offset 30s))`,
	}
	// answer runs expr on e, as an instant query at at, or a range query
	// of the 20 minutes up to at when step > 0.
	answer := func(e *Engine, expr string, at time.Time, step time.Duration) string {
		d, err := e.Instant(context.Background(), expr, at)
		if step > 0 {
			d, err = e.Range(context.Background(), expr, at.Add(-20*time.Minute), at, step)
		}
		// Execution errors are part of the answer: both engines must fail alike.
		return fmt.Sprint(d.ResultType, d.Result, err)
	}
	for _, expr := range exprs {
		for _, c := range []struct {
			at   time.Time
			step time.Duration
		}{
			{end, 0}, {end.Add(-6 * time.Minute), 0}, {end.Add(-25*time.Minute - 3*time.Second), 0}, {end.Add(-1790 * time.Second), 0},
			{end, time.Second}, {end, 15 * time.Second}, {end, 7 * time.Minute},
		} {
			if want, got := answer(plain, expr, c.at, c.step), answer(fetching, expr, c.at, c.step); got != want {
				t.Errorf("%s at -%v step %v:\n got %.300s\nwant %.300s", expr, end.Sub(c.at), c.step, got, want)
			}
		}
	}
}
