package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/obs-dev/obs/configs"
)

func (ts *twilioStandIn) to(kind string) []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	list := ts.messages
	if kind == "call" {
		list = ts.calls
	}
	var out []string
	for _, m := range list {
		out = append(out, m["To"])
	}
	slices.Sort(out)
	return out
}

// Who is paged, by cabot-alert-twilio's rules: texts to the notify users
// and the duty officers, calls to the duty officers only; the fallback
// officer when no shift covers the time; nobody to page is an error.
func TestWhoIsPaged(t *testing.T) {
	const alice, bob, carol, dave = "+15551230001", "+15551230002", "+15551230003", "+15551230004"
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		notify    []string
		rotation  bool
		fallback  string
		at        time.Time
		sms, call []string
		unpaged   bool
	}{
		{"notify and rotation", []string{"carol"}, true, "", start.Add(8 * 24 * time.Hour), []string{bob, carol}, []string{bob}, false},
		{"notify user on call", []string{"bob"}, true, "", start.Add(8 * 24 * time.Hour), []string{bob}, []string{bob}, false},
		{"rotation only", nil, true, "dave", start.Add(time.Hour), []string{alice}, []string{alice}, false},
		{"before the rotation: fallback", []string{"carol"}, true, "dave", start.Add(-time.Hour), []string{carol, dave}, []string{dave}, false},
		{"no rota: fallback", nil, false, "dave", start, []string{dave}, []string{dave}, false},
		{"notify only: nobody to call", []string{"carol"}, false, "", start, []string{carol}, nil, false},
		{"nobody", nil, false, "", start, nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tw := newTwilio(t)
			clk := &clock{c.at}
			cfg := testConfig()
			cfg.Users = append(cfg.Users, configs.UserConfig{Name: "dave", Phone: dave})
			cfg.Rotation.Users = []string{"alice", "bob"}
			if !c.rotation {
				cfg.Rotation = nil
			}
			cfg.Fallback = c.fallback
			cfg.Services[0].Notify = c.notify
			e := newEngine(t, cfg, tw, clk)
			e.feed("health", false, "down")
			e.feed("health", false, "down") // CRITICAL: texts and calls
			if got := tw.to("sms"); !slices.Equal(got, c.sms) {
				t.Errorf("texts to %v, want %v", got, c.sms)
			}
			if got := tw.to("call"); !slices.Equal(got, c.call) {
				t.Errorf("calls to %v, want %v", got, c.call)
			}
			v, _ := e.Service("web-api")
			n := testutil.ToFloat64(e.m.unpaged.WithLabelValues("web-api"))
			if (v.Unpaged != nil) != c.unpaged || (n > 0) != c.unpaged {
				t.Errorf("unpaged %+v, counted %v; want %v", v.Unpaged, n, c.unpaged)
			}
			if c.unpaged && !strings.Contains(e.Alerts()[0].Channels[0].Error, "nobody to page") {
				t.Errorf("alert record %+v", e.Alerts()[0].Channels)
			}
		})
	}
}

func TestPublicURLInLinks(t *testing.T) {
	tw := newTwilio(t)
	cfg := testConfig()
	cfg.PublicURL = "https://obs.example.com/"
	e := newEngine(t, cfg, tw, &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	e.feed("errors", false, "boom")
	if !strings.HasPrefix(tw.messages[0]["Body"], "Service web-api reporting ERROR status: https://obs.example.com/services/web-api\n") {
		t.Fatalf("%q", tw.messages[0]["Body"])
	}
}

// TestSMSStaysShort: a text says the service, its status, the incident
// link and the first three reasons, each clipped to 100 characters,
// however many checks fail and however long their reasons are.
func TestSMSStaysShort(t *testing.T) {
	tw := newTwilio(t)
	cfg := testConfig()
	cfg.Services[0].Runbook = ""
	for i := range 3 {
		cfg.Services[0].Checks = append(cfg.Services[0].Checks, configs.CheckConfig{Name: fmt.Sprintf("extra-%d", i), Type: "http",
			Endpoint: "http://127.0.0.1:1/", Importance: "error"})
	}
	cfg.Services[0].Checks[0].Debounce = 0 // health: critical on its first failure
	e := newEngine(t, cfg, tw, &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	long := strings.Repeat("déjà vu ", 60)
	for _, name := range []string{"errors", "extra-0", "extra-1", "extra-2", "health"} {
		e.feed(name, false, name+": "+long)
	}
	var body string
	for _, m := range tw.messages {
		body = m["Body"] // the last alert: every check failing
	}
	lines := strings.Split(body, "\n")
	if lines[0] != "Service web-api reporting CRITICAL status: http://127.0.0.1:8000/services/web-api" || len(lines) != 5 || lines[4] != "+2 more failing" {
		t.Fatalf("%q", body)
	}
	for _, l := range lines[1:4] {
		if n := utf8.RuneCountInString(l); n > 100 || !strings.HasSuffix(l, "…") {
			t.Errorf("reason line of %d characters: %q", n, l)
		}
	}
	if n := utf8.RuneCountInString(body); n > 400 {
		t.Errorf("a text of %d characters", n)
	}
}

type series [][]float64

type fakeMetrics struct{ s series }

func (f fakeMetrics) Graphite(context.Context, string, time.Duration) ([][]float64, error) {
	return f.s, nil
}
func (f fakeMetrics) PromQL(context.Context, string, time.Duration) ([][]float64, error) {
	return f.s, nil
}

func metricCheck(t *testing.T, mod func(*configs.CheckConfig)) *Check {
	cc := configs.CheckConfig{Name: "m", Type: "metric", Target: "x", CheckType: "==", Value: f(5)}
	if mod != nil {
		mod(&cc)
	}
	c, err := newCheck("s", cc, checkEnv{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// GraphiteStatusCheck's rules, case by case.
func TestMetricRules(t *testing.T) {
	nan := math.NaN()
	no := false
	for _, c := range []struct {
		name   string
		mod    func(*configs.CheckConfig)
		data   series
		ok     bool
		reason string
	}{
		{"== any datapoint", nil, series{{1, 5, 2}}, false, "1 series of x failing: 5 == 5"},
		{"== not the maximum only", nil, series{{1, 2, 9}, {nan, 3}}, true, ""},
		{"== in a second series", nil, series{{1}, {4, 5}}, false, "5 == 5"},
		{"no data passes", nil, nil, true, ""},
		{"empty series pass", nil, series{{}, {nan, nan}}, true, ""},
		{"no data, strict", func(c *configs.CheckConfig) { c.NoDataOK = &no }, series{{nan}}, false, "No data for x"},
		{"hosts missing", func(c *configs.CheckConfig) { c.ExpectedNumHosts = 2 }, series{{1}, {}}, false, "Hosts missing | 1/2 hosts"},
		{"> on the maximum", func(c *configs.CheckConfig) { c.CheckType = ">" }, series{{1, 6, 2}}, false, "6 > 5"},
		{"< on the minimum", func(c *configs.CheckConfig) { c.CheckType = "<" }, series{{9, 4, 8}}, false, "4 < 5"},
		{"allowed failures", func(c *configs.CheckConfig) { c.CheckType = ">"; c.AllowedNumFailures = 1 }, series{{6}, {1}}, true, ""},
		{"infinite values", func(c *configs.CheckConfig) { c.CheckType = ">" }, series{{math.Inf(1)}}, false, "+Inf > 5"},
	} {
		r := metricCheck(t, c.mod).Run(context.Background(), fakeMetrics{c.data}, nil)
		if r.OK != c.ok || !strings.Contains(r.Reason, c.reason) {
			t.Errorf("%s: ok=%v %q", c.name, r.OK, r.Reason)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Errorf("%s: result does not encode: %v", c.name, err)
		}
	}
}

func TestValueEncodesEverything(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -0.0, 1e-320, 42} {
		b, err := json.Marshal(Result{Value: valuePtr(v)})
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		var back Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v: %s: %v", v, b, err)
		}
		if got := float64(*back.Value); got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Fatalf("%v came back as %v (%s)", v, got, b)
		}
	}
}

// HttpStatusCheck's rules: basic auth when only a password is set, the
// configured User-Agent, a blank status code accepts any status, and the
// body of a failure is kept (5,000 characters).
func TestHTTPCheckRules(t *testing.T) {
	var gotAuth, gotUA string
	body := strings.Repeat("é", 6000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotUA = r.Header.Get("Authorization"), r.Header.Get("User-Agent")
		w.WriteHeader(503)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	mk := func(cc configs.CheckConfig, ua string) *Check {
		cc.Name, cc.Type, cc.Endpoint = "h", "http", srv.URL+"/health?token=s3cret"
		c, err := newCheck("s", cc, checkEnv{UserAgent: ua})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r := mk(configs.CheckConfig{Password: "pw"}, "obs").Run(context.Background(), nil, nil)
	if r.OK || r.Reason != "Wrong code: got 503 (expected 200)" || gotUA != "obs" || gotAuth != "Basic OnB3" {
		t.Fatalf("%+v ua=%q auth=%q", r, gotUA, gotAuth)
	}
	if n := len([]rune(r.RawData)); n != RawDataLimit || !strings.HasPrefix(body, r.RawData) {
		t.Fatalf("raw data %d characters", n)
	}
	r = mk(configs.CheckConfig{StatusCode: "", TextMatch: "é{3}"}, "Cabot").Run(context.Background(), nil, nil)
	if !r.OK || gotUA != "Cabot" || gotAuth != "" {
		t.Fatalf("blank status code: %+v ua=%q auth=%q", r, gotUA, gotAuth)
	}
	r = mk(configs.CheckConfig{StatusCode: "any", TextMatch: "OK", Headers: map[string]string{"User-Agent": "probe"}}, "obs").Run(context.Background(), nil, nil)
	if r.OK || r.RawData == "" || gotUA != "probe" {
		t.Fatalf("text match: %+v ua=%q", r, gotUA)
	}
	srv.Close()
	r = mk(configs.CheckConfig{}, "obs").Run(context.Background(), nil, nil)
	if r.OK || strings.Contains(r.Reason, "s3cret") || r.Reason != "connection refused" {
		t.Fatalf("closed: %+v", r)
	}
}

func TestICMPCheck(t *testing.T) {
	c, err := newCheck("s", configs.CheckConfig{Name: "p", Type: "icmp", Host: "127.0.0.1", Timeout: configs.Duration(2 * time.Second)}, checkEnv{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Run(context.Background(), nil, nil)
	if !r.OK {
		if strings.Contains(r.Reason, "may not open ICMP sockets") {
			t.Skipf("no ICMP here: %s", r.Reason)
		}
		t.Fatalf("ping 127.0.0.1: %+v", r)
	}
	c, _ = newCheck("s", configs.CheckConfig{Name: "p", Type: "icmp", Host: "no-such-host.invalid", Timeout: configs.Duration(time.Second)}, checkEnv{})
	if r := c.Run(context.Background(), nil, nil); r.OK || !strings.Contains(r.Reason, "cannot resolve") {
		t.Fatalf("bad host: %+v", r)
	}
}

// An external Graphite render API, with basic auth; points older than the
// window are left out, as Cabot's validate_datapoint does.
func TestExternalGraphite(t *testing.T) {
	now := time.Now().Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if r.URL.Path != "/graphite/render" || u != "cabot" || p != "pw" || r.FormValue("format") != "json" || r.FormValue("target") != "stats.x" {
			http.Error(w, "no", 401)
			return
		}
		fmt.Fprintf(w, `[{"target":"stats.x","tags":{"name":"stats.x"},"datapoints":[[7,%d],[null,%d],[3,%d]]}]`, now-3600, now-60, now-30)
	}))
	defer srv.Close()
	api := &configs.GraphiteAPIConfig{URL: srv.URL + "/graphite/", User: "cabot", Password: "pw"}
	c := metricCheck(t, func(c *configs.CheckConfig) {
		c.Target, c.CheckType, c.Value, c.GraphiteAPI = "stats.x", ">", f(5), api
	})
	if r := c.Run(context.Background(), nil, nil); !r.OK || *r.Value != 3 {
		t.Fatalf("old point counted: %+v", r)
	}
	c = metricCheck(t, func(c *configs.CheckConfig) {
		c.Target, c.CheckType, c.Value, c.GraphiteAPI = "stats.x", "==", f(3), api
	})
	if r := c.Run(context.Background(), nil, nil); r.OK || !strings.Contains(r.RawData, `"target":"stats.x"`) {
		t.Fatalf("== 3: %+v", r)
	}
	// The global API, and a wrong password that must not show.
	c, _ = newCheck("s", configs.CheckConfig{Name: "g", Type: "metric", Target: "stats.x", CheckType: ">", Value: f(1)},
		checkEnv{Graphite: configs.GraphiteAPIConfig{URL: srv.URL + "/graphite", User: "cabot", Password: "wrong-pw"}})
	if r := c.Run(context.Background(), nil, nil); r.OK || !strings.Contains(r.Reason, "Error getting data from Graphite: HTTP 401") || strings.Contains(r.Reason, "wrong-pw") {
		t.Fatalf("global: %+v", r)
	}
	// source: obs keeps a check on obs's store while the global one is set.
	c, _ = newCheck("s", configs.CheckConfig{Name: "o", Type: "metric", Target: "stats.x", Source: "obs", CheckType: ">", Value: f(1)},
		checkEnv{Graphite: configs.GraphiteAPIConfig{URL: srv.URL}})
	if r := c.Run(context.Background(), fakeMetrics{series{{0}}}, nil); !r.OK {
		t.Fatalf("source obs: %+v", r)
	}
}

// The state is written atomically; a failed write is retried and shown
// (Err) until it goes through; an unreadable state is moved aside.
func TestStateWriteFailureIsRetriedAndShown(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	e, err := New(Options{Config: testConfig(), DataDir: dir, BaseURL: "http://x", Now: clk.now, Out: io.Discard, RetryEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A directory where state.json should be: rename over it fails.
	os.MkdirAll(filepath.Join(dir, "state.json", "x"), 0o700)
	e.Start(context.Background())
	defer e.Stop()
	e.feed("latency", false, "no data")
	if msg := e.Err(); !strings.Contains(msg, "alert state not written since") {
		t.Fatalf("Err %q", msg)
	}
	os.RemoveAll(filepath.Join(dir, "state.json"))
	deadline := time.Now().Add(5 * time.Second)
	for e.Err() != "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if msg := e.Err(); msg != "" {
		t.Fatalf("not retried: %q", msg)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	if !strings.Contains(string(b), `"failing":false`) || !strings.Contains(string(b), `"version":1`) {
		t.Fatalf("state %s", b)
	}
	st, _ := os.Stat(filepath.Join(dir, "state.json"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}

	os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"checks": {`), 0o600)
	e2, err := New(Options{Config: testConfig(), DataDir: dir, BaseURL: "http://x", Now: clk.now, Out: io.Discard})
	if err != nil {
		t.Fatalf("unreadable state must not stop obs: %v", err)
	}
	if msg := e2.Err(); !strings.Contains(msg, "moved to") {
		t.Fatalf("Err %q", msg)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "state.json.corrupt-*")); len(m) != 1 {
		t.Fatalf("not moved aside: %v", m)
	}
}

// The state written before version 1 (no version, numeric values) reads.
func TestReadsStateFromBeforeVersions(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/state-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600)
	e, err := New(Options{Config: testConfig(), DataDir: dir, BaseURL: "http://x", Now: (&clock{time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)}).now, Out: io.Discard})
	if err != nil || e.Err() != "" {
		t.Fatal(err, e.Err())
	}
	v, _ := e.Service("web-api")
	if v.Status != Warning || v.AckUntil == nil || v.AckBy != "alice" || len(e.Alerts()) != 1 {
		t.Fatalf("%+v", v)
	}
	if h, _ := e.History("latency"); len(h) != 1 || *h[0].Value != 250 {
		t.Fatalf("%+v", h)
	}
}

func TestWebhookSecretsNeverShow(t *testing.T) {
	cfg := testConfig()
	cfg.Services[0].Channels = []string{"webhook"}
	cfg.Services[0].Webhook = "http://127.0.0.1:1/hook?key=s3cret"
	e := newEngine(t, cfg, nil, &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	e.feed("errors", false, "boom")
	b, _ := json.Marshal(e.Alerts())
	v, _ := json.Marshal(e.Services())
	d, _ := e.Definition("web-api")
	db, _ := json.Marshal(d)
	for _, s := range []string{string(b), string(v), string(db)} {
		if strings.Contains(s, "s3cret") || !strings.Contains(s, "127.0.0.1:1/hook?REDACTED") {
			t.Fatalf("%s", s)
		}
	}
}

func TestServicesThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	mk := func() *Engine {
		e, err := New(Options{Config: testConfig(), DataDir: dir, BaseURL: "http://x", Now: clk.now, Out: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := mk()
	_, err := e.CreateService([]byte("name: billing\nnotify: [zed]\nchecks:\n  - {name: b1, type: htp}\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `line 2: notify[0]: no user named "zed"`) ||
		!strings.Contains(err.Error(), `line 4: checks[0].type: "htp" is not one of`) {
		t.Fatalf("validation: %v", err)
	}
	if _, err := e.CreateService([]byte(`{"name": "web-api"}`)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `service "web-api" is defined twice`) {
		t.Fatalf("clash with the file: %v", err)
	}
	if _, err := e.CreateService([]byte(`{"name": "billing", "notify": ["carol"], "checks": [{"name": "billing-health", "type": "http",
		"endpoint": "http://user:pw@127.0.0.1:1/health", "password": "hunter22", "interval": "30s"}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateService("web-api", []byte(`{"name": "web-api"}`)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("file service edited: %v", err)
	}
	if _, err := e.AddCheck("billing", []byte(`{"name": "billing-port", "type": "tcp", "address": "127.0.0.1:1"}`)); err != nil {
		t.Fatal(err)
	}
	d, _ := e.Definition("billing")
	if d.Source != SourceAPI || d.Definition.Checks[0].Password != "REDACTED" || d.Definition.Checks[0].Endpoint != "http://user:REDACTED@127.0.0.1:1/health" {
		t.Fatalf("definition %+v", d)
	}
	// Send the redacted definition back with a change: the secrets stay.
	d.Definition.Checks[0].Active = new(bool)
	b, _ := json.Marshal(d.Definition)
	if _, err := e.UpdateService("billing", b); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	ck := e.stored[0].Checks[0]
	active := e.checks["billing-health"].Active
	e.mu.Unlock()
	if ck.Password != "hunter22" || ck.Endpoint != "http://user:pw@127.0.0.1:1/health" || active {
		t.Fatalf("secrets lost or check not disabled: %+v active=%v", ck, active)
	}
	v, _ := e.Service("billing")
	if v.Source != SourceAPI || v.ReadOnly || len(v.Checks) != 2 {
		t.Fatalf("%+v", v)
	}
	if v, _ := e.Service("web-api"); v.Source != SourceConfig || !v.ReadOnly {
		t.Fatalf("%+v", v)
	}
	// Kept across a restart.
	e = mk()
	if _, ok := e.Service("billing"); !ok {
		t.Fatal("stored service lost across restart")
	}
	if err := e.DeleteCheck("billing-port"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteService("billing"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteService("web-api"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("file service deleted: %v", err)
	}
	if _, ok := mk().Service("billing"); ok {
		t.Fatal("deleted service back after restart")
	}
}

func TestReports(t *testing.T) {
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	e := newEngine(t, testConfig(), nil, clk)
	t0 := clk.t
	// errors: ok 10 runs, fails 5 (10:10-10:15), ok again.
	for i := 0; i < 20; i++ {
		e.feed("errors", i < 10 || i >= 15, "boom")
		clk.add(time.Minute)
	}
	rep, err := e.CheckReport("errors", t0, clk.t)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Runs != 20 || *rep.UptimePercent != 75 || len(rep.Problems) != 1 || !rep.Problems[0].Start.Equal(t0.Add(10*time.Minute)) ||
		!rep.Problems[0].End.Equal(t0.Add(15*time.Minute)) || rep.Problems[0].Duration != "5m0s" || rep.Problems[0].Worst != Error {
		t.Fatalf("%+v %+v", rep, rep.Problems)
	}
	srep, err := e.ServiceReport("web-api", t0, clk.t)
	if err != nil {
		t.Fatal(err)
	}
	if *srep.UptimePercent != 75 || len(srep.Problems) != 1 || srep.Problems[0].Worst != Error || len(srep.Checks) != 3 {
		t.Fatalf("%+v", srep)
	}
	// An ongoing problem has no end and lasts until now.
	e.feed("health", false, "x")
	e.feed("health", false, "x")
	clk.add(time.Minute)
	srep, _ = e.ServiceReport("web-api", t0, clk.t)
	if p := srep.Problems[len(srep.Problems)-1]; p.End != nil || p.Worst != Critical || p.Duration != "1m0s" {
		t.Fatalf("%+v", p)
	}
}

// A test page goes to configured users by name, never to a number.
func TestSendTestOnlyToUsers(t *testing.T) {
	tw := newTwilio(t)
	e := newEngine(t, testConfig(), tw, &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	if _, err := e.SendTest([]string{"+19005550199"}, true); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "users: alice, bob, carol") {
		t.Fatalf("%v", err)
	}
	a, err := e.SendTest([]string{"Bob"}, true)
	if err != nil || len(a.Channels) != 2 || a.Channels[1].Channel != "call" || a.Channels[1].To != "+15551230002" {
		t.Fatalf("%+v %v", a, err)
	}
	if m, c := tw.counts(); m != 1 || c != 1 {
		t.Fatalf("%d %d", m, c)
	}
}
