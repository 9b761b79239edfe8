package statsd

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func stats(values []float64, count, secs float64, pcts []float64) map[string]float64 {
	out := map[string]float64{}
	for _, s := range TimerStats(values, count, secs, pcts, nil) {
		out[s.Name] = s.Value
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The numbers are the Etsy suite's (test/process_metrics_tests.js).
func TestTimerStatsEtsy(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []float64
		pcts   []float64
		want   map[string]float64
	}{
		{"single", []float64{100}, []float64{90}, map[string]float64{"std": 0, "upper": 100, "lower": 100, "count": 1, "count_ps": 5, "sum": 100, "sum_squares": 10000, "mean": 100, "median": 100, "mean_90": 100, "upper_90": 100, "count_90": 1}},
		{"three", []float64{100, 200, 300}, []float64{90}, map[string]float64{"std": 81.64965809277261, "upper": 300, "lower": 100, "count": 3, "count_ps": 15, "sum": 600, "sum_squares": 140000, "mean": 200, "median": 200, "mean_90": 200, "upper_90": 300, "sum_90": 600, "sum_squares_90": 140000, "count_90": 3}},
		{"two thresholds", []float64{100, 200, 300}, []float64{90, 80}, map[string]float64{"count_90": 3, "mean_90": 200, "upper_90": 300, "sum_90": 600, "sum_squares_90": 140000,
			"count_80": 2, "mean_80": 150, "upper_80": 200, "sum_80": 300, "sum_squares_80": 50000}},
		{"top", []float64{10, 10, 10, 10, 10, 10, 10, 10, 100, 200}, []float64{-20}, map[string]float64{"mean_top20": 150, "lower_top20": 100, "sum_top20": 300, "sum_squares_top20": 50000, "count_top20": 2}},
		{"median even", []float64{300, 200, 400, 100}, []float64{90}, map[string]float64{"median": 250}},
		{"decimal threshold", []float64{100, 200, 300}, []float64{99.9}, map[string]float64{"count_99_9": 3, "upper_99_9": 300}},
	} {
		got := stats(c.values, float64(len(c.values)), 0.2, c.pcts)
		for k, w := range c.want {
			if g, ok := got[k]; !ok || !near(g, w) {
				t.Errorf("%s: %s = %v (present %v), want %v", c.name, k, g, ok, w)
			}
		}
	}
}

func flushMap(a *Aggregator, at time.Time) map[string]float64 {
	out := map[string]float64{}
	for _, s := range a.Flush(at) {
		k := s.Name
		if len(s.Labels) > 0 {
			k += fmt.Sprint(s.Labels)
		}
		out[k] = s.Value
	}
	return out
}

func TestAggregatorEtsy(t *testing.T) {
	a := NewAggregator(Options{FlushInterval: 200 * time.Millisecond})
	a.AddLines([]byte("a_test_value:100|c"), nil)
	a.AddLines([]byte("timer:100|ms|@0.1"), nil)
	a.AddLines([]byte("g:50|g\ng:-3|g"), nil)
	a.AddLines([]byte("zero:0|g\nzero:-3|g"), nil) // -3 on a zero gauge sets it
	a.AddLines([]byte("multi:1|c:2|ms"), nil)
	a.AddLines([]byte("u:a|s\nu:b|s\nu:a|s"), nil)
	a.AddLines([]byte("bad\nbad:1\nbad:1|x\nbad:x|c\nbad:1|c|@-1\nbad:NaN|g\nbad:Inf|c"), nil)
	a.AddLines([]byte("my key/with spaces!:1|c"), nil)
	got := flushMap(a, time.Now())
	for k, w := range map[string]float64{
		"stats.a_test_value": 500, "stats_counts.a_test_value": 100,
		"stats.timers.timer.count": 10, "stats.timers.timer.count_ps": 50, "stats.timers.timer.upper": 100,
		"stats.gauges.g": 47, "stats.gauges.zero": -3,
		"stats_counts.multi": 1, "stats.timers.multi.count": 1,
		"stats.sets.u.count":                 2,
		"stats_counts.statsd.bad_lines_seen": 7, "stats_counts.statsd.packets_received": 8,
		"stats_counts.my_key-with_spaces": 1,
	} {
		if g, ok := got[k]; !ok || !near(g, w) {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	// Second flush: counters reset and still sent, timers empty, gauges kept, sets empty.
	got = flushMap(a, time.Now())
	for k, w := range map[string]float64{"stats_counts.a_test_value": 0, "stats.timers.timer.count": 0, "stats.gauges.g": 47, "stats.sets.u.count": 0, "stats_counts.statsd.packets_received": 0} {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("second flush %s = %v (present %v), want %v", k, g, ok, w)
		}
	}
}

func TestDeleteIdleStats(t *testing.T) {
	a := NewAggregator(Options{DeleteIdleStats: true})
	a.AddLines([]byte("c:1|c\nt:1|ms\ng:1|g\ns:1|s"), nil)
	a.Flush(time.Now())
	got := flushMap(a, time.Now())
	for _, k := range []string{"stats_counts.c", "stats.timers.t.count", "stats.gauges.g", "stats.sets.s.count"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s still flushed with deleteIdleStats", k)
		}
	}
	if _, ok := got["stats_counts.statsd.packets_received"]; !ok {
		t.Error("internal counters must stay")
	}
}

func TestDogStatsD(t *testing.T) {
	a := NewAggregator(Options{FlushInterval: time.Second})
	var events []string
	a.AddLines([]byte(strings.Join([]string{
		"page.views:1|c|#env:prod,region:eu",
		"page.views:2|c|#region:eu,env:prod", // same series, tags in another order
		"page.views:5|c|#env:dev",
		"lat:1:2:3|ms|#svc:web",
		"lat2:10|h", "lat3:20|d",
		"g.ts:7|g|T1700000000",
		"_e{5,4}:title|text|#env:prod",
		"_sc|db.check|0|#env:prod",
		"cont:1|c|c:abc123|#x:y",
	}, "\n")), func(k LineKind, line []byte) { events = append(events, string(line)) })
	got := flushMap(a, time.Now())
	for k, w := range map[string]float64{
		"stats_counts.page.views[{env prod} {region eu}]": 3,
		"stats_counts.page.views[{env dev}]":              5,
		"stats.timers.lat.count[{svc web}]":               3,
		"stats.timers.lat.upper[{svc web}]":               3,
		"stats.timers.lat2.count":                         1,
		"stats.timers.lat3.upper":                         20,
		"stats.gauges.g.ts":                               7,
		"stats_counts.cont[{x y}]":                        1,
		"stats_counts.statsd.bad_lines_seen":              0,
	} {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if len(events) != 2 {
		t.Fatalf("events %v", events)
	}
}

func TestSeriesCap(t *testing.T) {
	a := NewAggregator(Options{MaxSeries: 3})
	for i := 0; i < 10; i++ {
		a.AddLines([]byte(fmt.Sprintf("m%d:1|c", i)), nil)
	}
	if a.Rejected != 7 {
		t.Fatalf("rejected %d", a.Rejected)
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]float64{"1": 1, "-3": -3, "+3": 3, "0.1": 0.1, "123.456": 123.456, "1e3": 1000, " 5 ": 5, "12345678901234567890": 12345678901234567890} {
		if got, ok := parseNumber([]byte(in)); !ok || got != want {
			t.Errorf("%q = %v %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "-", "+", ".", "x", "1x", "NaN", "Inf", "1e400", "--1"} {
		if _, ok := parseNumber([]byte(bad)); ok {
			t.Errorf("%q: want invalid", bad)
		}
	}
}

func TestParseLineNoAlloc(t *testing.T) {
	line := []byte("web-api.inbound.response_code.200:1|c|@0.5")
	n := testing.AllocsPerRun(1000, func() { ParseLine(line, func(Metric) {}) })
	if n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
	a := NewAggregator(Options{})
	a.AddLines(line, nil)
	n = testing.AllocsPerRun(1000, func() { a.AddLines(line, nil) })
	if n != 0 {
		t.Fatalf("aggregating a known counter: %v allocations", n)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"a:1|c", "a:1|c:2|ms", "a:1:2:3|ms|@0.1|#k:v,t", "a:x|s", "a|c", ":1|c", "a:1|c|T123", "a:1|g|c:abc|#a:b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseLine(b, func(m Metric) {
			if m.Type != Set && (math.IsNaN(m.Num) || math.IsInf(m.Num, 0)) {
				t.Fatalf("%q gave %v", b, m.Num)
			}
			if m.Rate <= 0 {
				t.Fatalf("%q: rate %v", b, m.Rate)
			}
		})
		a := NewAggregator(Options{})
		a.AddLines(b, func(LineKind, []byte) {})
		for _, s := range a.Flush(time.Now()) {
			if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
				t.Fatalf("%q flushed %s = %v", b, s.Name, s.Value)
			}
		}
	})
}

// BenchmarkAddLines measures parse + aggregate of one 20-line datagram.
func BenchmarkAddLines(b *testing.B) {
	var lines []string
	for i := 0; i < 20; i++ {
		lines = append(lines, fmt.Sprintf("web-api.bench.m%d.n%d:%d|%s", i%50, i, i*7%500, []string{"c", "ms", "g", "c|@0.5"}[i%4]))
	}
	pkt := []byte(strings.Join(lines, "\n"))
	a := NewAggregator(Options{})
	b.ReportAllocs()
	b.SetBytes(20)
	for i := 0; i < b.N; i++ {
		a.AddLines(pkt, nil)
		if i%100000 == 0 {
			a.Flush(time.Now())
		}
	}
	b.ReportMetric(float64(b.N)*20/b.Elapsed().Seconds(), "lines/s")
}

func TestHistogramBins(t *testing.T) {
	a := NewAggregator(Options{Histogram: []HistogramConf{{Metric: "req", Bins: []float64{10, 100, math.Inf(1)}}}})
	a.AddLines([]byte("req.time:5|ms\nreq.time:50|ms\nreq.time:60|ms\nreq.time:500|ms\nother:5|ms"), nil)
	got := flushMap(a, time.Now())
	for k, w := range map[string]float64{"stats.timers.req.time.histogram.bin_10": 1, "stats.timers.req.time.histogram.bin_100": 2, "stats.timers.req.time.histogram.bin_inf": 1} {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if _, ok := got["stats.timers.other.histogram.bin_10"]; ok {
		t.Error("bins for a timer the option does not name")
	}
}

type collect struct {
	mu sync.Mutex
	s  []Sample
}

func (c *collect) Write(_ context.Context, s []Sample) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = append(c.s, s...)
	return nil
}

// TestFinalFlushOnClose: what arrived since the last flush is not lost at shutdown.
func TestFinalFlushOnClose(t *testing.T) {
	sink := &collect{}
	srv := &Server{Addr: "127.0.0.1:0", Agg: NewAggregator(Options{FlushInterval: time.Hour}), Sink: sink}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := net.Dial("udp", srv.UDPAddr().String())
	c.Write([]byte("shutdown.test:4|c"))
	c.Close()
	tc, _ := net.Dial("tcp", srv.UDPAddr().String())
	tc.Write([]byte("shutdown.tcp:2|c\n"))
	tc.Close()
	// Both must have arrived before the close: on a busy machine that
	// can take a while, so wait for it (the test's -timeout bounds it).
	for {
		if p, _ := srv.Agg.Totals(); p >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Close()
	found := map[string]float64{}
	for _, s := range sink.s {
		found[s.Name] = s.Value
	}
	if found["stats_counts.shutdown.test"] != 4 || found["stats_counts.shutdown.tcp"] != 2 {
		t.Fatalf("final flush: %v", found)
	}
}

// TestRefusedValues: values that would break the store or poison an
// aggregate are bad lines, and nothing else is lost.
func TestRefusedValues(t *testing.T) {
	future := time.Now().Add(time.Hour).Unix()
	for _, c := range []struct {
		lines string
		bad   float64
		check string
		want  float64
	}{
		{"x:1e308|c\nx:1e308|c", 1, "stats_counts.x", 1e308},
		{"x:1|c|@1e-320\nx:2|c", 1, "stats_counts.x", 2},
		{"x:1e200|ms\nx:3|ms", 1, "stats.timers.x.sum", 3},
		{"x:1e308|g\nx:+1e308|g", 1, "stats.gauges.x", 1e308},
		{"x:-1|ms\nx:4|ms", 1, "stats.timers.x.count", 1},
		{"x:-1|h", 0, "stats.timers.x.lower", -1},
		{"x:1|g|T32503680000\nx:2|g", 1, "stats.gauges.x", 2},
		{fmt.Sprintf("x:1|c|T%d\nx:5|c", future), 1, "stats_counts.x", 5},
	} {
		a := NewAggregator(Options{})
		a.AddLines([]byte(c.lines), nil)
		got := flushMap(a, time.Now())
		if got["stats_counts.statsd.bad_lines_seen"] != c.bad || got[c.check] != c.want {
			t.Errorf("%q: bad lines %v (want %v), %s = %v (want %v)", c.lines, got["stats_counts.statsd.bad_lines_seen"], c.bad, c.check, got[c.check], c.want)
		}
		if got["stats_counts.statsd.metrics_received"] != float64(strings.Count(c.lines, "\n")+1) {
			t.Errorf("%q: metrics_received %v: Etsy counts every line", c.lines, got["stats_counts.statsd.metrics_received"])
		}
	}
}
