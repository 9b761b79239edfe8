package graphite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/metrics"
)

// timerStats are the series Etsy statsd writes per timer (percentThreshold 90).
var timerStats = []string{"count", "count_ps", "lower", "upper", "mean", "sum", "sum_squares", "median", "std",
	"upper_90", "mean_90", "sum_90", "sum_squares_90", "count_90"}

// BenchmarkRenderSoakHour is the soak's one-hour render at its end: the
// upper_90 of 2,000 timers with a point every 10 s, among the 34,000
// names StatsD wrote for them (timers, counters, gauges). Its bytes/op
// are what each of the soak's renders allocates, a share that grows with
// the soak's name set (11.3 MB a render at its end with a grid per
// series; 2.4 MB summed as the samples are read, FetchAggregate).
func BenchmarkRenderSoakHour(b *testing.B) {
	st, err := metrics.Open(b.TempDir(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const timers = 2000
	end := time.Now().Truncate(10 * time.Second)
	var batch []metrics.Sample
	flush := func() {
		if err := st.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for k := 0; k < timers; k++ {
		for _, stat := range timerStats {
			n := 1
			if stat == "upper_90" {
				n = 360
			}
			for i := n - 1; i >= 0; i-- {
				batch = append(batch, metrics.Sample{Name: fmt.Sprintf("stats.timers.soak.m%d.%s", k, stat),
					TS: end.Add(-time.Duration(i) * 10 * time.Second).UnixMilli(), Value: float64(k + i)})
			}
		}
		for _, n := range []string{"stats.soak.c%d", "stats_counts.soak.c%d", "stats.gauges.soak.g%d"} {
			batch = append(batch, metrics.Sample{Name: fmt.Sprintf(n, k), TS: end.UnixMilli(), Value: 1})
		}
		flush()
	}
	f := StoreFetcher{Store: st, BaseStep: 10}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ss, err := Eval(context.Background(), f, "sumSeries(stats.timers.soak.m*.upper_90)", end.Unix()-3600, end.Unix())
		if err != nil || len(ss) != 1 {
			b.Fatal(ss, err)
		}
	}
}
