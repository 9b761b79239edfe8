package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	zipkinmw "github.com/openzipkin/zipkin-go/middleware/http"
)

// The traces half of scale-out: obs forwards the spans its Zipkin
// collector accepts to a real Jaeger v2 (built from the Go module proxy),
// which takes them on its zipkin receiver, and reads traces back through
// Jaeger's query API for `obs traces`, the Zipkin API and the UI.

// jaeger is a running Jaeger v2 as obs sees it.
type jaeger struct {
	*proc
	writeURL, queryURL string
	// otlpURL is its OTLP/HTTP receiver's traces endpoint, otlpGRPC its
	// OTLP/gRPC receiver's host:port.
	otlpURL, otlpGRPC string
}

// startJaeger runs Jaeger v2 with a zipkin receiver, an OTLP one (HTTP
// and gRPC) and the query extension on loopback ports; dir non-empty:
// badger storage there (the spans survive a restart), else in-memory
// storage. No batch processor:
// the receiver answers once the spans are in storage, so that what Jaeger
// acknowledged is what it has.
func startJaeger(t *testing.T, dir string) *jaeger {
	bin := engineBinary(t, "jaeger")
	zp, qh, qg, op, og := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	backend := "memory:\n          max_traces: 1000000"
	if dir != "" {
		backend = fmt.Sprintf("badger:\n          directories: {keys: %q, values: %q}\n          ephemeral: false\n          ttl: {spans: 48h}",
			filepath.Join(dir, "keys"), filepath.Join(dir, "values"))
	}
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [zipkin, otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: store
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      store:
        %s
receivers:
  zipkin:
    endpoint: %s
  otlp:
    protocols:
      http:
        endpoint: %s
      grpc:
        endpoint: %s
exporters:
  jaeger_storage_exporter:
    trace_storage: store
`, loopback(qh), loopback(qg), backend, loopback(zp), loopback(op), loopback(og))
	file := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	query := "http://" + loopback(qh)
	p := startProc(t, "jaeger", bin, query+"/api/services", "--config", file)
	return &jaeger{proc: p, writeURL: "http://" + loopback(zp) + "/api/v2/spans", queryURL: query,
		otlpURL: "http://" + loopback(op) + "/v1/traces", otlpGRPC: loopback(og)}
}

func serveTracesRemote(t *testing.T, j *jaeger, storage string, extra ...string) *server {
	return newServer(t, append([]string{"--traces-storage", storage, "--traces-remote-write", j.writeURL,
		"--traces-remote-query", j.queryURL}, extra...)...)
}

// roundTripSpans is one trace with what Zipkin v2 spans carry: a span
// shared between a client and a server host, kinds, tags (an error tag
// with a message), annotations, remote endpoints with addresses, IPv6.
func roundTripSpans(traceID string, ts int64) string {
	return fmt.Sprintf(`[
 {"traceId":"%[1]s","id":"000000000000000a","name":"get /recipes","kind":"SERVER","timestamp":%[2]d,"duration":90000,
  "localEndpoint":{"serviceName":"web-api","ipv4":"10.0.0.1","port":8080},"remoteEndpoint":{"ipv4":"192.168.1.9","port":53211},
  "tags":{"http.method":"GET","http.path":"/recipes/42"},"annotations":[{"timestamp":%[3]d,"value":"wr"}]},
 {"traceId":"%[1]s","parentId":"000000000000000a","id":"000000000000000b","name":"get_recipe","kind":"CLIENT","timestamp":%[4]d,"duration":60000,
  "localEndpoint":{"serviceName":"web-api","ipv4":"10.0.0.1"},"remoteEndpoint":{"serviceName":"recipe-api","ipv4":"10.0.0.2","port":9000},
  "tags":{"http.path":"/recipes/42","error":"timeout after 50ms"}},
 {"traceId":"%[1]s","parentId":"000000000000000a","id":"000000000000000b","name":"get_recipe","kind":"SERVER","shared":true,"timestamp":%[5]d,"duration":40000,
  "localEndpoint":{"serviceName":"recipe-api","ipv6":"2001:db8::2","port":9000},
  "tags":{"db.rows":"1"},"annotations":[{"timestamp":%[6]d,"value":"cache miss"}]},
 {"traceId":"%[1]s","parentId":"000000000000000b","id":"000000000000000c","name":"select","timestamp":%[7]d,"duration":20000,
  "localEndpoint":{"serviceName":"recipe-api"},"tags":{"error":"true","sql":"select * from recipes"}}
]`, traceID, ts, ts+1000, ts+10000, ts+12000, ts+13000, ts+15000)
}

func postSpans(t *testing.T, s *server, body string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", s.zipkin), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST spans: %s", resp.Status)
	}
}

// byKey orders a trace's spans for comparison.
func byKey(spans []map[string]any) []map[string]any {
	sort.Slice(spans, func(i, j int) bool {
		ki := fmt.Sprint(spans[i]["id"], spans[i]["kind"])
		kj := fmt.Sprint(spans[j]["id"], spans[j]["kind"])
		return ki < kj
	})
	return spans
}

// TestRemoteTracesJaeger: spans in through obs's Zipkin collector, out to
// Jaeger; `obs traces show` and `obs traces search`, and the Zipkin API,
// answer from Jaeger with the spans obs's own store answers with.
func TestRemoteTracesJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger")
	}
	j := startJaeger(t, "")
	rem := serveTracesRemote(t, j, "remote")
	traceID := sameAsEmbedded(t, rem)
	// The CLI, reading the engine.
	out, err := rem.obs("traces", "show", traceID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("obs traces show, from Jaeger:\n%s", out)
	for _, w := range []string{"web-api", "recipe-api", "get_recipe", "select"} {
		if !strings.Contains(out, w) {
			t.Errorf("obs traces show: no %q in\n%s", w, out)
		}
	}
	eventually(t, 30*time.Second, func() error {
		for _, args := range [][]string{
			{"--service", "web-api"},
			{"--service", "recipe-api", "--span", "select"},
			{"--service", "web-api", "--remote-service", "recipe-api"},
			{"--service", "web-api", "--tag", "http.path=/recipes/42", "--tag", "wr"},
			{"--service", "recipe-api", "--min-duration", "30ms"},
			{"--tag", "error"}, // no service: every service searched
		} {
			out, err := rem.obs(append([]string{"traces", "search", "-o", "json"}, args...)...)
			if err != nil {
				return err
			}
			if !strings.Contains(out, traceID) {
				return fmt.Errorf("obs traces search %v: %s not found in\n%s", args, traceID, out)
			}
		}
		out, err := rem.obs("traces", "search", "-o", "json", "--service", "web-api", "--tag", "no-such-annotation")
		if err != nil || strings.Contains(out, traceID) {
			return fmt.Errorf("a search for an annotation the trace lacks found it (%v)", err)
		}
		return nil
	})
	var services []string
	rem.getJSON(t, rem.url(), "/api/v2/services", &services)
	if !reflect.DeepEqual(services, []string{"recipe-api", "web-api"}) {
		t.Errorf("services from Jaeger: %v", services)
	}
	var names []string
	rem.getJSON(t, rem.url(), "/api/v2/spans?serviceName=recipe-api", &names)
	if !reflect.DeepEqual(names, []string{"get_recipe", "select"}) {
		t.Errorf("span names from Jaeger: %v", names)
	}
	eventually(t, 30*time.Second, func() error {
		out, err := rem.obs("traces", "deps", "-o", "json")
		if err != nil || !strings.Contains(out, `"recipe-api"`) || !strings.Contains(out, `"web-api"`) {
			return fmt.Errorf("obs traces deps from Jaeger: %v %s", err, out)
		}
		return nil
	})
	if code := rem.getJSON(t, rem.url(), "/api/v2/trace/00000000000000000000000000bad1d5", nil); code != 404 {
		t.Errorf("unknown trace: HTTP %d, want 404", code)
	}
	// A Go app traced with zipkin-go's middleware and HTTP reporter, as in
	// TestTracesFromZipkinGoAndNode: its trace comes back from Jaeger with
	// the server half of the shared client span merged, as from the store.
	zipkinURL := fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", rem.zipkin)
	_, inner, stopInner := goService(t, zipkinURL, "inner-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	var outerTracer *zipkin.Tracer
	var goTrace string
	outerTracer, outer, stopOuter := goService(t, zipkinURL, "outer-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, err := zipkinmw.NewClient(outerTracer, zipkinmw.ClientTrace(false))
		if err != nil {
			t.Error(err)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), "GET", inner.URL+"/", nil)
		resp, err := client.DoWithAppSpan(req, "call_inner")
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		goTrace = zipkin.SpanFromContext(r.Context()).Context().TraceID.String()
	}))
	if resp, err := http.Get(outer.URL + "/"); err == nil {
		resp.Body.Close()
	}
	stopOuter()
	stopInner()
	eventually(t, 30*time.Second, func() error {
		out, err := rem.obs("traces", "show", goTrace)
		if err != nil || !strings.Contains(out, "outer-api (client) ⇄ inner-api (server)") {
			return fmt.Errorf("zipkin-go trace from Jaeger: %v\n%s", err, out)
		}
		return nil
	})
	// The engine down: reads say so (503), they do not answer empty.
	j.kill9()
	if code := rem.getJSON(t, rem.url(), "/api/v2/trace/"+traceID, nil); code != http.StatusServiceUnavailable {
		t.Errorf("trace with Jaeger down: HTTP %d, want 503", code)
	}
	if _, err := rem.obs("traces", "show", traceID); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("obs traces show with Jaeger down: %v", err)
	}
}

// sameAsEmbedded posts one trace (roundTripSpans) to rem and to an obs
// with the embedded store and requires the same spans from both.
func sameAsEmbedded(t *testing.T, rem *server) string {
	t.Helper()
	emb := newServer(t)
	traceID := fmt.Sprintf("%016x%016x", time.Now().UnixNano(), 0xa1)
	body := roundTripSpans(traceID, time.Now().Add(-time.Minute).UnixMicro())
	postSpans(t, rem, body)
	postSpans(t, emb, body)

	var got []map[string]any
	eventually(t, 30*time.Second, func() error {
		got = nil
		if code := rem.getJSON(t, rem.url(), "/api/v2/trace/"+traceID, &got); code != 200 || len(got) != 4 {
			status, _ := rem.obs("status")
			return fmt.Errorf("trace from Jaeger: HTTP %d, %d spans; obs status:\n%s", code, len(got), status)
		}
		return nil
	})
	var want []map[string]any
	if code := emb.getJSON(t, emb.url(), "/api/v2/trace/"+traceID, &want); code != 200 {
		t.Fatalf("embedded trace: HTTP %d", code)
	}
	got, want = byKey(got), byKey(want)
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			t.Errorf("span %d through Jaeger differs from the embedded store's:\n got %s\nwant %s", i, g, w)
		}
	}
	return traceID
}

// TestRemoteTracesJaegerOTLP: the same with spans forwarded as OTLP JSON
// to Jaeger's OTLP/HTTP receiver (the write URL ends in /v1/traces), the
// way to engines that take no Zipkin (VictoriaTraces, Tempo's OTLP port).
func TestRemoteTracesJaegerOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger")
	}
	j := startJaeger(t, "")
	rem := newServer(t, "--traces-storage", "remote", "--traces-remote-write", j.otlpURL, "--traces-remote-query", j.queryURL)
	traceID := sameAsEmbedded(t, rem)
	out, err := rem.obs("traces", "show", traceID)
	if err != nil || !strings.Contains(out, "web-api (client) ⇄ recipe-api (server): get_recipe") {
		t.Errorf("obs traces show through OTLP and Jaeger: %v\n%s", err, out)
	}
}

// TestRemoteTracesJaegerOutage kills Jaeger (kill -9) while obs ingests
// spans, keeps sending for 30 s, starts Jaeger again on the same badger
// directory and checks that every span sent arrives once and obs's queue
// drains. The figures go to RELIABILITY.md.
func TestRemoteTracesJaegerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger; 30 s outage")
	}
	outage := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("OBS_OUTAGE")); err == nil {
		outage = d
	}
	j := startJaeger(t, t.TempDir())
	s := serveTracesRemote(t, j, "remote")
	// One trace a second per sender tick: 20 POSTs of 5 spans; a trace id
	// per second so that arrivals are checkable one by one.
	base := time.Now().UnixNano()
	var traces []string
	sent := 0
	tick := func() {
		id := fmt.Sprintf("%016x%016x", base, len(traces)+1)
		traces = append(traces, id)
		ts := time.Now().UnixMicro()
		var b bytes.Buffer
		for post := range 20 {
			b.Reset()
			b.WriteString("[")
			for k := range 5 {
				if k > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"traceId":"%s","id":"%016x","name":"op%d","timestamp":%d,"duration":%d,"localEndpoint":{"serviceName":"outage-svc"}}`,
					id, post*5+k+1, k, ts, 100+k)
				sent++
			}
			b.WriteString("]")
			postSpans(t, s, b.String())
		}
	}
	run := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			next := time.Now().Add(time.Second)
			tick()
			time.Sleep(time.Until(next))
		}
	}
	run(10 * time.Second)
	j.kill9()
	down := time.Now()
	run(outage)
	pendingPeak := s.metric("obs_traces_remote_spans_pending")
	queuePeak := s.metric("obs_traces_remote_queue_bytes")
	health, _ := s.obs("status")
	j.start()
	up := time.Now()
	caughtUp := make(chan time.Duration, 1)
	go func() {
		for time.Since(up) < 2*time.Minute {
			if p, err := metricErr(s, "obs_traces_remote_spans_pending"); err == nil && p < 100 {
				caughtUp <- time.Since(up)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		caughtUp <- -1
	}()
	run(10 * time.Second)
	eventually(t, 2*time.Minute, func() error {
		if p := s.metric("obs_traces_remote_spans_pending"); p != 0 {
			return fmt.Errorf("%v spans still queued", p)
		}
		return nil
	})
	drained := <-caughtUp

	// Every span once, read back through obs (and so Jaeger's API).
	missing, dups := 0, 0
	for _, id := range traces {
		var spans []map[string]any
		if code := s.getJSON(t, s.url(), "/api/v2/trace/"+id, &spans); code != 200 && code != 404 {
			t.Fatalf("trace %s: HTTP %d", id, code)
		}
		seen := map[string]bool{}
		for _, sp := range spans {
			k := fmt.Sprint(sp["id"])
			if seen[k] {
				dups++
			}
			seen[k] = true
		}
		missing += 100 - len(seen)
	}
	dropped := 0.0
	for _, r := range []string{"queue_full", "rejected", "corrupt", "too_big", "queue_error"} {
		dropped += s.metric(fmt.Sprintf(`obs_traces_remote_spans_dropped_total{reason=%q}`, r))
	}
	t.Logf("figures: jaeger: engine down %s (kill -9), %d spans sent in %d traces over %s; peak queue %v spans / %.0f KiB; "+
		"backlog sent %s after Jaeger was started again; retries %v; missing %d, duplicated %d, dropped %v",
		up.Sub(down).Round(time.Second), sent, len(traces), time.Since(down.Add(-10*time.Second)).Round(time.Second),
		pendingPeak, queuePeak/1024, drained.Round(100*time.Millisecond), s.metric("obs_traces_remote_retries_total"),
		missing, dups, dropped)
	if pendingPeak == 0 {
		t.Error("nothing waited in the queue while Jaeger was down")
	}
	if !strings.Contains(health, "traces_remote") || !strings.Contains(health, "DEGRADED") {
		t.Errorf("obs status during the outage:\n%s", health)
	}
	if missing != 0 || dups != 0 || dropped != 0 {
		t.Errorf("missing %d, duplicated %d, dropped %v", missing, dups, dropped)
	}
}

// TestRemoteTracesObsKilledWhileEngineDown: spans acknowledged while
// Jaeger is down wait in obs's disk queue; obs is killed (kill -9) and
// started again on the same data directory, Jaeger comes back, and every
// acknowledged span arrives.
func TestRemoteTracesObsKilledWhileEngineDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger")
	}
	j := startJaeger(t, "")
	s := serveTracesRemote(t, j, "remote")
	j.kill9()
	traceID := fmt.Sprintf("%016x%016x", time.Now().UnixNano(), 0xc3)
	ts := time.Now().Add(-time.Minute).UnixMicro()
	const posts, per = 40, 25
	for p := range posts {
		var b strings.Builder
		b.WriteString("[")
		for k := range per {
			if k > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"traceId":"%s","id":"%016x","name":"op","timestamp":%d,"duration":10,"localEndpoint":{"serviceName":"restart-svc"}}`,
				traceID, p*per+k+1, ts)
		}
		b.WriteString("]")
		postSpans(t, s, b.String())
	}
	s.kill9()
	s.start()
	if p := s.metric("obs_traces_remote_spans_pending"); p != posts*per {
		t.Errorf("%v spans pending after the restart, want %d", p, posts*per)
	}
	j.start()
	eventually(t, time.Minute, func() error {
		var spans []map[string]any
		if code := s.getJSON(t, s.url(), "/api/v2/trace/"+traceID, &spans); len(spans) != posts*per {
			return fmt.Errorf("HTTP %d, %d of %d spans in Jaeger", code, len(spans), posts*per)
		}
		return nil
	})
}
