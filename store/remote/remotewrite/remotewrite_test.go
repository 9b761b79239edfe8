package remotewrite

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/remote/endpoint"
)

// receiver is a remote-write endpoint that decodes what it gets and answers
// with the status codes a test queues up.
type receiver struct {
	mu      sync.Mutex
	got     map[string]float64 // name@ts -> value
	dups    int
	headers http.Header
	answers []int // next statuses; 200 once empty
	calls   atomic.Int64
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = req.Header.Clone()
	if len(r.answers) > 0 {
		code := r.answers[0]
		r.answers = r.answers[1:]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, "no", code)
		return
	}
	body, _ := io.ReadAll(req.Body)
	wr, err := Decode(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	for _, ts := range wr.Timeseries {
		for i := 1; i < len(ts.Labels); i++ {
			if ts.Labels[i].Name <= ts.Labels[i-1].Name {
				http.Error(w, "labels not sorted", 400)
				return
			}
		}
		for _, s := range ts.Samples {
			k := fmt.Sprintf("%s@%d", ts.Labels[0].Value, s.Timestamp)
			if _, ok := r.got[k]; ok {
				r.dups++
			}
			r.got[k] = s.Value
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func newReceiver() *receiver { return &receiver{got: map[string]float64{}} }

func (r *receiver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) }

func samples(prefix string, n int, ts int64) []metrics.Sample {
	out := make([]metrics.Sample, n)
	for i := range out {
		out[i] = metrics.Sample{Name: fmt.Sprintf("%s.%d", prefix, i), TS: ts, Value: float64(i),
			Labels: []metrics.Label{{Name: "zone", Value: "a"}, {Name: "host", Value: "h1"}}}
	}
	return out
}

func start(t *testing.T, dir, url string) (*Forwarder, context.CancelFunc, chan struct{}) {
	t.Helper()
	f, err := Open(dir, Options{Endpoint: endpoint.Config{URL: url, Timeout: 2 * time.Second},
		BatchSamples: 100, FlushEvery: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
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

func TestForwardRetriesAndRefusals(t *testing.T) {
	rcv := newReceiver()
	rcv.answers = []int{503, 429, 500}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	f, cancel, done := start(t, t.TempDir(), srv.URL+"/api/v1/write")
	f.Write(context.Background(), samples("a", 250, 1000))
	waitFor(t, "250 samples after 503, 429, 500", func() bool { return rcv.count() == 250 && f.Stats().Sent == 250 })
	if s := f.Stats(); s.Sent != 250 || s.Retries != 3 || s.DroppedTotal() != 0 || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
	if h := rcv.headers; h.Get("Content-Encoding") != "snappy" || h.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" ||
		h.Get("Content-Type") != "application/x-protobuf" {
		t.Errorf("headers %v", h)
	}
	// A 400 is not retried: that batch is dropped and counted, the next goes.
	rcv.mu.Lock()
	rcv.answers = []int{400}
	rcv.mu.Unlock()
	f.Write(context.Background(), samples("b", 100, 2000))
	waitFor(t, "the refusal", func() bool { return f.Stats().Dropped["rejected"] == 100 })
	f.Write(context.Background(), samples("c", 10, 3000))
	waitFor(t, "the batch after", func() bool { return rcv.count() == 260 })
	if st, detail := f.Health(); st != "DEGRADED" || !strings.Contains(detail, "100 dropped") {
		t.Errorf("health %s %q", st, detail)
	}
	cancel()
	<-done
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOutageAndRestartLoseNothing(t *testing.T) {
	dir := t.TempDir()
	rcv := newReceiver()
	// A port nobody listens on (an unstarted httptest server's listener
	// would queue the requests in its backlog and answer them later).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	url := "http://" + addr + "/receive"
	// The engine is down: everything waits on disk.
	f, cancel, done := start(t, dir, url)
	for i := range 20 {
		f.Write(context.Background(), samples("m", 50, int64(i)*1000))
	}
	waitFor(t, "the retries", func() bool { return f.Stats().Retries > 0 })
	if st, _ := f.Health(); st != "DEGRADED" {
		t.Errorf("health %s while the engine is down", st)
	}
	cancel()
	<-done
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// obs restarts, then the engine comes back.
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: rcv}}
	srv.Start()
	defer srv.Close()
	f, cancel, done = start(t, dir, url)
	defer func() { cancel(); <-done; f.Close() }()
	waitFor(t, "1000 samples", func() bool { return rcv.count() == 1000 })
	waitFor(t, "the queue to drain", func() bool { return f.Stats().Pending == 0 })
	if rcv.dups != 0 {
		t.Errorf("%d duplicates", rcv.dups)
	}
}

func TestCredentialsNeverShown(t *testing.T) {
	f, err := Open(t.TempDir(), Options{Endpoint: endpoint.Config{URL: "http://obsuser:s3cretpass@127.0.0.1:1/write?token=qtoken123", BearerToken: "bearer-xyz-123"},
		FlushEvery: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	f.Write(ctx, samples("x", 1, 1))
	waitFor(t, "a failure", func() bool { return f.Stats().Retries > 0 })
	cancel()
	<-done
	f.Close()
	_, detail := f.Health()
	for _, secret := range []string{"s3cretpass", "obsuser", "qtoken123", "bearer-xyz-123"} {
		if strings.Contains(detail, secret) {
			t.Errorf("health detail shows %q: %s", secret, detail)
		}
	}
	if !strings.Contains(detail, "127.0.0.1:1/write") {
		t.Errorf("health detail does not name the engine: %s", detail)
	}
}

func TestBadURL(t *testing.T) {
	_, err := Open(t.TempDir(), Options{Endpoint: endpoint.Config{URL: "ftp://u:hunter22@x/"}})
	if err == nil || strings.Contains(err.Error(), "hunter22") {
		t.Errorf("err = %v", err)
	}
}

func BenchmarkEncodeAndQueue(b *testing.B) {
	f, err := Open(b.TempDir(), Options{Endpoint: endpoint.Config{URL: "http://127.0.0.1:1/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	batch := samples("stats.timers.web-api.outbound.recipe-api.request-time", 2000, time.Now().UnixMilli())
	b.ResetTimer()
	for range b.N {
		f.Write(context.Background(), batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "samples/s")
}
