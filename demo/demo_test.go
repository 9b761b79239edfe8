package demo

import (
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

	"github.com/obs-dev/obs/configs"
)

// receiver stands where obs would: a UDP socket for log events, one for
// StatsD and a Zipkin collector, all on ports held from the start.
type receiver struct {
	mu     sync.Mutex
	events []map[string]any
	lines  []string
	spans  []model.SpanModel
	logs   *net.UDPConn
	statsd *net.UDPConn
	zipkin *httptest.Server
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
	return r
}

func (r *receiver) options() Options {
	return Options{Logs: r.logs.LocalAddr().String(), StatsD: r.statsd.LocalAddr().String(),
		Zipkin: strings.TrimPrefix(r.zipkin.URL, "http://")}
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
	// Three spans per GET /: web-api's SERVER, its CLIENT call and
	// recipe-api's SERVER half sharing the CLIENT's id.
	var traceID string
	r.waitFor(t, "a whole trace", func() bool {
		byTrace := map[model.TraceID][]model.SpanModel{}
		for _, s := range r.spans {
			byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
		}
		for id, spans := range byTrace {
			if len(spans) == 3 && spans[0].Name != "get_error" {
				traceID = id.String()
				return true
			}
		}
		return false
	})
	r.mu.Lock()
	var root, client, server *model.SpanModel
	for i, s := range r.spans {
		if s.TraceID.String() != traceID {
			continue
		}
		switch {
		case s.Kind == model.Server && s.LocalEndpoint.ServiceName == "web-api":
			root = &r.spans[i]
		case s.Kind == model.Client:
			client = &r.spans[i]
		case s.Kind == model.Server && s.LocalEndpoint.ServiceName == "recipe-api":
			server = &r.spans[i]
		}
	}
	r.mu.Unlock()
	if root == nil || client == nil || server == nil {
		t.Fatalf("trace %s: root %v client %v server %v", traceID, root, client, server)
	}
	if root.Name != "get_root" || root.ParentID != nil || client.Name != "get_recipe" || *client.ParentID != root.ID ||
		client.RemoteEndpoint.ServiceName != "recipe-api" || server.Name != "get_recipe" || server.ID != client.ID || !server.Shared {
		t.Fatalf("trace shape:\nroot %+v\nclient %+v\nserver %+v", root, client, server)
	}
	if client.Tags["http.path"] != "/recipes/42" || client.Tags["http.method"] != "GET" {
		t.Errorf("client tags %v", client.Tags)
	}

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
		if ev["type"] == "listen" && ev["severity"] == "verbose" {
			listens++
		}
	}
	r.mu.Unlock()
	if listens != 2 {
		t.Errorf("%d listen events, want one per service", listens)
	}

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
	for _, w := range []string{"obs demo: web-api http://127.0.0.1:", "/health OK", "requests ("} {
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
				recipe = recipe || ev["app"] == "recipe-api" && strings.Contains(stack, "database unreachable")
			}
		}
		return web && recipe
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
