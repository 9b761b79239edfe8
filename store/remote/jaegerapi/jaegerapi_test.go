package jaegerapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/traces"
)

// The testdata are a real Jaeger v2 (v1.76.0, in-memory storage, zipkin
// receiver) answering for the spans of testdata/spans.json, posted to its
// zipkin receiver as obs's forwarder posts them.

// recorded serves the recorded answers by path, and remembers the last
// query of each path.
type recorded struct {
	queries map[string]url.Values
}

func (rec *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.queries[r.URL.Path] = r.URL.Query()
	file := map[string]string{
		"/api/traces/5af7183fb1d4cf5f00000000000000a1": "trace.json",
		"/api/traces/00000000000000b2":                 "trace_notimestamp.json",
		"/api/traces":                                  "search.json",
		"/api/services":                                "services.json",
		"/api/operations":                              "operations.json",
		"/api/dependencies":                            "dependencies.json",
	}[r.URL.Path]
	code := 200
	if file == "" {
		file, code = "trace_notfound.json", 404
	}
	if r.URL.Path == "/api/traces" && r.URL.Query().Get("service") != "web-api" {
		w.Write([]byte(`{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`))
		return
	}
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func newClient(t *testing.T) (*Client, *recorded) {
	rec := &recorded{queries: map[string]url.Values{}}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(endpoint.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// want is what obs's own collector made of the first trace of
// testdata/spans.json when the answers were recorded
// (testdata/want_trace.json): the JSON the embedded store answers with.
func want(t *testing.T) map[string]map[string]any {
	b, err := os.ReadFile("testdata/want_trace.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return decode(t, raw)
}

func key(m map[string]any) string {
	if _, ok := m["kind"]; !ok {
		m["kind"] = ""
	}
	return m["id"].(string) + "/" + m["kind"].(string)
}

func decode(t *testing.T, raw []json.RawMessage) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range raw {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatal(err)
		}
		out[key(m)] = m
	}
	return out
}

func TestTraceIsTheZipkinSpansSent(t *testing.T) {
	c, rec := newClient(t)
	id, _ := model.TraceIDFromHex("5af7183fb1d4cf5f00000000000000a1")
	raw, err := c.Trace(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, exp := decode(t, raw), want(t)
	if len(got) != 4 || len(exp) != 4 {
		t.Fatalf("got %d spans, want %d", len(got), len(exp))
	}
	for k, w := range exp {
		if !reflect.DeepEqual(got[k], w) {
			g, _ := json.Marshal(got[k])
			wb, _ := json.Marshal(w)
			t.Errorf("span %s:\n got %s\nwant %s", k, g, wb)
		}
	}
	if rec.queries["/api/traces/5af7183fb1d4cf5f00000000000000a1"].Get("raw") != "true" {
		t.Error("trace not asked for raw: Jaeger's adjusters would change the shared span's id")
	}
}

// A span without a timestamp comes back without one (Jaeger says so with
// an attribute and a start at the epoch); its debug flag does not survive
// OpenTelemetry.
func TestTraceWithoutTimestamp(t *testing.T) {
	c, _ := newClient(t)
	id, _ := model.TraceIDFromHex("b2")
	raw, err := c.Trace(context.Background(), id)
	if err != nil || len(raw) != 1 {
		t.Fatalf("%v %d spans", err, len(raw))
	}
	got := decode(t, raw)["0000000000000001/"]
	exp := map[string]any{"traceId": "00000000000000b2", "id": "0000000000000001", "name": "no-timestamp", "duration": 5.0,
		"localEndpoint": map[string]any{"serviceName": "batch-job"}, "kind": ""}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("got %v, want %v", got, exp)
	}
}

func TestTraceNotFound(t *testing.T) {
	c, _ := newClient(t)
	id, _ := model.TraceIDFromHex("bad1d5")
	raw, err := c.Trace(context.Background(), id)
	if err != nil || raw != nil {
		t.Fatalf("unknown trace: %v %v, want nil, nil", raw, err)
	}
}

func TestSearchAsksJaegerAndChecksBareTerms(t *testing.T) {
	c, rec := newClient(t)
	end := int64(1764326000000)
	q := traces.Query{ServiceName: "web-api", RemoteServiceName: "recipe-api", SpanName: "get_recipe",
		AnnotationQuery: map[string]string{"http.path": "/recipes/42", "wr": ""}, MinDuration: 1000, MaxDuration: 100000,
		EndTs: end, Lookback: 3600000, Limit: 5}
	res, err := c.Search(context.Background(), q)
	if err != nil || len(res) != 1 || len(res[0]) != 4 {
		t.Fatalf("search: %v, %d traces", err, len(res))
	}
	got := rec.queries["/api/traces"]
	var tags map[string]string
	json.Unmarshal([]byte(got.Get("tags")), &tags)
	if got.Get("service") != "web-api" || got.Get("operation") != "get_recipe" || got.Get("start") != "1764322400000000" ||
		got.Get("end") != "1764326000000000" || got.Get("minDuration") != "1000us" || got.Get("maxDuration") != "100000us" ||
		got.Get("raw") != "true" || got.Get("limit") != "100" ||
		!reflect.DeepEqual(tags, map[string]string{"http.path": "/recipes/42", "peer.service": "recipe-api"}) {
		t.Errorf("query to Jaeger: %v", got)
	}
	// A bare term no span has: Jaeger's answer is filtered out.
	q.AnnotationQuery = map[string]string{"no-such-annotation": ""}
	if res, err := c.Search(context.Background(), q); err != nil || len(res) != 0 {
		t.Errorf("bare term the trace lacks: %v, %d traces", err, len(res))
	}
	// No service: every service is asked (Jaeger requires one).
	q = traces.Query{AnnotationQuery: map[string]string{"error": ""}, EndTs: end, Lookback: 3600000, Limit: 5}
	if res, err := c.Search(context.Background(), q); err != nil || len(res) != 1 {
		t.Errorf("search without a service: %v, %d traces", err, len(res))
	}
}

func TestNamesAndDependencies(t *testing.T) {
	c, rec := newClient(t)
	ctx := context.Background()
	if s, err := c.Services(ctx); err != nil || !reflect.DeepEqual(s, []string{"batch-job", "recipe-api", "web-api"}) {
		t.Errorf("services %v %v", s, err)
	}
	if s, err := c.SpanNames(ctx, "recipe-api"); err != nil || !reflect.DeepEqual(s, []string{"get_recipe", "select"}) {
		t.Errorf("span names %v %v", s, err)
	}
	if rec.queries["/api/operations"].Get("service") != "recipe-api" {
		t.Errorf("operations query %v", rec.queries["/api/operations"])
	}
	deps, err := c.Dependencies(ctx, 1764326000000, 86400000)
	if err != nil || !reflect.DeepEqual(deps, []traces.DependencyLink{{Parent: "web-api", Child: "recipe-api", CallCount: 1}}) {
		t.Errorf("dependencies %+v %v (a service's links to itself are Jaeger's parent-child pairs, left out)", deps, err)
	}
	if q := rec.queries["/api/dependencies"]; q.Get("endTs") != "1764326000000" || q.Get("lookback") != "86400000" {
		t.Errorf("dependencies query %v", q)
	}
	if s, err := c.RemoteServices(ctx, "web-api"); err != nil || !reflect.DeepEqual(s, []string{"recipe-api"}) {
		t.Errorf("remote services %v %v", s, err)
	}
}

// An engine that cannot be reached is a 503 naming it, without its
// credentials.
func TestEngineDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := New(endpoint.Config{URL: "http://obs:s3cret-pw@" + addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Services(context.Background())
	var e *Error
	if !asError(err, &e) || e.HTTPStatus() != 503 || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("engine down: %v", err)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

func TestSharedSpanRestoredAndDuplicatesShownOnce(t *testing.T) {
	b, _ := os.ReadFile("testdata/trace.json")
	var env struct{ Data []jTrace }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	tr := env.Data[0]
	tr.Spans = append(tr.Spans, tr.Spans...) // every span sent twice
	spans, err := toZipkin(tr)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range spans {
		kinds = append(kinds, s.ID.String()+string(s.Kind)+map[bool]string{true: "+shared"}[s.Shared])
	}
	sort.Strings(kinds)
	if w := []string{"000000000000000aSERVER", "000000000000000bCLIENT", "000000000000000bSERVER+shared", "000000000000000c"}; !reflect.DeepEqual(kinds, w) {
		t.Errorf("spans %v, want %v", kinds, w)
	}
}
