package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/traces"
	"github.com/obs-dev/obs/web"
)

var (
	svcs    = []string{"web-api", "recipe-api", "profile-api", "auth-api", "search-api", "cart-api", "db-proxy", "mailer"}
	ops     = []string{"get /recipes/{id}", "get /recipes", "post /login", "get /profile/{id}", "put /cart/{id}", "get /search", "select", "send"}
	statusC = []int{200, 200, 200, 200, 200, 200, 201, 204, 304, 404, 500}
)

// spanBatch appends n v2 JSON spans of distinct traces shaped like a small
// microservice system's: a server root and client/server pairs below it
// (trace i has 2 + i%9 spans), varied services, span names, paths with
// ids, statuses, durations, some errors, annotations and 128-bit ids, so
// that compression and indexing see data like a user's. Trace numbers
// start at trace0; it returns the next free one.
func spanBatch(b []byte, trace0, n int, ts time.Time) ([]byte, int) {
	b = append(b, '[')
	tr, k, size := trace0, 0, 2+trace0%9
	for i := 0; i < n; i++ {
		if k == size {
			tr, k = tr+1, 0
			size = 2 + tr%9
		}
		h := mix(uint64(tr)<<8 | uint64(k))
		if i > 0 {
			b = append(b, ',')
		}
		tid := fmt.Sprintf("%016x", mix(uint64(tr)))
		if tr%10 == 0 {
			tid = fmt.Sprintf("%016x%s", mix(uint64(tr)^0x5555), tid)
		}
		root := mix(uint64(tr)) | 1
		id := root
		if k > 0 {
			id = mix(root + uint64((k+1)/2))
		}
		svc := svcs[(uint64(tr)+uint64((k+1)/2))%uint64(len(svcs))]
		status := statusC[h%uint64(len(statusC))]
		start := ts.UnixMicro() + int64(k)*1500 + int64(h%700)
		b = fmt.Appendf(b, `{"traceId":"%s","id":"%016x",`, tid, id)
		switch {
		case k == 0:
			b = append(b, `"kind":"SERVER",`...)
		case k%2 == 1:
			b = fmt.Appendf(b, `"parentId":"%016x","kind":"CLIENT","remoteEndpoint":{"serviceName":"%s","ipv4":"10.0.%d.%d","port":8080},`,
				root, svcs[(uint64(tr)+uint64((k+1)/2))%uint64(len(svcs))], h%4, 2+h%200)
			svc = svcs[uint64(tr)%uint64(len(svcs))]
		default:
			b = fmt.Appendf(b, `"parentId":"%016x","kind":"SERVER","shared":true,`, root) // the client's id
		}
		b = fmt.Appendf(b, `"name":"%s","timestamp":%d,"duration":%d,"localEndpoint":{"serviceName":"%s","ipv4":"10.0.%d.%d"},`,
			ops[(h>>8)%uint64(len(ops))], start, 200+int(h>>16)%250000, svc, h%4, 2+(h>>24)%200)
		b = fmt.Appendf(b, `"tags":{"http.method":"%s","http.path":"/recipes/%d","http.status_code":"%d","user":"u%d"`,
			methods[(h>>32)%uint64(len(methods))], (h>>36)%5000, status, (h>>40)%20000)
		if status >= 500 {
			b = append(b, `,"error":"server error"`...)
		}
		b = append(b, '}')
		if h%13 == 0 {
			b = fmt.Appendf(b, `,"annotations":[{"timestamp":%d,"value":"cache miss"}]`, start+50)
		}
		b = append(b, '}')
		k++
	}
	return append(b, ']'), tr + 1
}

func zipkinServer(b *testing.B) (*traces.Store, *httptest.Server) {
	st, err := traces.Open(b.TempDir(), traces.Options{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	web.NewZipkinAPI(web.EmbeddedTraces(st), zipkin.NewCollector(st, 16<<20, nil, nil)).Routes(mux)
	return st, httptest.NewServer(mux)
}

// BenchmarkZipkinIngest POSTs batches of 100 v2 JSON spans of distinct,
// varied traces over HTTP from OBS_BENCH_CLIENTS clients (default 2) for
// OBS_BENCH_SECONDS (default 10). Every 202 means the spans are in the
// WAL on disk (fsynced). The clients build their JSON on the same cores.
func BenchmarkZipkinIngest(b *testing.B) {
	secs := envInt("OBS_BENCH_SECONDS", 10)
	clients := envInt("OBS_BENCH_CLIENTS", 2)
	prebuilt := envInt("OBS_BENCH_PREBUILT", 0) == 1
	for i := 0; i < b.N; i++ {
		st, srv := zipkinServer(b)
		var sent, failed atomic.Int64
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		cpu0 := cpuSeconds()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var body []byte
				var pool []prebuiltBatch
				if prebuilt {
					pool = prebuiltBatches()
				}
				for round := 0; time.Since(start) < time.Duration(secs)*time.Second; round++ {
					if prebuilt {
						body = nextPrebuilt(body, pool, round, next.Add(1))
					} else {
						body, _ = spanBatch(body[:0], int(next.Add(20)), 100, time.Now())
					}
					resp, err := http.Post(srv.URL+"/api/v2/spans", "application/json", bytes.NewReader(body))
					if err != nil || resp.StatusCode != 202 {
						failed.Add(100)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					sent.Add(100)
				}
			}()
		}
		wg.Wait()
		dur := time.Since(start)
		cpu := cpuSeconds() - cpu0
		stored := st.Stats.Stored.Load()
		srv.Close()
		st.Close()
		b.ReportMetric(float64(sent.Load())/dur.Seconds(), "spans/s")
		b.ReportMetric(cpu/float64(max(1, sent.Load()))*1e6, "cpu-s/1M")
		b.Logf("%d clients, batches of 100 for %v: acknowledged %d spans (%.0f/s), stored %d, failed %d, %.1f CPU s per 1M spans (clients included), GOMAXPROCS %d",
			clients, dur.Round(time.Millisecond), sent.Load(), float64(sent.Load())/dur.Seconds(), stored, failed.Load(), cpu/float64(max(1, sent.Load()))*1e6, runtime.GOMAXPROCS(0))
	}
}

// prebuiltBatches are 64 batches of 100 varied spans built once, for
// OBS_BENCH_PREBUILT=1: the clients then spend next to no CPU, so the
// figure is the collector's own on the two cores (a reporter's JSON is
// its app's cost, not obs's; fmt-built batches took 14% of the CPU).
func prebuiltBatches() []prebuiltBatch {
	out := make([]prebuiltBatch, 64)
	tr := 0
	key := []byte(`"traceId":"`)
	for i := range out {
		out[i].body, tr = spanBatch(nil, tr, 100, time.Now())
		body := out[i].body
		for at := 0; ; {
			j := bytes.Index(body[at:], key)
			if j < 0 {
				break
			}
			at += j + len(key)
			end := at + bytes.IndexByte(body[at:], '"')
			out[i].ids = append(out[i].ids, end-8)
			at = end
		}
	}
	return out
}

// prebuiltBatch is one batch and where the last eight hex digits of each of
// its trace ids sit (found once: searching each copy was 4% of the CPU).
type prebuiltBatch struct {
	body []byte
	ids  []int
}

// nextPrebuilt is a copy of one prebuilt batch whose trace ids are made
// new by writing n (the client's batch number) over the last eight hex
// digits of each (the low 64 bits are what a trace is found by, as in
// Zipkin): traces stay distinct, as spanBatch's are, and their spans keep
// their shapes. Timestamps are the build's (seconds old).
func nextPrebuilt(buf []byte, pool []prebuiltBatch, round int, n int64) []byte {
	p := pool[round%len(pool)]
	buf = append(buf[:0], p.body...)
	var hex [8]byte
	const digits = "0123456789abcdef"
	for i := range hex {
		hex[i] = digits[uint32(n)>>(28-4*i)&0xf]
	}
	for _, at := range p.ids {
		copy(buf[at:at+8], hex[:])
	}
	return buf
}

func p50(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkZipkinQueries stores OBS_BENCH_SPANS (default 1,000,000) varied
// spans over the last half hour and one trace of 1,000 spans, then times
// over HTTP: that trace by id, searches, services and a day of
// dependencies.
func BenchmarkZipkinQueries(b *testing.B) {
	n := envInt("OBS_BENCH_SPANS", 1000000)
	st, srv := zipkinServer(b)
	defer st.Close()
	defer srv.Close()
	load := time.Now()
	base := time.Now().Add(-30 * time.Minute)
	var body []byte
	tr := 0
	for i := 0; i < n; i += 1000 {
		body, tr = spanBatch(body[:0], tr, 1000, base.Add(time.Duration(i)*time.Millisecond))
		spans, err := zipkin.DecodeV2JSON(body)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Commit(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
	}
	// One big trace: 1,000 spans.
	var big bytes.Buffer
	big.WriteByte('[')
	for k := 0; k < 1000; k++ {
		if k > 0 {
			big.WriteByte(',')
		}
		parent := ""
		if k > 0 {
			parent = `"parentId":"00000000000f0001",`
		}
		fmt.Fprintf(&big, `{"traceId":"00000000000fffff","id":"%016x",%s"name":"work","timestamp":%d,"duration":10,"localEndpoint":{"serviceName":"big"}}`,
			0xf0000+k+1, parent, base.UnixMicro()+int64(k))
	}
	big.WriteByte(']')
	bigSpans, err := zipkin.DecodeV2JSON(big.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	st.Commit(context.Background(), bigSpans)
	st.Flush()
	b.Logf("loaded %d spans in %v, %.1f bytes per span on disk", n+1000, time.Since(load).Round(time.Millisecond), float64(st.DiskBytes())/float64(n+1000))
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
		ds = ds[:0]
		for r := 0; r < 21; r++ {
			_, id := spanBatch(nil, r*1000, 1, time.Now())
			d, _ := get(fmt.Sprintf("/api/v2/trace/%016x", mix(uint64(id-1))))
			ds = append(ds, d)
		}
		b.ReportMetric(ms(p50(ds)), "trace-p50-ms")
		b.Logf("GET trace by id (a few spans): p50 %.2f ms", ms(p50(ds)))
		for _, q := range []string{
			"serviceName=recipe-api&limit=10",
			"serviceName=web-api&spanName=post+/login&limit=10",
			"serviceName=profile-api&annotationQuery=error&limit=10",
			"serviceName=auth-api&minDuration=240000&limit=10",
			"annotationQuery=http.path%3D/recipes/4242+and+http.method%3DGET&limit=10",
			"serviceName=mailer&remoteServiceName=nobody&limit=10",
		} {
			ds = ds[:0]
			for r := 0; r < 11; r++ {
				d, _ := get(fmt.Sprintf("/api/v2/traces?%s&endTs=%d&lookback=3600000", q, end))
				ds = append(ds, d)
			}
			b.Logf("search over the last hour (%d spans) %-75s p50 %.2f ms", n, q, ms(p50(ds)))
			if q == "serviceName=recipe-api&limit=10" {
				b.ReportMetric(ms(p50(ds)), "search-p50-ms")
			}
		}
		for name, path := range map[string]string{"services": "/api/v2/services",
			"dependencies (1 day)": fmt.Sprintf("/api/v2/dependencies?endTs=%d&lookback=86400000", end)} {
			ds = ds[:0]
			for r := 0; r < 11; r++ {
				d, _ := get(path)
				ds = append(ds, d)
			}
			b.Logf("%s: p50 %.2f ms", name, ms(p50(ds)))
		}
	}
}
