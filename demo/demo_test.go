package demo

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/obs-dev/obs/configs"
)

// receiver stands where obs would: a UDP socket for log events, one for
// StatsD, a Zipkin collector and an OTLP/HTTP receiver (decoding with
// pdata, as obs does), all on ports held from the start.
type receiver struct {
	mu      sync.Mutex
	events  []map[string]any
	lines   []string
	spans   []model.SpanModel
	oSpans  []recvSpan
	records []recvRecord
	metrics []pmetric.Metric
	logs    *net.UDPConn
	statsd  *net.UDPConn
	zipkin  *httptest.Server
	otlp    *httptest.Server
}

// recvSpan and recvRecord are what came over OTLP, with the service.name
// of their resource.
type recvSpan struct {
	service string
	ptrace.Span
}

type recvRecord struct {
	service string
	plog.LogRecord
}

func serviceOf(res pcommon.Resource) string {
	v, _ := res.Attributes().Get("service.name")
	return v.AsString()
}

// otlpHandler takes OTLP/HTTP protobuf on the three signal paths.
func (r *receiver) otlpHandler(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	if req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not protobuf", http.StatusUnsupportedMediaType)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	switch req.URL.Path {
	case "/v1/traces":
		er := ptraceotlp.NewExportRequest()
		if err = er.UnmarshalProto(b); err == nil {
			for _, rs := range er.Traces().ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					for _, sp := range ss.Spans().All() {
						r.oSpans = append(r.oSpans, recvSpan{serviceOf(rs.Resource()), sp})
					}
				}
			}
		}
	case "/v1/logs":
		er := plogotlp.NewExportRequest()
		if err = er.UnmarshalProto(b); err == nil {
			for _, rl := range er.Logs().ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						r.records = append(r.records, recvRecord{serviceOf(rl.Resource()), lr})
					}
				}
			}
		}
	case "/v1/metrics":
		er := pmetricotlp.NewExportRequest()
		if err = er.UnmarshalProto(b); err == nil {
			for _, rm := range er.Metrics().ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						r.metrics = append(r.metrics, m)
					}
				}
			}
		}
	default:
		http.NotFound(w, req)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	udp := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	r.logs, r.statsd = udp(), udp()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := r.logs.Read(buf)
			if err != nil {
				return
			}
			var ev map[string]any
			if err := json.Unmarshal(buf[:n], &ev); err != nil {
				ev = map[string]any{"unreadable": string(buf[:n])}
			}
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := r.statsd.Read(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.lines = append(r.lines, strings.Split(string(buf[:n]), "\n")...)
			r.mu.Unlock()
		}
	}()
	r.zipkin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var spans []model.SpanModel
		b, _ := io.ReadAll(req.Body)
		if req.URL.Path != "/api/v2/spans" || json.Unmarshal(b, &spans) != nil {
			http.Error(w, "bad spans", 400)
			return
		}
		r.mu.Lock()
		r.spans = append(r.spans, spans...)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.zipkin.Close)
	r.otlp = httptest.NewServer(http.HandlerFunc(r.otlpHandler))
	t.Cleanup(r.otlp.Close)
	return r
}

func (r *receiver) options() Options {
	return Options{Logs: r.logs.LocalAddr().String(), StatsD: r.statsd.LocalAddr().String(),
		Zipkin: strings.TrimPrefix(r.zipkin.URL, "http://"), OTLP: strings.TrimPrefix(r.otlp.URL, "http://")}
}

// waitFor polls cond under the lock until it holds; the test's -timeout
// bounds it (a busy machine must not fail the test).
func (r *receiver) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Since(start) > time.Minute {
			t.Logf("still waiting for %s", what)
			start = time.Now()
		}
	}
}

func holdListener(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The workload sends the seed's metric names, log fields and spans, over
// real sockets.
func TestDemoSendsTheSeedsTelemetry(t *testing.T) {
	r := newReceiver(t)
	o := r.options()
	o.HealthListener = holdListener(t)
	o.Every, o.ErrorEvery, o.GaugeEvery, o.Phase = 20*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond, time.Hour
	var out strings.Builder
	var outMu sync.Mutex
	o.Out = writerFunc(func(b []byte) (int, error) { outMu.Lock(); defer outMu.Unlock(); return out.Write(b) })
	d, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()

	want := []string{
		"web-api.inbound.response_code.200:1|c", "web-api.inbound.response_code.GET_root.200:1|c",
		"web-api.inbound.response_code.500:1|c", "web-api.inbound.response_code.GET_error.500:1|c",
		"web-api.inbound.response_time.GET_root:", "web-api.inbound.response_time.GET_error:",
		"web-api.outbound.recipe-api.request-time:", "web-api.outbound.recipe-api.request-count:1|c",
		"web-api.server.conn:", "web-api.server.memory.used:", "web-api.server.memory.total:",
		"web-api.server.heap.size:", "web-api.server.heap.limit:", "web-api.server.descriptors:", "web-api.eventlag:",
	}
	r.waitFor(t, "every StatsD name", func() bool {
		for _, w := range want {
			found := false
			for _, l := range r.lines {
				found = found || strings.HasPrefix(l, w)
			}
			if !found {
				return false
			}
		}
		return true
	})
	// Three spans per GET /: web-api's SERVER and its CLIENT call over
	// Zipkin, and recipe-api's SERVER over OTLP, a child of the CLIENT in
	// the same trace (its 64-bit id padded to 128 bits, as OTel's B3
	// propagator makes it).
	var traceID string
	var root, client *model.SpanModel
	var server recvSpan
	r.waitFor(t, "a whole trace", func() bool {
		byTrace := map[model.TraceID][]*model.SpanModel{}
		for i, s := range r.spans {
			byTrace[s.TraceID] = append(byTrace[s.TraceID], &r.spans[i])
		}
		for _, o := range r.oSpans {
			tid := o.TraceID()
			zt := model.TraceID{Low: binary.BigEndian.Uint64(tid[8:])}
			if spans := byTrace[zt]; len(spans) == 2 && binary.BigEndian.Uint64(tid[:8]) == 0 {
				root, client = spans[0], spans[1]
				if root.Kind == model.Client {
					root, client = client, root
				}
				traceID, server = zt.String(), o
				return true
			}
		}
		return false
	})
	if root.Name != "get_root" || root.ParentID != nil || client.Name != "get_recipe" || *client.ParentID != root.ID ||
		client.RemoteEndpoint.ServiceName != "recipe-api" || root.LocalEndpoint.ServiceName != "web-api" {
		t.Fatalf("trace shape:\nroot %+v\nclient %+v", root, client)
	}
	if client.Tags["http.path"] != "/recipes/42" || client.Tags["http.method"] != "GET" {
		t.Errorf("client tags %v", client.Tags)
	}
	r.mu.Lock()
	attr := func(k string) string { v, _ := server.Attributes().Get(k); return v.AsString() }
	if server.service != "recipe-api" || server.Kind() != ptrace.SpanKindServer || server.Name() != "GET /recipes/{id}" ||
		server.ParentSpanID() != pcommon.SpanID(binary.BigEndian.AppendUint64(nil, uint64(client.ID))) || server.SpanID() == server.ParentSpanID() ||
		attr("http.route") != "/recipes/{id}" || attr("url.path") != "/recipes/42" || attr("http.response.status_code") != "200" ||
		server.Status().Code() == ptrace.StatusCodeError {
		t.Errorf("recipe-api's OTLP span %s %v %v: %v", server.service, server.Name(), server.Kind(), server.Attributes().AsRaw())
	}
	serverID := server.SpanID()
	r.mu.Unlock()

	// The seed's log events, carrying the trace id.
	r.waitFor(t, "log events of the trace and of /error", func() bool {
		var in, outgoing, failure bool
		for _, ev := range r.events {
			in = in || ev["type"] == "request-incoming" && ev["traceId"] == traceID && ev["app"] == "web-api"
			outgoing = outgoing || ev["type"] == "request-outgoing" && ev["traceId"] == traceID
			failure = failure || ev["type"] == "request-failure" && ev["severity"] == "error"
		}
		return in && outgoing && failure
	})
	r.mu.Lock()
	for _, ev := range r.events {
		for _, k := range []string{"@timestamp", "@version", "app", "environment", "severity", "type", "fields", "host"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("event without %s: %v", k, ev)
			}
		}
		f, _ := ev["fields"].(map[string]any)
		switch ev["type"] {
		case "request-incoming":
			if f["path"] == nil || f["method"] == nil || f["ip"] == nil {
				t.Errorf("request-incoming fields %v", f)
			}
		case "request-outgoing":
			if f["svc"] != "recipe-api" || !strings.HasSuffix(f["url"].(string), "/recipes/42") {
				t.Errorf("request-outgoing fields %v", f)
			}
		case "request-failure":
			if !strings.HasPrefix(f["stack"].(string), "Error: oh no") || f["path"] != "/error" {
				t.Errorf("request-failure fields %v", f)
			}
		}
		if ev["environment"] != "development" || ev["@version"] != float64(1) {
			t.Errorf("event %v", ev)
		}
	}
	listens := 0
	for _, ev := range r.events {
		if ev["type"] == "listen" && ev["severity"] == "verbose" && ev["app"] == "web-api" {
			listens++
		}
	}
	r.mu.Unlock()
	if listens != 1 {
		t.Errorf("%d listen events from web-api, want one", listens)
	}

	// recipe-api's log events are OTLP log records: the seed's type the
	// event name, its level the severity text, its fields attributes, and
	// the ids of recipe-api's span.
	var in recvRecord
	r.waitFor(t, "recipe-api's request-incoming record in the trace", func() bool {
		for _, rec := range r.records {
			if rec.EventName() == "request-incoming" && rec.SpanID() == serverID {
				in = rec
				return true
			}
		}
		return false
	})
	r.mu.Lock()
	rattr := func(k string) string { v, _ := in.Attributes().Get(k); return v.AsString() }
	if in.service != "recipe-api" || in.TraceID() != server.TraceID() || in.SeverityText() != "info" || in.SeverityNumber() != plog.SeverityNumberInfo ||
		in.Body().AsString() != "GET /recipes/42" || rattr("path") != "/recipes/42" || rattr("method") != "GET" || rattr("ip") != "127.0.0.1" || in.Timestamp() == 0 {
		t.Errorf("request-incoming record of %s: %s %v %q %v", in.service, in.SeverityText(), in.SeverityNumber(), in.Body().AsString(), in.Attributes().AsRaw())
	}
	listens = 0
	for _, rec := range r.records {
		if rec.EventName() == "listen" && rec.SeverityText() == "verbose" && rec.service == "recipe-api" && strings.HasPrefix(rec.Body().AsString(), "listening on 127.0.0.1:") {
			listens++
		}
	}
	r.mu.Unlock()
	if listens != 1 {
		t.Errorf("%d listen records from recipe-api, want one", listens)
	}

	// Its request durations: a cumulative histogram under the HTTP
	// conventions' name, per route and status.
	r.waitFor(t, "recipe-api's request-duration histogram", func() bool {
		for _, m := range r.metrics {
			if m.Name() != "http.server.request.duration" || m.Unit() != "s" || m.Type() != pmetric.MetricTypeHistogram ||
				m.Histogram().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
				continue
			}
			for _, dp := range m.Histogram().DataPoints().All() {
				route, _ := dp.Attributes().Get("http.route")
				code, _ := dp.Attributes().Get("http.response.status_code")
				if route.AsString() == "/recipes/{id}" && code.Int() == 200 && dp.Count() > 0 && dp.BucketCounts().Len() == dp.ExplicitBounds().Len()+1 {
					return true
				}
			}
		}
		return false
	})

	// /health answers OK (the cycle starts there).
	resp, err := http.Get(d.Health())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "OK" {
		t.Fatalf("/health %d %q", resp.StatusCode, b)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	outMu.Lock()
	defer outMu.Unlock()
	for _, w := range []string{"obs demo: web-api http://127.0.0.1:", "recipe-api: spans, log records and metrics over OTLP to http://127.0.0.1:",
		"/health OK", "requests (", "over OTLP "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestCycle(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := cycle{start: start, phase: 20 * time.Second}
	for _, tc := range []struct {
		after time.Duration
		want  State
		ends  time.Duration
	}{{0, OK, 20 * time.Second}, {19 * time.Second, OK, 20 * time.Second}, {20 * time.Second, Degraded, 40 * time.Second},
		{45 * time.Second, Down, 60 * time.Second}, {61 * time.Second, OK, 80 * time.Second}, {-time.Second, OK, 20 * time.Second}} {
		s, end := c.at(start.Add(tc.after))
		if s != tc.want || !end.Equal(start.Add(tc.ends)) {
			t.Errorf("after %v: %s until %v, want %s until +%v", tc.after, s, end, tc.want, tc.ends)
		}
	}
	for _, tc := range []struct {
		at   time.Duration
		code int
		body string
	}{{time.Second, 200, "OK"}, {25 * time.Second, 200, "DEGRADED"}, {50 * time.Second, 500, "DOWN"}} {
		srv := httptest.NewServer(healthHandler(c, func() time.Time { return start.Add(tc.at) }))
		resp, err := http.Get(srv.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body {
			t.Errorf("at %v: %d %q", tc.at, resp.StatusCode, b)
		}
	}
}

// When recipe-api is DOWN, web-api's GET / fails with the reason, logged
// as the seed's request-failure, and the CLIENT span is an error.
func TestDemoDown(t *testing.T) {
	r := newReceiver(t)
	o := r.options()
	o.HealthListener = holdListener(t)
	o.Every, o.ErrorEvery, o.GaugeEvery, o.Phase = time.Hour, time.Hour, time.Hour, time.Hour
	o.elapsed = 2 * time.Hour // DOWN, the third phase
	d, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	resp, err := http.Get(d.WebAPI() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "recipe-api answered 500: database unreachable") {
		t.Fatalf("GET / while DOWN: %d %s", resp.StatusCode, b)
	}
	r.waitFor(t, "the failure logged by both services", func() bool {
		var web, recipe bool
		for _, ev := range r.events {
			if ev["type"] == "request-failure" {
				stack, _ := ev["fields"].(map[string]any)["stack"].(string)
				web = web || ev["app"] == "web-api" && strings.Contains(stack, "recipe-api answered 500")
			}
		}
		for _, rec := range r.records {
			stack, _ := rec.Attributes().Get("stack")
			recipe = recipe || rec.EventName() == "request-failure" && rec.service == "recipe-api" && rec.SeverityNumber() == plog.SeverityNumberError &&
				strings.HasPrefix(rec.Body().AsString(), "database unreachable") && strings.Contains(stack.AsString(), "database unreachable")
		}
		return web && recipe
	})
	// recipe-api's span failed, saying why, as RecordError would.
	r.waitFor(t, "an error SERVER span from recipe-api", func() bool {
		for _, sp := range r.oSpans {
			if sp.Status().Code() == ptrace.StatusCodeError && strings.HasPrefix(sp.Status().Message(), "database unreachable") &&
				sp.Events().Len() == 1 && sp.Events().At(0).Name() == "exception" {
				return true
			}
		}
		return false
	})
	r.waitFor(t, "an error CLIENT span", func() bool {
		for _, s := range r.spans {
			if s.Kind == model.Client && s.Tags["error"] == "500" {
				return true
			}
		}
		return false
	})
}

// The services block parses as a config and AddServices leaves what a
// config already defines alone.
func TestServices(t *testing.T) {
	cfg := configs.Default()
	if err := AddServices(&cfg, "127.0.0.1:3300"); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Services) != 2 || cfg.Services[0].Checks[0].Endpoint != "http://127.0.0.1:3300/health" {
		t.Fatalf("%+v", cfg.Services)
	}
	mine := configs.Default()
	if err := configs.Parse([]byte("services:\n  - {name: web-api, checks: [{name: mine, type: tcp, address: \"127.0.0.1:1\"}]}\n"), &mine); err != nil {
		t.Fatal(err)
	}
	if err := AddServices(&mine, "127.0.0.1:3300"); err != nil {
		t.Fatal(err)
	}
	if len(mine.Services) != 2 || mine.Services[0].Checks[0].Name != "mine" || mine.Services[1].Name != "recipe-api" {
		t.Fatalf("%+v", mine.Services)
	}
	// A config with the demo's check names keeps its own.
	other := configs.Default()
	if err := configs.Parse([]byte("services:\n  - {name: mine, checks: [{name: recipe-latency, type: tcp, address: \"127.0.0.1:1\"}]}\n"), &other); err != nil {
		t.Fatal(err)
	}
	AddServices(&other, "127.0.0.1:3300")
	if len(other.Services) != 2 || other.Services[1].Name != "web-api" {
		t.Fatalf("%+v", other.Services)
	}
}
