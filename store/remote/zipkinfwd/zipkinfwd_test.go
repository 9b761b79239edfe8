package zipkinfwd

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/traces"
)

// collector is a Zipkin v2 collector that decodes what it gets with
// obs's own decoder and answers with the statuses a test queues up.
type collector struct {
	mu       sync.Mutex
	got      map[string]bool // span ids
	dups     int
	requests int
	gzipped  int
	ctype    string
	answers  []int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.answers) > 0 {
		code := c.answers[0]
		c.answers = c.answers[1:]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, "no", code)
		return
	}
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		rd = zr
		c.gzipped++
	}
	var spans []model.SpanModel
	if err := json.NewDecoder(rd).Decode(&spans); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	c.requests++
	c.ctype = r.Header.Get("Content-Type")
	for _, s := range spans {
		id := s.ID.String()
		if c.got[id] {
			c.dups++
		}
		c.got[id] = true
	}
	w.WriteHeader(http.StatusAccepted)
}

func (c *collector) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.got) }

// spans are n spans of one trace as obs's collector hands them on: the
// model and its JSON.
func spans(t testing.TB, first, n int) []traces.Span {
	t.Helper()
	out := make([]traces.Span, n)
	for i := range out {
		m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 0xa1}, ID: model.ID(first + i + 1)},
			Name: "get", Timestamp: time.UnixMicro(1700000000000000), Duration: 5 * time.Microsecond,
			LocalEndpoint: &model.Endpoint{ServiceName: "web"}}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = traces.Span{Model: m, JSON: b}
	}
	return out
}

func start(t *testing.T, dir, url string) (*Forwarder, context.CancelFunc, chan struct{}) {
	t.Helper()
	f, err := Open(dir, Options{Endpoint: endpoint.Config{URL: url, Timeout: 2 * time.Second},
		BatchSpans: 100, SyncEvery: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	return f, cancel, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestForwardJoinsRetriesAndRefusals(t *testing.T) {
	c := &collector{got: map[string]bool{}, answers: []int{503, 429, 500}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	f, cancel, done := start(t, t.TempDir(), srv.URL+"/api/v2/spans")
	defer func() { cancel(); <-done; f.Close() }()
	// 50 posts of 5 spans: joined into requests of up to 100 spans.
	for i := range 50 {
		if err := f.Commit(context.Background(), spans(t, i*5, 5)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "250 spans after 503, 429, 500", func() bool { return c.count() == 250 && f.Stats().Sent == 250 })
	if s := f.Stats(); s.Retries != 3 || s.DroppedTotal() != 0 || s.Pending != 0 || s.Queued != 250 {
		t.Errorf("stats %+v", s)
	}
	c.mu.Lock()
	if c.requests > 10 || c.ctype != "application/json" || c.dups != 0 || c.gzipped != c.requests {
		t.Errorf("%d requests for 50 posts (want them joined), %d gzipped, content type %q, %d duplicates", c.requests, c.gzipped, c.ctype, c.dups)
	}
	// A 400 is the collector refusing the spans for good: dropped, counted.
	c.answers = []int{400}
	c.mu.Unlock()
	f.Commit(context.Background(), spans(t, 1000, 7))
	waitFor(t, "the refusal", func() bool { return f.Stats().Dropped["rejected"] == 7 })
	f.Commit(context.Background(), spans(t, 2000, 3))
	waitFor(t, "the spans after", func() bool { return c.count() == 253 })
	if st, detail := f.Health(); st != "DEGRADED" || !strings.Contains(detail, "7 dropped") {
		t.Errorf("health %s %q", st, detail)
	}
}

func TestOutageAndRestartLoseNothing(t *testing.T) {
	dir := t.TempDir()
	c := &collector{got: map[string]bool{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	url := "http://" + addr + "/api/v2/spans"
	f, cancel, done := start(t, dir, url)
	for i := range 40 {
		f.Commit(context.Background(), spans(t, i*25, 25))
	}
	waitFor(t, "the retries", func() bool { return f.Stats().Retries > 0 })
	if st, _ := f.Health(); st != "DEGRADED" {
		t.Errorf("health %s while the collector is down", st)
	}
	cancel()
	<-done
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: c}}
	srv.Start()
	defer srv.Close()
	f, cancel, done = start(t, dir, url)
	defer func() { cancel(); <-done; f.Close() }()
	waitFor(t, "1000 spans", func() bool { return c.count() == 1000 })
	waitFor(t, "the queue to drain", func() bool { return f.Stats().Pending == 0 })
	if c.dups != 0 {
		t.Errorf("%d duplicates", c.dups)
	}
}

func TestJoin(t *testing.T) {
	got := string(Join([][]byte{[]byte(`[{"a":1}]`), []byte(` [] `), []byte(`[{"b":2},{"c":3}]`)}))
	if got != `[{"a":1},{"b":2},{"c":3}]` {
		t.Fatal(got)
	}
}

func BenchmarkCommit(b *testing.B) {
	f, err := Open(b.TempDir(), Options{Endpoint: endpoint.Config{URL: "http://127.0.0.1:1/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	batch := spans(b, 0, 100)
	b.ResetTimer()
	for range b.N {
		f.Commit(context.Background(), batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "spans/s")
}

func TestIsOTLP(t *testing.T) {
	for u, want := range map[string]bool{"http://j:4318/v1/traces": true, "http://vt:10428/insert/opentelemetry/v1/traces/": true,
		"http://j:9411/api/v2/spans": false, "http://j:4318/v1/tracesx": false} {
		if IsOTLP(u) != want {
			t.Errorf("IsOTLP(%s) = %v", u, !want)
		}
	}
}

// JoinOTLP makes of Zipkin fields what the OpenTelemetry zipkin receiver
// makes of them (the e2e test reads them back from Jaeger).
func TestJoinOTLP(t *testing.T) {
	lists := [][]byte{[]byte(`[{"traceId":"5af7183fb1d4cf5f00000000000000a1","parentId":"000000000000000a","id":"000000000000000b","name":"get","kind":"CLIENT","timestamp":1700000000000001,"duration":60000,
	"localEndpoint":{"serviceName":"web-api","ipv4":"10.0.0.1"},"remoteEndpoint":{"serviceName":"recipe-api","ipv6":"2001:db8::2","port":9000},
	"tags":{"error":"timeout","http.path":"/x"},"annotations":[{"timestamp":1700000000000002,"value":"wr"}]}]`),
		[]byte(`[{"traceId":"00000000000000b2","id":"0000000000000001","name":"nots","duration":5,"tags":{"error":"true"}}]`)}
	var req otlpRequest
	if err := json.Unmarshal(JoinOTLP(lists), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.ResourceSpans) != 2 {
		t.Fatalf("%d resources, want one per local service (and none)", len(req.ResourceSpans))
	}
	noSvc, web := req.ResourceSpans[0], req.ResourceSpans[1]
	if len(noSvc.Resource.Attributes) != 0 || *web.Resource.Attributes[0].Value.String != "web-api" {
		t.Errorf("resources %+v", req.ResourceSpans)
	}
	s := web.ScopeSpans[0].Spans[0]
	attrs := map[string]string{}
	for _, kv := range s.Attributes {
		switch {
		case kv.Value.String != nil:
			attrs[kv.Key] = *kv.Value.String
		case kv.Value.Int != nil:
			attrs[kv.Key] = *kv.Value.Int
		}
	}
	if s.TraceID != "5af7183fb1d4cf5f00000000000000a1" || s.SpanID != "000000000000000b" || s.ParentSpanID != "000000000000000a" ||
		s.Kind != 3 || s.StartTimeUnixNano != "1700000000000001000" || s.EndTimeUnixNano != "1700000000060001000" ||
		s.Status == nil || s.Status.Code != 2 || len(s.Events) != 1 || s.Events[0].Name != "wr" ||
		!reflect.DeepEqual(attrs, map[string]string{"error": "timeout", "http.path": "/x", "net.host.ip": "10.0.0.1",
			"peer.service": "recipe-api", "net.peer.ip": "2001:db8::2", "net.peer.port": "9000"}) {
		t.Errorf("span %+v, attributes %v", s, attrs)
	}
	n := noSvc.ScopeSpans[0].Spans[0]
	if n.TraceID != "000000000000000000000000000000b2" || n.StartTimeUnixNano != "0" || n.EndTimeUnixNano != "5000" ||
		len(n.Attributes) != 1 || n.Attributes[0].Key != "otel.zipkin.absentField.startTime" || n.Status == nil {
		t.Errorf("span without timestamp, error tag true: %+v", n)
	}
}
