package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/traces"
	"github.com/obs-dev/obs/web"
)

var svcs = []string{"web-api", "recipe-api", "profile-api", "auth-api", "search-api"}

// spanBatch is n v2 JSON spans of traces shaped like the seed's: a server
// span and client/server pairs below it, ten spans per trace.
func spanBatch(trace0 int, n int, ts time.Time) []byte {
	var spans []map[string]any
	for i := 0; i < n; i++ {
		tr := trace0 + i/10
		k := i % 10
		sp := map[string]any{
			"traceId": fmt.Sprintf("%016x", tr+1), "id": fmt.Sprintf("%016x", uint64(tr+1)<<8|uint64(k/2+1)),
			"name": fmt.Sprintf("get /api/%d", k%3), "timestamp": ts.UnixMicro() + int64(k*1000), "duration": 1000 + (tr*37+k*11)%90000,
			"localEndpoint": map[string]any{"serviceName": svcs[(k/2)%len(svcs)], "ipv4": "127.0.0.1"},
			"tags":          map[string]string{"http.method": "GET", "http.path": fmt.Sprintf("/api/%d", k)},
		}
		if k > 0 {
			sp["parentId"] = fmt.Sprintf("%016x", uint64(tr+1)<<8|1)
			if k%2 == 1 {
				sp["kind"] = "CLIENT"
				sp["remoteEndpoint"] = map[string]any{"serviceName": svcs[(k/2+1)%len(svcs)]}
			} else {
				sp["kind"] = "SERVER"
				sp["shared"] = true
			}
		} else {
			sp["kind"] = "SERVER"
		}
		if tr%50 == 0 && k == 3 {
			sp["tags"].(map[string]string)["error"] = "timeout"
		}
		spans = append(spans, sp)
	}
	b, _ := json.Marshal(spans)
	return b
}

func zipkinServer(b *testing.B) (*traces.Store, *httptest.Server) {
	st, err := traces.Open(b.TempDir(), traces.Options{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	web.NewZipkinAPI(st, zipkin.NewCollector(st, 16<<20, nil, nil)).Routes(mux)
	return st, httptest.NewServer(mux)
}

// BenchmarkZipkinIngest POSTs batches of 100 v2 JSON spans over HTTP from
// two clients for OBS_BENCH_SECONDS (default 10).
func BenchmarkZipkinIngest(b *testing.B) {
	secs := envInt("OBS_BENCH_SECONDS", 10)
	for i := 0; i < b.N; i++ {
		st, srv := zipkinServer(b)
		var batches [][]byte
		for j := 0; j < 50; j++ {
			batches = append(batches, spanBatch(j*10, 100, time.Now()))
		}
		var sent, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for c := 0; c < 2; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for k := c; time.Since(start) < time.Duration(secs)*time.Second; k += 2 {
					resp, err := http.Post(srv.URL+"/api/v2/spans", "application/json", bytes.NewReader(batches[k%len(batches)]))
					if err != nil || resp.StatusCode != 202 {
						failed.Add(100)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					sent.Add(100)
				}
			}(c)
		}
		wg.Wait()
		dur := time.Since(start)
		stored := st.Stats.Stored.Load()
		srv.Close()
		st.Close()
		b.ReportMetric(float64(stored)/dur.Seconds(), "spans/s")
		b.Logf("batches of 100 for %v: accepted %d spans (%.0f/s), stored %d, failed %d", dur.Round(time.Millisecond), sent.Load(), float64(sent.Load())/dur.Seconds(), stored, failed.Load())
	}
}

func p50(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkZipkinQueries stores OBS_BENCH_SPANS (default 1,000,000) spans
// and one trace of 1,000 spans, then times GET /api/v2/trace of that trace
// and /api/v2/traces searches, over HTTP.
func BenchmarkZipkinQueries(b *testing.B) {
	n := envInt("OBS_BENCH_SPANS", 1000000)
	st, srv := zipkinServer(b)
	defer st.Close()
	defer srv.Close()
	load := time.Now()
	base := time.Now().Add(-30 * time.Minute)
	for i := 0; i < n; i += 1000 {
		spans, err := zipkin.DecodeV2JSON(spanBatch(i/10, 1000, base.Add(time.Duration(i)*time.Millisecond)))
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Commit(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
	}
	// One big trace: 1,000 spans.
	var big []map[string]any
	for k := 0; k < 1000; k++ {
		sp := map[string]any{"traceId": "00000000000fffff", "id": fmt.Sprintf("%016x", 0xf0000+k+1), "name": "work",
			"timestamp": base.UnixMicro() + int64(k), "duration": 10, "localEndpoint": map[string]any{"serviceName": "big"}}
		if k > 0 {
			sp["parentId"] = fmt.Sprintf("%016x", 0xf0000+1)
		}
		big = append(big, sp)
	}
	bb, _ := json.Marshal(big)
	bigSpans, err := zipkin.DecodeV2JSON(bb)
	if err != nil {
		b.Fatal(err)
	}
	st.Commit(context.Background(), bigSpans)
	b.Logf("loaded %d spans in %v", n+1000, time.Since(load).Round(time.Millisecond))
	get := func(path string) (time.Duration, int) {
		t0 := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return time.Since(t0), len(body)
	}
	end := time.Now().UnixMilli()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ds []time.Duration
		var size int
		for r := 0; r < 21; r++ {
			d, sz := get("/api/v2/trace/00000000000fffff")
			ds = append(ds, d)
			size = sz
		}
		b.ReportMetric(ms(p50(ds)), "trace1000-p50-ms")
		b.Logf("GET trace of 1,000 spans (%d bytes): p50 %.2f ms", size, ms(p50(ds)))
		for _, q := range []string{
			"serviceName=recipe-api&limit=10",
			"serviceName=web-api&spanName=get+/api/1&limit=10",
			"serviceName=profile-api&annotationQuery=error&limit=10",
			"serviceName=auth-api&minDuration=85000&limit=10",
			"annotationQuery=http.path%3D/api/7+and+http.method%3DGET&limit=10",
		} {
			ds = ds[:0]
			for r := 0; r < 11; r++ {
				d, _ := get(fmt.Sprintf("/api/v2/traces?%s&endTs=%d&lookback=86400000", q, end))
				ds = append(ds, d)
			}
			b.Logf("search over %d spans %-60s p50 %.2f ms", n, q, ms(p50(ds)))
			if q == "serviceName=recipe-api&limit=10" {
				b.ReportMetric(ms(p50(ds)), "search-p50-ms")
			}
		}
		ds = ds[:0]
		for r := 0; r < 5; r++ {
			d, _ := get(fmt.Sprintf("/api/v2/dependencies?endTs=%d&lookback=86400000", end))
			ds = append(ds, d)
		}
		b.Logf("dependencies over %d spans: p50 %.2f ms", n, ms(p50(ds)))
	}
}
