package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// TestRemoteSpansThroughput (make bench-remote; OBS_BENCH_REMOTE=1) is
// the BENCHMARKS.md figure for span forwarding: obs with traces storage
// both takes the same Zipkin POSTs into its embedded span store and
// forwards them to Jaeger, in one run, and reports both rates; then the
// drain rate of a backlog queued while Jaeger was down; once with Zipkin
// JSON to Jaeger's zipkin receiver, once with OTLP JSON to its OTLP one.
// Knobs: OBS_BENCH_SPANS (200,000), batches of 100 spans from 2 clients.
func TestRemoteSpansThroughput(t *testing.T) {
	if os.Getenv("OBS_BENCH_REMOTE") == "" {
		t.Skip("set OBS_BENCH_REMOTE=1 (make bench-remote)")
	}
	for _, proto := range []string{"zipkin", "otlp"} {
		t.Run(proto, func(t *testing.T) { benchSpans(t, proto) })
	}
}

func benchSpans(t *testing.T, proto string) {
	total := benchEnv("OBS_BENCH_SPANS", 200000)
	j := startJaeger(t, "")
	write := j.writeURL
	if proto == "otlp" {
		write = j.otlpURL
	}
	s := newServer(t, "--traces-storage", "both", "--traces-remote-write", write, "--traces-remote-query", j.queryURL)
	start := time.Now()
	postBench(t, s, 0, total)
	accepted := time.Since(start)
	var embedded, forwarded time.Duration
	deadline := time.Now().Add(10 * time.Minute)
	for (embedded == 0 || forwarded == 0) && time.Now().Before(deadline) {
		if embedded == 0 && s.metric("obs_traces_spans_stored_total") >= float64(total) {
			embedded = time.Since(start)
		}
		if forwarded == 0 && s.metric("obs_traces_remote_spans_sent_total") >= float64(total) {
			forwarded = time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if embedded == 0 || forwarded == 0 {
		t.Fatalf("not done in 10 minutes: embedded %v, forwarded %v", embedded, forwarded)
	}
	t.Logf("figures: jaeger (%s): %d spans in POSTs of 100 from 2 clients (all accepted in %s): embedded store %.0f spans/s (%s), forwarded to Jaeger %.0f spans/s (%s until Jaeger had them all); retries %v",
		proto, total, accepted.Round(10*time.Millisecond), float64(total)/embedded.Seconds(), embedded.Round(10*time.Millisecond),
		float64(total)/forwarded.Seconds(), forwarded.Round(10*time.Millisecond), s.metric("obs_traces_remote_retries_total"))
	// The forwarder alone: a backlog queued while Jaeger is down, drained.
	j.kill9()
	postBench(t, s, total, total)
	queueKiB := s.metric("obs_traces_remote_queue_bytes") / 1024
	sent1 := s.metric("obs_traces_remote_spans_sent_total")
	j.start()
	up := time.Now()
	eventually(t, 5*time.Minute, func() error {
		if p := s.metric("obs_traces_remote_spans_pending"); p > 0 {
			return fmt.Errorf("%v still queued", p)
		}
		return nil
	})
	drain := time.Since(up)
	n := s.metric("obs_traces_remote_spans_sent_total") - sent1
	t.Logf("figures: jaeger (%s): drain of a backlog of %.0f spans (%.0f KiB on disk): %.0f spans/s (%s)",
		proto, n, queueKiB, n/drain.Seconds(), drain.Round(10*time.Millisecond))
	if d := s.metric(`obs_traces_remote_spans_dropped_total{reason="rejected"}`); d != 0 {
		t.Errorf("%v spans refused", d)
	}
}

// postBench posts n spans (ids from first) in batches of 100, traces of
// 10 spans, from 2 clients, retrying a 503 as a reporter would.
func postBench(t *testing.T, s *server, first, n int) {
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", s.zipkin)
	ts := time.Now().Add(-time.Minute).UnixMicro()
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b bytes.Buffer
			for at := first + c*100; at < first+n; at += 200 {
				b.Reset()
				b.WriteString("[")
				for i := at; i < at+100 && i < first+n; i++ {
					if i > at {
						b.WriteString(",")
					}
					fmt.Fprintf(&b, `{"traceId":"%016x","id":"%016x","name":"op%d","kind":"SERVER","timestamp":%d,"duration":%d,`+
						`"localEndpoint":{"serviceName":"svc%d","ipv4":"10.0.0.%d"},"tags":{"http.path":"/api/%d","http.method":"GET"}}`,
						i/10+1, i+1, i%7, ts+int64(i), 100+i%1000, i%5, i%250+1, i%50)
				}
				b.WriteString("]")
				for {
					resp, err := http.Post(url, "application/json", bytes.NewReader(b.Bytes()))
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						break
					}
					if resp.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("POST spans: %s", resp.Status)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}
