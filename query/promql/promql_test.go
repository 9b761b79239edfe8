package promql

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/metrics"
)

// fleet writes series x points samples 1 s apart ending at end, in time
// order as carbon delivers them: counters that grow by varying steps.
func fleet(tb testing.TB, st *metrics.Store, series, points int, end time.Time) {
	batch := make([]metrics.Sample, 0, series)
	for p := 0; p < points; p++ {
		ts := end.Add(-time.Duration(points-1-p) * time.Second).UnixMilli()
		batch = batch[:0]
		for s := 0; s < series; s++ {
			v := float64(p*(s%7+1) + (p*31+s*17)%10)
			batch = append(batch, metrics.Sample{Name: fmt.Sprintf("ceo.host%d.requests.count", s), TS: ts, Value: v})
		}
		if err := st.Write(context.Background(), batch); err != nil {
			tb.Fatal(err)
		}
	}
}

const subquery = `rate(sum({__name__=~"ceo\\.host[0-9]+\\.requests\\.count"})[5m:10s])`

// TestSubqueryOverManySeries checks the subquery the benchmark times
// against the sum computed here: every series grows by (s%7+1) a second
// plus a wobble, so the sum's rate over 5m is close to their sum.
func TestSubqueryOverManySeries(t *testing.T) {
	st, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	end := time.Now().Add(-time.Minute).Truncate(time.Second)
	fleet(t, st, 100, 900, end)
	e := New(st.Queryable())
	d, err := e.Instant(context.Background(), subquery, end)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := d.Result.([]map[string]any)
	got := math.NaN()
	if len(v) == 1 {
		got, _ = strconv.ParseFloat(v[0]["value"].([]any)[1].(string), 64)
	}
	want := 0.0
	for s := 0; s < 100; s++ {
		want += float64(s%7 + 1)
	}
	if len(v) != 1 || math.Abs(got-want) > want*0.05 {
		t.Fatalf("got %v, want about %v", v, want)
	}
}

// BenchmarkSubquery1000Series is the query ../shared/peers/run.sh times
// (1,000 series of 1 s samples, a 5m:10s subquery over their sum: every
// sample of the last 10 minutes is read), on the engine without HTTP:
// over the TSDB as it is (tsdb) and over the store's Queryable, which
// decodes series on all cores ahead of the engine (prefetch).
func BenchmarkSubquery1000Series(b *testing.B) {
	st, err := metrics.Open(b.TempDir(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	end := time.Now().Add(-90 * time.Second).Truncate(time.Second)
	fleet(b, st, 1000, 1200, end)
	for _, c := range []struct {
		name    string
		workers int
	}{{"tsdb", 0}, {"prefetch1", 1}, {"prefetch2", 2}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(st.Queryable(), c.workers)
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := e.Instant(context.Background(), subquery, end); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N)*1000, "cpu-ms/op")
		})
	}
}

// cpuSeconds is this process's user+system CPU time: on a shared machine
// the steadier figure than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
