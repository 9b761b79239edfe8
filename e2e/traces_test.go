package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	zipkinmw "github.com/openzipkin/zipkin-go/middleware/http"
	zipkinreporter "github.com/openzipkin/zipkin-go/reporter/http"
)

type zspan struct {
	TraceID        string            `json:"traceId"`
	ID             string            `json:"id"`
	ParentID       string            `json:"parentId"`
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Timestamp      int64             `json:"timestamp"`
	Duration       int64             `json:"duration"`
	Shared         bool              `json:"shared"`
	LocalEndpoint  map[string]any    `json:"localEndpoint"`
	RemoteEndpoint map[string]any    `json:"remoteEndpoint"`
	Tags           map[string]string `json:"tags"`
}

func (s zspan) svc() string { v, _ := s.LocalEndpoint["serviceName"].(string); return v }

func (s *server) getJSON(t *testing.T, base, path string, out any) int {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// goService starts an HTTP service traced with zipkin-go's middleware and
// HTTP reporter, as a Go app would be.
func goService(t *testing.T, zipkinURL, name string, handler http.Handler) (*zipkin.Tracer, *httptest.Server, func()) {
	rep := zipkinreporter.NewReporter(zipkinURL, zipkinreporter.BatchInterval(200*time.Millisecond))
	srv := httptest.NewUnstartedServer(nil)
	ep, err := zipkin.NewEndpoint(name, srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tracer, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(ep), zipkin.WithSampler(zipkin.AlwaysSample))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = zipkinmw.NewServerMiddleware(tracer, zipkinmw.SpanName("request"))(handler)
	srv.Start()
	return tracer, srv, func() { srv.Close(); rep.Close() }
}

func TestTracesFromZipkinGoAndNode(t *testing.T) {
	s := newServer(t)
	zipkinURL := fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", s.zipkin)

	// recipe-api answers; web-api calls it, as in the seed.
	_, recipe, stopRecipe := goService(t, zipkinURL, "recipe-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(15 * time.Millisecond)
		w.Write([]byte(`{"id":42}`))
	}))
	var webTracer *zipkin.Tracer
	var traceID string
	webTracer, web, stopWeb := goService(t, zipkinURL, "web-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, err := zipkinmw.NewClient(webTracer, zipkinmw.ClientTrace(false))
		if err != nil {
			t.Error(err)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), "GET", recipe.URL+"/recipes/42", nil)
		resp, err := client.DoWithAppSpan(req, "get_recipe")
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(w, resp.Body)
		resp.Body.Close()
		if sp := zipkin.SpanFromContext(r.Context()); sp != nil {
			traceID = sp.Context().TraceID.String()
		}
	}))
	resp, err := http.Get(web.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stopWeb()
	stopRecipe()
	if traceID == "" {
		t.Fatal("no trace id")
	}

	// Node services through zipkin + zipkin-transport-http (v1 JSON).
	cmd := exec.Command("node", "zipkin-app.js", fmt.Sprint(s.zipkin))
	cmd.Dir = nodeModules(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node zipkin-app.js: %v\n%s", err, out)
	}
	nodeTrace := strings.TrimSpace(string(out))

	zbase := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	eventually(t, 10*time.Second, func() error {
		var found [][]zspan
		s.getJSON(t, zbase, "/api/v2/traces?serviceName=web-api&spanName=get_recipe&lookback=3600000", &found)
		// web-api's server span, its get_recipe app span, the HTTP client
		// span under it, and recipe-api's server half of that client span.
		if len(found) != 1 || len(found[0]) != 4 {
			b, _ := json.Marshal(found)
			return fmt.Errorf("web-api traces: %d: %s", len(found), b)
		}
		return nil
	})

	t.Run("go trace has both halves and right parents", func(t *testing.T) {
		var spans []zspan
		if code := s.getJSON(t, s.url(), "/api/v2/trace/"+traceID, &spans); code != 200 {
			t.Fatalf("GET trace: %d", code)
		}
		byKind := map[string]zspan{}
		for _, sp := range spans {
			byKind[sp.svc()+"/"+sp.Kind] = sp
		}
		root, app, client, server := byKind["web-api/SERVER"], byKind["web-api/"], byKind["web-api/CLIENT"], byKind["recipe-api/SERVER"]
		if root.ID == "" || app.ID == "" || client.ID == "" || server.ID == "" {
			t.Fatalf("spans %+v", spans)
		}
		if app.Name != "get_recipe" || app.ParentID != root.ID || client.ParentID != app.ID ||
			server.ID != client.ID || server.ParentID != app.ID || !server.Shared {
			t.Fatalf("tree wrong: root %s, app %s (parent %s), client %s (parent %s), server %s (parent %s, shared %v)",
				root.ID, app.ID, app.ParentID, client.ID, client.ParentID, server.ID, server.ParentID, server.Shared)
		}
		if server.Duration < 15000 || client.Duration < server.Duration || root.Duration < client.Duration {
			t.Fatalf("durations: root %d client %d server %d", root.Duration, client.Duration, server.Duration)
		}
	})
	t.Run("node trace from v1 json", func(t *testing.T) {
		var spans []zspan
		if code := s.getJSON(t, zbase, "/api/v2/trace/"+nodeTrace, &spans); code != 200 || len(spans) != 3 {
			t.Fatalf("node trace: %d, %+v", code, spans)
		}
		kinds := map[string]bool{}
		for _, sp := range spans {
			kinds[sp.svc()+"/"+sp.Kind] = true
		}
		if !kinds["node-web/SERVER"] || !kinds["node-web/CLIENT"] || !kinds["node-recipe/SERVER"] {
			t.Fatalf("node spans %v", kinds)
		}
	})
	t.Run("cli show", func(t *testing.T) {
		out, err := s.obs("traces", "show", traceID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "web-api (client) ⇄ recipe-api (server): http/get") || !strings.Contains(out, "4 spans") ||
			!strings.Contains(out, "  web-api: get_recipe") {
			t.Fatalf("waterfall:\n%s", out)
		}
		out, err = s.obs("traces", "search", "--service", "recipe-api", "--since", "1h")
		if err != nil || !strings.Contains(out, traceID) {
			t.Fatalf("cli search: %v\n%s", err, out)
		}
	})
	t.Run("dependencies", func(t *testing.T) {
		var links []struct {
			Parent, Child string
			CallCount     int
		}
		s.getJSON(t, s.url(), fmt.Sprintf("/api/v2/dependencies?endTs=%d&lookback=3600000", time.Now().UnixMilli()), &links)
		got := map[string]int{}
		for _, l := range links {
			got[l.Parent+"->"+l.Child] = l.CallCount
		}
		if got["web-api->recipe-api"] != 1 || got["node-web->node-recipe"] != 1 {
			t.Fatalf("links %v", got)
		}
	})
	t.Run("api shapes", func(t *testing.T) {
		var services, names, remotes []string
		s.getJSON(t, zbase, "/api/v2/services", &services)
		s.getJSON(t, zbase, "/api/v2/spans?serviceName=web-api", &names)
		s.getJSON(t, zbase, "/api/v2/remoteServices?serviceName=node-web", &remotes)
		if strings.Join(services, ",") != "node-recipe,node-web,recipe-api,web-api" || !slices.Contains(names, "get_recipe") || strings.Join(remotes, ",") != "node-recipe" {
			t.Fatalf("services %v names %v remotes %v", services, names, remotes)
		}
		if code := s.getJSON(t, zbase, "/api/v2/trace/00000000000000ff", nil); code != 404 {
			t.Fatalf("unknown trace: %d", code)
		}
		var many [][]zspan
		s.getJSON(t, zbase, "/api/v2/traceMany?traceIds="+traceID+","+nodeTrace, &many)
		if len(many) != 2 {
			t.Fatalf("traceMany: %d", len(many))
		}
		var cfg map[string]any
		s.getJSON(t, zbase, "/zipkin/config.json", &cfg)
		if cfg["searchEnabled"] != true {
			t.Fatalf("config %v", cfg)
		}
	})
}

// The seed's message table around C2 (trace 100: web-api serving a request
// and calling recipe-api), posted and read back.
func TestSeedSpansRoundTrip(t *testing.T) {
	s := newServer(t)
	now := time.Now().UnixMicro()
	ep := func(svc string) map[string]any { return map[string]any{"serviceName": svc, "ipv4": "127.0.0.1"} }
	msgs := []map[string]any{
		{"id": "0000000000000110", "traceId": "0000000000000100", "name": "get_root", "kind": "SERVER", "timestamp": now, "duration": 100000, "localEndpoint": ep("web-api")},
		{"id": "0000000000000111", "parentId": "0000000000000110", "traceId": "0000000000000100", "name": "get_recipe", "kind": "CLIENT", "timestamp": now + 1000, "duration": 80000, "localEndpoint": ep("web-api"), "remoteEndpoint": ep("recipe-api")},
		{"id": "0000000000000111", "parentId": "0000000000000110", "traceId": "0000000000000100", "name": "get_recipe", "kind": "SERVER", "shared": true, "timestamp": now + 2000, "duration": 78000, "localEndpoint": ep("recipe-api")},
		{"id": "0000000000000112", "parentId": "0000000000000111", "traceId": "0000000000000100", "name": "select", "kind": "CLIENT", "timestamp": now + 3000, "duration": 5000, "localEndpoint": ep("recipe-api"), "remoteEndpoint": ep("postgres"), "tags": map[string]string{"sql.query": "SELECT 1"}},
		{"id": "0000000000000113", "parentId": "0000000000000110", "traceId": "0000000000000100", "name": "get_profile", "kind": "CLIENT", "timestamp": now + 85000, "duration": 10000, "localEndpoint": ep("web-api"), "remoteEndpoint": ep("profile-api"), "tags": map[string]string{"error": "503"}},
		{"id": "0000000000000113", "parentId": "0000000000000110", "traceId": "0000000000000100", "name": "get_profile", "kind": "SERVER", "shared": true, "timestamp": now + 86000, "duration": 8000, "localEndpoint": ep("profile-api"), "tags": map[string]string{"error": "503"}},
		{"id": "0000000000000114", "parentId": "0000000000000110", "traceId": "0000000000000100", "name": "audit", "kind": "PRODUCER", "timestamp": now + 96000, "duration": 1000, "localEndpoint": ep("web-api"), "remoteEndpoint": ep("kafka")},
	}
	body, _ := json.Marshal(msgs)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", s.zipkin), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	var spans []zspan
	s.getJSON(t, s.url(), "/api/v2/trace/0000000000000100", &spans)
	if len(spans) != 7 {
		t.Fatalf("%d spans back", len(spans))
	}
	var c2 zspan
	for _, sp := range spans {
		if sp.ID == "0000000000000111" && sp.Kind == "CLIENT" {
			c2 = sp
		}
	}
	if c2.ParentID != "0000000000000110" || c2.TraceID != "0000000000000100" || c2.Name != "get_recipe" || c2.Duration != 80000 {
		t.Fatalf("C2 came back as %+v", c2)
	}
	// Logs carrying the trace id are listed with the trace.
	lc, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	fmt.Fprint(lc, `{"app":"web-api","message":"fetching recipe","traceId":"0000000000000100"}`)
	fmt.Fprint(lc, `{"app":"recipe-api","message":"cache miss","trace_id":"0000000000000100"}`)
	fmt.Fprint(lc, `{"app":"web-api","message":"other request","traceId":"0000000000000999"}`)
	lc.Close()
	eventually(t, 5*time.Second, func() error {
		out, err := s.obs("traces", "show", "0000000000000100", "--logs", "-o", "json")
		if err != nil {
			return err
		}
		var res struct {
			Spans []json.RawMessage
			Logs  []json.RawMessage
		}
		json.Unmarshal([]byte(out), &res)
		if len(res.Spans) != 7 || len(res.Logs) != 2 {
			return fmt.Errorf("trace with logs: %d spans, %d logs", len(res.Spans), len(res.Logs))
		}
		return nil
	})
	// A 128-bit id with the same low half finds the trace (non-strict).
	if code := s.getJSON(t, s.url(), "/api/v2/trace/00000000000000010000000000000100", nil); code != 200 {
		t.Fatalf("128-bit lookup: %d", code)
	}
	var found [][]zspan
	s.getJSON(t, s.url(), "/api/v2/traces?serviceName=web-api&annotationQuery="+url.QueryEscape("error and error=503")+"&lookback=3600000", &found)
	if len(found) != 1 {
		t.Fatalf("annotationQuery: %d traces", len(found))
	}
	s.getJSON(t, s.url(), "/api/v2/traces?serviceName=recipe-api&minDuration=79000&lookback=3600000", &found)
	if len(found) != 0 {
		t.Fatalf("minDuration above every recipe-api span still found %d", len(found))
	}
	var links []struct {
		Parent, Child         string
		CallCount, ErrorCount int
	}
	s.getJSON(t, s.url(), fmt.Sprintf("/api/v2/dependencies?endTs=%d", time.Now().UnixMilli()+1000), &links)
	got := map[string]string{}
	for _, l := range links {
		got[l.Parent+"->"+l.Child] = fmt.Sprintf("%d/%d", l.CallCount, l.ErrorCount)
	}
	want := map[string]string{"web-api->recipe-api": "1/0", "web-api->profile-api": "1/1", "recipe-api->postgres": "1/0", "web-api->kafka": "1/0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("links %v, want %v", got, want)
	}
	// Bad batches are refused whole.
	for _, bad := range []string{`[{"traceId":"xyz","id":"0000000000000001"}]`, `{"not":"a list"}`, `[{"traceId":"0000000000000100","id":"0000000000000001","kind":"SIDEWAYS"}]`,
		`[{"traceId":"0000000000000200","id":"0000000000000001"},{"traceId":"0000000000000200","id":"zz"}]`} {
		resp, _ := http.Post(s.url()+"/api/v2/spans", "application/json", strings.NewReader(bad))
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
	if code := s.getJSON(t, s.url(), "/api/v2/trace/0000000000000200", nil); code != 404 {
		t.Fatal("half a bad batch was stored")
	}
	big := bytes.Repeat([]byte("x"), 17<<20)
	resp, _ = http.Post(s.url()+"/api/v2/spans", "application/json", bytes.NewReader(big))
	if resp.StatusCode != 413 {
		t.Fatalf("big body: %d", resp.StatusCode)
	}
}
