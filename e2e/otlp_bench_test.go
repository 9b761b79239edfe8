package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOTLPThroughputVsPeers (make bench-otlp; OBS_BENCH_OTLP=1) is the
// BENCHMARKS.md comparison of OTLP intake: the Collector's own generator,
// telemetrygen, sends the same spans to obs and to Jaeger v2 (no batch
// processor: it answers once they are stored; obs answers once they are
// fsynced), once with in-memory storage and once with badger (on disk,
// as obs keeps them), over OTLP/HTTP and OTLP/gRPC, and the same log
// records to obs and to a single VictoriaLogs node over
// OTLP/HTTP (VictoriaLogs takes no gRPC), all on this machine in one
// run, taking turns. For each it reports items/s (the generator's wall
// time, so the generator's own CPU bounds it on a small box) and the
// server's CPU seconds per million items (/proc/<pid>/stat, user+system,
// during the generator's run), and checks that every item sent is
// stored. Knobs: OBS_BENCH_SPANS (100,000: traces of 2 spans),
// OBS_BENCH_LOGS (100,000), OBS_BENCH_REPS (2).
func TestOTLPThroughputVsPeers(t *testing.T) {
	if os.Getenv("OBS_BENCH_OTLP") == "" {
		t.Skip("set OBS_BENCH_OTLP=1 (make bench-otlp)")
	}
	gen := engineBinary(t, "telemetrygen")
	spans, records, reps := benchEnv("OBS_BENCH_SPANS", 100000), benchEnv("OBS_BENCH_LOGS", 100000), benchEnv("OBS_BENCH_REPS", 2)
	s := newServer(t)
	j := startJaeger(t, "")
	// Jaeger with badger, its embedded store that survives a restart: the
	// peer that does what obs does with a span (keep it on disk), beside
	// the in-memory one that keeps it in a map.
	jb := startJaeger(t, t.TempDir())
	vl, vlURL := startVictoriaLogs(t)
	zipkinURL := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)

	// stored counts what a server holds of one run (its own service name).
	type target struct {
		server   string
		pid      int
		endpoint string
		args     []string
		stored   func(svc string) int
	}
	obsSpans := func(svc string) int {
		var found [][]zspan
		s.getJSON(t, zipkinURL, fmt.Sprintf("/api/v2/traces?serviceName=%s&limit=10000000&lookback=3600000", svc), &found)
		n := 0
		for _, tr := range found {
			n += len(tr)
		}
		return n
	}
	jaegerSpansIn := func(j *jaeger) func(svc string) int {
		return func(svc string) int {
			var found jaegerTrace
			// Below the in-memory store's max_traces, as Jaeger requires.
			jaegerGet(t, j, fmt.Sprintf("/api/traces?service=%s&limit=999999&lookback=1h", svc), &found)
			n := 0
			for _, tr := range found.Data {
				n += len(tr.Spans)
			}
			return n
		}
	}
	jaegerSpans, badgerSpans := jaegerSpansIn(j), jaegerSpansIn(jb)
	obsLogs := func(svc string) int {
		var h struct{ Total int }
		s.getJSON(t, s.url(), "/api/logs/histogram?"+url.Values{"q": {fmt.Sprintf(`service.name:%q`, svc)}, "from": {"now-1h"}, "to": {"now+1h"}}.Encode(), &h)
		return h.Total
	}
	vlLogs := func(svc string) int {
		rows := vlQuery(t, vlURL, fmt.Sprintf(`service.name:%q | stats count() n`, svc))
		if len(rows) != 1 {
			return 0
		}
		n, _ := strconv.Atoi(fmt.Sprint(rows[0]["n"]))
		return n
	}
	hostOf := func(u string) string { return strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/v1/traces") }
	jaegerHTTP, badgerHTTP := hostOf(j.otlpURL), hostOf(jb.otlpURL)
	vlHost := strings.TrimPrefix(vlURL, "http://")
	sigs := []struct {
		signal, unit string
		n            int // items per run
		targets      []target
	}{
		{"traces", "spans", spans, []target{
			{"obs", s.cmd.Process.Pid, s.otlpHTTP, []string{"--otlp-http"}, obsSpans},
			{"Jaeger", j.cmd.Process.Pid, jaegerHTTP, []string{"--otlp-http"}, jaegerSpans},
			{"Jaeger+badger", jb.cmd.Process.Pid, badgerHTTP, []string{"--otlp-http"}, badgerSpans},
			{"obs", s.cmd.Process.Pid, s.otlpGRPC, nil, obsSpans},
			{"Jaeger", j.cmd.Process.Pid, j.otlpGRPC, nil, jaegerSpans},
			{"Jaeger+badger", jb.cmd.Process.Pid, jb.otlpGRPC, nil, badgerSpans},
		}},
		{"logs", "log records", records, []target{
			{"obs", s.cmd.Process.Pid, s.otlpHTTP, []string{"--otlp-http"}, obsLogs},
			{"VictoriaLogs", vl.cmd.Process.Pid, vlHost, []string{"--otlp-http", "--otlp-http-url-path", "/insert/opentelemetry/v1/logs"}, vlLogs},
		}},
	}
	for rep := range reps {
		for _, sig := range sigs {
			for i, tg := range sig.targets {
				transport := "grpc"
				if len(tg.args) > 0 {
					transport = "http"
				}
				svc := fmt.Sprintf("bench-%s-%s-%d-%d", sig.signal, transport, rep, i)
				args := []string{sig.signal, "--otlp-endpoint", tg.endpoint, "--otlp-insecure", "--workers", "1", "--rate", "0", "--service", svc}
				if sig.signal == "traces" {
					args = append(args, "--traces", fmt.Sprint(sig.n/2)) // a parent and one child each
				} else {
					args = append(args, "--logs", fmt.Sprint(sig.n), "--body", "user 42 logged in from 10.0.0.7")
				}
				cmd := exec.Command(gen, append(args, tg.args...)...)
				// A span queue that holds the whole run: the Go SDK's
				// batch processor drops what does not fit (2,048 spans)
				// instead of waiting, and a dropped span is not "sent".
				cmd.Env = append(os.Environ(), fmt.Sprintf("OTEL_BSP_MAX_QUEUE_SIZE=%d", sig.n))
				cpu0 := processCPU(t, tg.pid)
				started := time.Now()
				out, err := cmd.CombinedOutput()
				took := time.Since(started)
				cpu := processCPU(t, tg.pid) - cpu0
				if err != nil || !strings.Contains(string(out), sig.signal+" generated") {
					t.Fatalf("telemetrygen %s to %s over %s: %v\n%s", sig.signal, tg.server, transport, err, tail(string(out), 3000))
				}
				// Each acknowledged what it took; the stores catch up
				// within seconds (VictoriaLogs makes rows searchable
				// about once a second).
				var stored int
				deadline := time.Now().Add(time.Minute)
				for stored = tg.stored(svc); stored < sig.n && time.Now().Before(deadline); stored = tg.stored(svc) {
					time.Sleep(500 * time.Millisecond)
				}
				if stored != sig.n {
					t.Errorf("%s over %s: %d %s stored, %d sent", tg.server, transport, stored, sig.unit, sig.n)
				}
				t.Logf("figures: rep %d: %s over OTLP/%s to %-13s %7.0f %s/s, %5.1f CPU s per 1M (%d in %v, server CPU %v), %d stored",
					rep+1, sig.signal, transport, tg.server, float64(sig.n)/took.Seconds(), sig.unit,
					cpu.Seconds()*1e6/float64(sig.n), sig.n, took.Round(time.Millisecond), cpu, stored)
			}
		}
	}
}
