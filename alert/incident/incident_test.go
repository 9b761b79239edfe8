package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/traces"
)

// fixture is a real alert engine, log store and span store with one
// failing service (web-api), one passing (recipe-api), and telemetry of
// both, some of it older than the failure.
type fixture struct {
	engine  *alert.Engine
	logs    *logs.Store
	traces  *traces.Store
	collect *httptest.Server
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	t.Cleanup(down.Close)
	cfg := configs.Default()
	v := 80.0
	cfg.Services = []configs.ServiceConfig{
		{Name: "web-api", Channels: []string{"log"}, Checks: []configs.CheckConfig{
			{Name: "web-api-health", Type: "http", Endpoint: down.URL + "/health", Importance: "critical", MaxResponseTime: configs.Duration(2 * time.Second)},
			{Name: "web-api-latency", Type: "metric", Target: "stats.timers.web-api.outbound.recipe-api.request-time.upper_90", CheckType: ">", Value: &v, Importance: "warning"},
		}},
		{Name: "recipe-api", Channels: []string{"log"}, Checks: []configs.CheckConfig{
			{Name: "recipe-api-health", Type: "http", Endpoint: down.URL + "/health", Importance: "critical"},
		}},
	}
	e, err := alert.New(alert.Options{Config: cfg, DataDir: t.TempDir(), BaseURL: "http://127.0.0.1:8000", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	ts, err := traces.Open(t.TempDir(), traces.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	col := httptest.NewServer(zipkin.NewCollector(ts, 1<<20, nil, nil))
	t.Cleanup(col.Close)
	return &fixture{engine: e, logs: ls, traces: ts, collect: col, now: time.Now()}
}

func (f *fixture) events(t *testing.T, evs ...string) {
	t.Helper()
	var entries []logs.Entry
	for _, ev := range evs {
		var x struct {
			TS time.Time `json:"@timestamp"`
		}
		if err := json.Unmarshal([]byte(ev), &x); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		entries = append(entries, logs.Entry{TS: x.TS, Raw: []byte(ev)})
	}
	if err := f.logs.Commit(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
}

// ago is an event time d before the fixture's now.
func (f *fixture) ago(d time.Duration) string { return f.now.Add(-d).UTC().Format(time.RFC3339Nano) }

// span posts one Zipkin v2 span starting d ago.
func (f *fixture) span(t *testing.T, trace, id, parent, svc, name string, d, dur time.Duration, tags string) {
	t.Helper()
	p := ""
	if parent != "" {
		p = fmt.Sprintf(`"parentId":%q,`, parent)
	}
	body := fmt.Sprintf(`[{"traceId":%q,"id":%q,%s"name":%q,"kind":"SERVER","timestamp":%d,"duration":%d,"localEndpoint":{"serviceName":%q},"tags":{%s}}]`,
		trace, id, p, name, f.now.Add(-d).UnixMicro(), dur.Microseconds(), svc, tags)
	resp, err := http.Post(f.collect.URL, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("span refused: %d", resp.StatusCode)
	}
}

func (f *fixture) builder() *Builder {
	return &Builder{Services: f.engine, Logs: f.logs, Traces: embedded{f.traces}, Now: func() time.Time { return f.now }}
}

// embedded reads the span store as web.EmbeddedTraces does.
type embedded struct{ st *traces.Store }

func (e embedded) Search(_ context.Context, q traces.Query) ([][]json.RawMessage, error) {
	return e.st.Search(q)
}

func TestBuild(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.engine.RunNow(ctx, "web-api-health"); err != nil {
		t.Fatal(err)
	}
	f.now = time.Now() // after the failure: the report is read after the page
	f.events(t,
		// web-api's errors: one message three times with other numbers, a
		// stack without a message twice, an OTLP record once.
		`{"@timestamp":"`+f.ago(3*time.Minute)+`","app":"web-api","severity":"error","message":"lookup of recipe 42 failed after 120 ms"}`,
		`{"@timestamp":"`+f.ago(2*time.Minute)+`","app":"web-api","severity":"error","message":"lookup of recipe 7 failed after 3 ms"}`,
		`{"@timestamp":"`+f.ago(1*time.Minute)+`","app":"web-api","severity":"error","message":"lookup of recipe 9 failed after 31 ms"}`,
		`{"@timestamp":"`+f.ago(2*time.Minute)+`","app":"web-api","severity":"error","type":"request-failure","fields":{"stack":"Error: connect ECONNREFUSED 127.0.0.1:4001\n    at GET / (web-api)"}}`,
		`{"@timestamp":"`+f.ago(90*time.Second)+`","app":"web-api","severity":"error","type":"request-failure","fields":{"stack":"Error: connect ECONNREFUSED 127.0.0.1:4002\n    at GET / (web-api)"}}`,
		`{"@timestamp":"`+f.ago(30*time.Second)+`","service.name":"web-api","severity_text":"ERROR","severity_number":17,"body":"x","message":"db timeout after 3s"}`,
		// web-api's other events.
		`{"@timestamp":"`+f.ago(2*time.Minute)+`","app":"web-api","severity":"info","message":"GET / 200"}`,
		`{"@timestamp":"`+f.ago(2*time.Minute)+`","app":"web-api","severity":"warn","message":"slow"}`,
		`{"@timestamp":"`+f.ago(1*time.Minute)+`","service":"web-api","level":"info","msg":"listening"}`,
		// Another service's errors, and web-api's from before the failure.
		`{"@timestamp":"`+f.ago(1*time.Minute)+`","app":"recipe-api","severity":"error","message":"not web-api's"}`,
		`{"@timestamp":"`+f.ago(1*time.Minute)+`","app":"web-api-canary","severity":"error","message":"a different app"}`,
		`{"@timestamp":"`+f.ago(2*time.Hour)+`","app":"web-api","severity":"error","message":"long before"}`,
	)
	// Traces: one failing, one above the 80 ms of the latency check, one
	// fast, one of another service, one from before the failure.
	f.span(t, "00000000000000a1", "00000000000000a1", "", "web-api", "get /", 2*time.Minute, 10*time.Millisecond, `"error":"500"`)
	f.span(t, "00000000000000a1", "00000000000000a2", "00000000000000a1", "web-api", "get /recipes", 2*time.Minute, 5*time.Millisecond, "")
	f.span(t, "00000000000000b1", "00000000000000b1", "", "web-api", "get /", 90*time.Second, 200*time.Millisecond, "")
	f.span(t, "00000000000000c1", "00000000000000c1", "", "web-api", "get /", 60*time.Second, 5*time.Millisecond, "")
	f.span(t, "00000000000000d1", "00000000000000d1", "", "recipe-api", "get /recipes/42", 60*time.Second, 300*time.Millisecond, `"error":"boom"`)
	f.span(t, "00000000000000e1", "00000000000000e1", "", "web-api", "get /", 2*time.Hour, 900*time.Millisecond, `"error":"old"`)

	rep, err := f.builder().Build(ctx, "web-api", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Service != "web-api" || rep.Status != alert.Critical {
		t.Fatalf("service %q status %v", rep.Service, rep.Status)
	}
	// The window opens 5 minutes before the service left PASSING.
	v, _ := f.engine.Service("web-api")
	if len(v.History) != 1 || !rep.Window.From.Equal(v.History[0].Time.Add(-lead).UTC()) || !rep.Window.To.Equal(f.now.UTC()) {
		t.Fatalf("window %+v, history %+v", rep.Window, v.History)
	}
	if len(rep.Checks) != 2 || rep.Checks[0] != (Check{Name: "web-api-health", Status: alert.Critical, Reason: "Wrong code: got 500 (expected 200)"}) ||
		rep.Checks[1] != (Check{Name: "web-api-latency", Status: alert.Passing}) {
		t.Fatalf("checks %+v", rep.Checks)
	}
	if rep.Logs.Total != 9 || rep.Logs.Errors != 6 {
		t.Fatalf("logs: %d events, %d errors", rep.Logs.Total, rep.Logs.Errors)
	}
	want := []struct {
		msg   string
		count int
		first time.Duration
		last  time.Duration
	}{
		{"lookup of recipe <n> failed after <n> ms", 3, 3 * time.Minute, 1 * time.Minute},
		{"Error: connect ECONNREFUSED <n>.<n>.<n>.<n>:<n>", 2, 2 * time.Minute, 90 * time.Second},
		{"db timeout after <n>s", 1, 30 * time.Second, 30 * time.Second},
	}
	if len(rep.Logs.Top) != len(want) {
		t.Fatalf("top %+v", rep.Logs.Top)
	}
	for i, w := range want {
		g := rep.Logs.Top[i]
		// Event times are stored to the millisecond.
		if g.Message != w.msg || g.Count != w.count || !g.First.Equal(f.now.Add(-w.first).Truncate(time.Millisecond)) || !g.Last.Equal(f.now.Add(-w.last).Truncate(time.Millisecond)) {
			t.Errorf("top[%d] = %+v, want %+v", i, g, w)
		}
	}
	if len(rep.Traces) != 2 || rep.Traces[0] != (Trace{TraceID: "00000000000000a1", DurationMs: 10, Error: true, RootSpan: "get /"}) ||
		rep.Traces[1] != (Trace{TraceID: "00000000000000b1", DurationMs: 200, RootSpan: "get /"}) {
		t.Fatalf("traces %+v", rep.Traces)
	}

	// A window given: the older error and trace are in.
	rep, err = f.builder().Build(ctx, "web-api", f.now.Add(-3*time.Hour), f.now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Logs.Errors != 7 || len(rep.Traces) != 3 || rep.Traces[0].TraceID != "00000000000000e1" {
		t.Fatalf("3h window: %d errors, traces %+v", rep.Logs.Errors, rep.Traces)
	}

	// No check has run for recipe-api: it passes, the last 30 minutes.
	rep, err = f.builder().Build(ctx, "recipe-api", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != alert.Passing || !rep.Window.From.Equal(f.now.Add(-DefaultWindow).UTC()) || rep.Logs.Errors != 1 || rep.Logs.Top[0].Message != "not web-api's" {
		t.Fatalf("recipe-api: %+v", rep)
	}
	// Without a latency threshold the slowest traces come after the failing ones.
	if len(rep.Traces) != 1 || rep.Traces[0].TraceID != "00000000000000d1" || !rep.Traces[0].Error {
		t.Fatalf("recipe-api traces %+v", rep.Traces)
	}

	if _, err := f.builder().Build(ctx, "nope", time.Time{}, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
	// An empty document still has its lists (JSON [] rather than null).
	b, _ := json.Marshal(Report{Checks: []Check{}, Logs: LogSummary{Top: []Group{}}, Traces: []Trace{}})
	if !strings.Contains(string(b), `"top":[]`) || !strings.Contains(string(b), `"traces":[]`) {
		t.Fatalf("%s", b)
	}
}

func TestSlowestWithoutThreshold(t *testing.T) {
	f := newFixture(t)
	for i := range 15 {
		id := fmt.Sprintf("%016x", 0x100+i)
		f.span(t, id, id, "", "recipe-api", "get", time.Minute, time.Duration(i+1)*time.Millisecond, "")
	}
	rep, err := f.builder().Build(context.Background(), "recipe-api", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Traces) != maxTraces || rep.Traces[0].DurationMs != 15 || rep.Traces[maxTraces-1].DurationMs != 6 {
		t.Fatalf("the %d slowest of 15: %+v", maxTraces, rep.Traces)
	}
}

func TestFailureWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	for _, c := range []struct {
		name     string
		status   alert.Status
		history  []alert.StatusChange
		wantFrom time.Time
	}{
		{"passing", alert.Passing, []alert.StatusChange{{Time: at(-50), Status: alert.Critical}, {Time: at(-40), Status: alert.Passing}}, at(-30)},
		{"failing since it worsened", alert.Critical, []alert.StatusChange{{Time: at(-90), Status: alert.Critical}, {Time: at(-80), Status: alert.Passing},
			{Time: at(-20), Status: alert.Warning}, {Time: at(-10), Status: alert.Critical}}, at(-25)},
		{"failing from the first result", alert.Error, []alert.StatusChange{{Time: at(-120), Status: alert.Error}}, at(-125)},
		{"failing, no history", alert.Error, nil, at(-30)},
	} {
		from, to := FailureWindow(alert.ServiceView{Status: c.status, History: c.history}, now)
		if !from.Equal(c.wantFrom) || !to.Equal(now) {
			t.Errorf("%s: %s to %s, want from %s", c.name, from, to, c.wantFrom)
		}
	}
}

func TestMessage(t *testing.T) {
	for _, c := range []struct{ ev, want string }{
		{`{"message":"first line\nsecond"}`, "first line"},
		{`{"msg":"pino says"}`, "pino says"},
		{`{"error":{"message":"wrapped","code":3}}`, "wrapped"},
		{`{"type":"request-failure","fields":{"stack":"Error: oh no\n    at handler"}}`, "Error: oh no"},
		{`{"a":{"b":{"exception":"Deep: thing"}}}`, "Deep: thing"},
		{`{"type":"cache-miss","key":"x"}`, "cache-miss"},
		{`{"k":1}`, `{"k":1}`},
		{`[1,2]`, `[1,2]`},
		{`{"message":"` + strings.Repeat("é", 150) + `"}`, strings.Repeat("é", 100) + "…"},
	} {
		if got := Message(json.RawMessage(c.ev)); got != c.want {
			t.Errorf("Message(%s) = %q, want %q", c.ev, got, c.want)
		}
	}
}

func TestThreshold(t *testing.T) {
	v, w := 150.0, 40.0
	for _, c := range []struct {
		name   string
		checks []configs.CheckConfig
		want   time.Duration
	}{
		{"none", []configs.CheckConfig{{Type: "http"}, {Type: "log", Query: "x", CheckType: ">", Value: &w}}, 0},
		{"http", []configs.CheckConfig{{Type: "http", MaxResponseTime: configs.Duration(time.Second)}}, time.Second},
		{"timer", []configs.CheckConfig{{Type: "metric", Target: "stats.timers.web-api.x.upper_90", CheckType: ">", Value: &v}}, 150 * time.Millisecond},
		{"the smaller", []configs.CheckConfig{{Type: "http", MaxResponseTime: configs.Duration(time.Second)},
			{Type: "metric", Target: "stats.timers.a", CheckType: ">=", Value: &v}}, 150 * time.Millisecond},
		{"not a timer, or not an upper bound", []configs.CheckConfig{{Type: "metric", Target: "stats_counts.a", CheckType: ">", Value: &w},
			{Type: "metric", Target: "stats.timers.a", CheckType: "<", Value: &w}}, 0},
	} {
		got := Threshold(alert.ServiceDefinition{Definition: configs.ServiceConfig{Checks: c.checks}})
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestTraceKQL finds an id under each usual name at any depth, and
// nothing else.
func TestTraceKQL(t *testing.T) {
	st, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	const id = "5af7183fb1d4cf5f"
	evs := []string{
		`{"n":1,"traceId":"` + id + `"}`,
		`{"n":2,"trace_id":"` + id + `"}`,
		`{"n":3,"fields":{"trace_id":"` + id + `"}}`,
		`{"n":4,"X-B3-TraceId":"` + id + `"}`,
		`{"n":5,"headers":{"x-b3-traceid":"` + id + `"}}`,
		`{"n":6,"a":{"b":{"c":{"traceID":"` + id + `"}}}}`,
		`{"n":7,"req":{"headers":{"X-B3-TraceId":"` + id + `"}}}`,
		`{"n":8,"traceId":"0000000000000001","message":"` + id + ` in a message is not a trace id field"}`,
		`{"n":9,"spanId":"` + id + `"}`,
	}
	var entries []logs.Entry
	for _, ev := range evs {
		entries = append(entries, logs.Entry{TS: now, Raw: []byte(ev)})
	}
	if err := st.Commit(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	m, err := kql.Compile(TraceKQL(strings.ToUpper(id)), now)
	if err != nil {
		t.Fatalf("%s: %v", TraceKQL(id), err)
	}
	res, err := st.Search(context.Background(), logs.SearchRequest{Match: m, Range: logs.Range{From: now.Add(-time.Minute), To: now.Add(time.Minute)}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, h := range res.Hits {
		var x struct{ N int }
		json.Unmarshal(h.Raw, &x)
		got[x.N] = true
	}
	for n := 1; n <= 9; n++ {
		if got[n] != (n <= 7) {
			t.Errorf("event %d: matched %v", n, got[n])
		}
	}
}

func TestServiceKQLQuotes(t *testing.T) {
	q := ServiceKQL(`we"ird\name`)
	if _, err := kql.Compile(q, time.Now()); err != nil || !strings.Contains(q, `app:"we\"ird\\name"`) {
		t.Fatalf("%s: %v", q, err)
	}
}
