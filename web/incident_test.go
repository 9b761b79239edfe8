package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/traces"
)

// TestIncidentAPI: GET /api/incident/{service} answers the issue's
// document, key for key, over the window asked for.
func TestIncidentAPI(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	cfg := configs.Default()
	cfg.Services = []configs.ServiceConfig{{Name: "web-api", Channels: []string{"log"}, Checks: []configs.CheckConfig{
		{Name: "web-api-health", Type: "http", Endpoint: down.URL, Importance: "critical"}}}}
	engine, err := alert.New(alert.Options{Config: cfg, DataDir: t.TempDir(), Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	engine.RunNow(context.Background(), "web-api-health")
	ls, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	ts, err := traces.Open(t.TempDir(), traces.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	now := time.Now()
	ls.Commit(context.Background(), []logs.Entry{
		{TS: now, Raw: []byte(`{"app":"web-api","severity":"error","message":"boom 1"}`)},
		{TS: now.Add(-time.Hour), Raw: []byte(`{"app":"web-api","severity":"error","message":"boom 2"}`)}})
	zk := NewZipkinAPI(EmbeddedTraces(ts), zipkin.NewCollector(ts, 1<<20, nil, nil))
	srv := httptest.NewServer(New(Deps{Logs: ls, Tail: NewTailHub(), Registry: prometheus.NewRegistry(), Health: NewHealth(),
		Alerts: engine, Zipkin: zk, Security: Security{Loopback: true, Intake: IntakePaths}}).Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v2/spans", "application/json", strings.NewReader(
		`[{"traceId":"00000000000000a1","id":"00000000000000a1","name":"get /","timestamp":`+
			jsonInt(now.Add(-time.Minute).UnixMicro())+`,"duration":1500,"localEndpoint":{"serviceName":"web-api"},"tags":{"error":"503"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	code, body := get(t, srv.URL+"/api/incident/web-api")
	var doc map[string]json.RawMessage
	if code != 200 || json.Unmarshal([]byte(body), &doc) != nil {
		t.Fatalf("%d %s", code, body)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return strings.Fields(strings.Join(k, " "))
	}
	obj := func(raw json.RawMessage) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return m
	}
	first := func(raw json.RawMessage) map[string]json.RawMessage {
		var l []json.RawMessage
		if err := json.Unmarshal(raw, &l); err != nil || len(l) == 0 {
			t.Fatalf("want a non-empty list: %s", raw)
		}
		return obj(l[0])
	}
	for _, c := range []struct {
		what string
		got  []string
		want string
	}{
		{"document", keys(doc), "checks logs service status traces window"},
		{"window", keys(obj(doc["window"])), "from to"},
		{"check", keys(first(doc["checks"])), "name reason status"},
		{"logs", keys(obj(doc["logs"])), "errors top total"},
		{"group", keys(first(obj(doc["logs"])["top"])), "count first last message"},
		{"trace", keys(first(doc["traces"])), "durationMs error rootSpan traceId"},
	} {
		if strings.Join(c.got, " ") != c.want {
			t.Errorf("%s keys %v, want %s", c.what, c.got, c.want)
		}
	}
	if !strings.Contains(body, `"status":"CRITICAL"`) || !strings.Contains(body, `"errors":1,`) || !strings.Contains(body, `"traceId":"00000000000000a1","durationMs":1.5,"error":true,"rootSpan":"get /"`) {
		t.Fatalf("%s", body)
	}
	// A window given: since, or from and to.
	if code, body := get(t, srv.URL+"/api/incident/web-api?since=2h"); code != 200 || !strings.Contains(body, `"errors":2,`) {
		t.Fatalf("since=2h: %d %s", code, body)
	}
	if code, body := get(t, srv.URL+"/api/incident/web-api?from=now-2h&to=now-30m"); code != 200 || !strings.Contains(body, `"errors":1,`) || !strings.Contains(body, `"message":"boom \u003cn\u003e"`) {
		t.Fatalf("from/to: %d %s", code, body)
	}
	for path, want := range map[string]int{"/api/incident/nope": 404, "/api/incident/web-api?since=soon": 400, "/api/incident/web-api?since=1h&from=now-1h": 400} {
		if code, body := get(t, srv.URL+path); code != want || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d", path, code, body, want)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
