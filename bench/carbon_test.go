package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/statsd"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/web"
)

// carbonKinds are the metric shapes of a fleet reporting over carbon:
// counters that grow, gauges that wander, latencies with decimals, some
// with carbon tags.
var carbonKinds = []string{"requests.count", "cpu.load", "latency.p99", "disk.used;dc=east;tier=db", "errors.count;app=web-api"}

// carbonLine appends point p of series s: varied names (hosts, kinds,
// tags), values that differ from point to point as real ones do.
func carbonLine(b []byte, s, p int, ts int64) []byte {
	h := mix(uint64(s*1000003 + p))
	kind := carbonKinds[s%len(carbonKinds)]
	name, tags, _ := cutSemicolon(kind)
	b = fmt.Appendf(b, "fleet.dc%d.host%d.%s", s%3, s, name)
	if tags != "" {
		b = append(b, ';')
		b = append(b, tags...)
	}
	b = append(b, ' ')
	switch s % len(carbonKinds) {
	case 0, 4: // counters: grow by a varying step
		b = strconv.AppendInt(b, int64(p)*int64(s%7+1)+int64(h%10), 10)
	case 1: // load averages
		b = strconv.AppendFloat(b, float64(h%400)/100, 'f', 2, 64)
	case 2: // milliseconds with a fraction
		b = strconv.AppendFloat(b, 20+float64(h%80000)/1000, 'f', -1, 64)
	default: // bytes
		b = strconv.AppendInt(b, 1<<30+int64(h%(1<<20))*4096, 10)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts, 10)
	return append(b, '\n')
}

func cutSemicolon(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ';' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// carbonPayload is what each of conns connections sends: it owns series
// c, c+conns, ... and sends them point by point, so every series arrives
// in time order (as ../shared/peers/loadgen does), ending at end.
func carbonPayload(series, points, conns int, end int64) [][]byte {
	out := make([][]byte, conns)
	for c := range out {
		var b []byte
		for p := 0; p < points; p++ {
			ts := end - int64(points-1-p)
			for s := c; s < series; s += conns {
				b = carbonLine(b, s, p, ts)
			}
		}
		out[c] = b
	}
	return out
}

func sendTCP(b *testing.B, addr string, payloads [][]byte) {
	var wg sync.WaitGroup
	for _, p := range payloads {
		wg.Add(1)
		go func(p []byte) {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			for len(p) > 0 {
				k := min(256<<10, len(p))
				if _, err := conn.Write(p[:k]); err != nil {
					b.Error(err)
					return
				}
				p = p[k:]
			}
		}(p)
	}
	wg.Wait()
}

func waitWritten(st *metrics.Store, want int64, quiet time.Duration) int64 {
	last, changed := st.Written.Load(), time.Now()
	for last < want && time.Since(changed) < quiet {
		time.Sleep(5 * time.Millisecond)
		if n := st.Written.Load(); n != last {
			last, changed = n, time.Now()
		}
	}
	return last
}

// BenchmarkCarbonIngest sends OBS_BENCH_CARBON_SERIES (default 1,000)
// series x OBS_BENCH_CARBON_POINTS (default 1,200) points of carbon
// plaintext over 4 TCP connections into the real listener and a TSDB on
// disk, and reports CPU seconds per million samples (this process: the
// listener, the TSDB and the sender's socket writes; the payload is built
// before the clock starts).
func BenchmarkCarbonIngest(b *testing.B) {
	series := envInt("OBS_BENCH_CARBON_SERIES", 1000)
	points := envInt("OBS_BENCH_CARBON_POINTS", 1200)
	n := int64(series * points)
	payload := carbonPayload(series, points, 4, time.Now().Unix()-90)
	bytes := 0
	for _, p := range payload {
		bytes += len(p)
	}
	for i := 0; i < b.N; i++ {
		st, err := metrics.Open(b.TempDir(), metrics.Options{})
		if err != nil {
			b.Fatal(err)
		}
		c := &statsd.Carbon{Addr: "127.0.0.1:0", Sink: st}
		if err := c.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0, start := cpuSeconds(), time.Now()
		sendTCP(b, c.TCPAddr().String(), payload)
		got := waitWritten(st, n, 2*time.Second)
		took, cpu := time.Since(start), cpuSeconds()-cpu0
		runtime.ReadMemStats(&m1)
		c.Close()
		st.Close()
		if got != n {
			b.Errorf("stored %d of %d samples", got, n)
		}
		b.ReportMetric(float64(got)/took.Seconds(), "samples/s")
		b.ReportMetric(cpu/float64(got)*1e6, "cpu-s/1M")
		allocs := float64(m1.Mallocs-m0.Mallocs) / float64(got)
		b.ReportMetric(allocs, "allocs/sample")
		b.Logf("%d series x %d points (%d B, avg %d B/line): %d stored in %v, %.0f samples/s, %.2f CPU s per 1M, %.2f allocations and %d GC cycles per 1M",
			series, points, bytes, bytes/int(n), got, took.Round(time.Millisecond), float64(got)/took.Seconds(), cpu/float64(got)*1e6,
			allocs, int64(m1.NumGC-m0.NumGC)*1e6/got)
	}
}

// BenchmarkPromQLSubquery stores 1,000 series x 1,200 points of 1 s (as
// BenchmarkCarbonIngest) and times, over HTTP, the query
// ../shared/peers/run.sh puts to obs and VictoriaMetrics: the rate of the
// sum of all 1,000 series through a 5m:10s subquery, which reads every
// sample of every series in the window; then sum(rate()) over 200.
func BenchmarkPromQLSubquery(b *testing.B) {
	series := envInt("OBS_BENCH_CARBON_SERIES", 1000)
	points := envInt("OBS_BENCH_CARBON_POINTS", 1200)
	end := time.Now().Unix() - 90
	st, err := metrics.Open(b.TempDir(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c := &statsd.Carbon{Addr: "127.0.0.1:0", Sink: st}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	sendTCP(b, c.TCPAddr().String(), carbonPayload(series, points, 4, end))
	waitWritten(st, int64(series*points), 2*time.Second)
	c.Close()
	srv := web.New(web.Deps{Registry: prometheus.NewRegistry(), Health: web.NewHealth(), Metrics: st, MetricsStep: 10 * time.Second,
		Security: web.Security{Loopback: true}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, tc := range []struct{ unit, q string }{
		{"ms-p50-subquery", `rate(sum({__name__=~"fleet\\.dc[0-9]\\.host[0-9]+\\..+"})[5m:10s])`},
		{"ms-p50-rate", `sum(rate({__name__=~"fleet\\.dc[0-9]\\.host[0-9]+\\.cpu\\.load"}[5m]))`},
	} {
		q := tc.q
		u := ts.URL + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(end, 10)}}.Encode()
		var took []time.Duration
		var body []byte
		for i := 0; i < 20*b.N; i++ {
			t0 := time.Now()
			req, _ := http.NewRequest("GET", u, nil)
			req.Host = "127.0.0.1"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			took = append(took, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Fatalf("%s: %d %s", q, resp.StatusCode, body)
			}
		}
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		json.Unmarshal(body, &r)
		if len(r.Data.Result) != 1 {
			b.Fatalf("%s: %s", q, body)
		}
		b.ReportMetric(ms(p50(took)), tc.unit)
		b.Logf("%s: p50 %.2f ms over %d queries (value %v)", q, ms(p50(took)), len(took), r.Data.Result[0].Value[1])
	}
}
