package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Trace ids of the incident test: the failing one, the slow one, and
// three that must stay out of web-api's incident (fast, another
// service's, from before the failure).
const (
	incFailing = "00000000000000e1"
	incSlow    = "0000000000000051"
	incFast    = "00000000000000f1"
	incOther   = "00000000000000d1"
	incOld     = "00000000000000a0"
)

// TestIncidentFromThePage is issue 18's path from a page on the phone to
// what explains it. A seed-like web-api and recipe-api send log events,
// StatsD metrics and Zipkin spans that share trace ids; web-api's health
// check fails; the SMS's link opens, in Chromium, an incident view whose
// checks, log events and traces are web-api's and the failure's window's
// (screenshots under $OBS_SCREENSHOTS, else the test's temp dir); `obs
// incident web-api -o json` has the issue's shape with those logs and
// traces; a log event's trace id finds the trace, and the trace's log
// events carry its id.
func TestIncidentFromThePage(t *testing.T) {
	dir := nodeModules(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian's chromium is missing: apt-get install -y chromium (.ci/run does)")
	}
	tw := newTwilioStandIn(t)
	health := startHealth(t, "127.0.0.1:0")
	defer health.stop()
	cfgPath := filepath.Join(t.TempDir(), "obs.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
twilio: {account_sid: ACe2e0001, auth_token: e2etoken, from: "+15559990000", api_url: %s}
users: [{name: alice, phone: "+15551230001"}]
services:
  - name: web-api
    notify: [alice]
    channels: [sms]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%s/health", importance: critical, interval: 1s}
      - {name: web-api-latency, type: metric, importance: warning, interval: 1s, check_type: ">", value: 150,
         target: "stats.timers.web-api.outbound.recipe-api.request-time.upper_90"}
`, tw.URL, health.addr)), 0o644)
	s := newServer(t, "--config", cfgPath, "--flush-interval", "1s")

	now := time.Now()
	// Spans: web-api's GET / calling recipe-api, as the seed's zipkin
	// middleware reports them.
	var spans []string
	span := func(trace, id, parent, svc, kind, name string, ago, dur time.Duration, tags string) {
		p := ""
		if parent != "" {
			p = fmt.Sprintf(`"parentId":%q,`, parent)
		}
		spans = append(spans, fmt.Sprintf(`{"traceId":%q,"id":%q,%s"kind":%q,"name":%q,"timestamp":%d,"duration":%d,"localEndpoint":{"serviceName":%q},"tags":{%s}}`,
			trace, id, p, kind, name, now.Add(-ago).UnixMicro(), dur.Microseconds(), svc, tags))
	}
	span(incFailing, incFailing, "", "web-api", "SERVER", "get_root", 20*time.Second, 100*time.Millisecond, `"http.status_code":"500","error":"500"`)
	span(incFailing, "00000000000000e2", incFailing, "web-api", "CLIENT", "get_recipe", 20*time.Second, 90*time.Millisecond, "")
	span(incFailing, "00000000000000e2", incFailing, "recipe-api", "SERVER", "get_recipe", 20*time.Second, 80*time.Millisecond, `"error":"database unreachable"`)
	span(incSlow, incSlow, "", "web-api", "SERVER", "get_root", 15*time.Second, 300*time.Millisecond, "")
	span(incFast, incFast, "", "web-api", "SERVER", "get_root", 10*time.Second, 5*time.Millisecond, "")
	span(incOther, incOther, "", "recipe-api", "SERVER", "get_recipe", 10*time.Second, 400*time.Millisecond, `"error":"boom"`)
	span(incOld, incOld, "", "web-api", "SERVER", "get_root", time.Hour, 900*time.Millisecond, `"error":"500"`)
	if code := s.postSpans([]byte("[" + strings.Join(spans, ",") + "]")); code != 202 {
		t.Fatalf("spans: %d", code)
	}
	// Log events as the seed's logstash.js sends them, the trace id under
	// the names apps use: traceId, fields.trace_id, a copied B3 header.
	stack := `Error: recipe-api answered 500: database unreachable: connect ECONNREFUSED 127.0.0.1:%d\n    at GET / (web-api)`
	events := []string{
		`{"app":"web-api","severity":"error","type":"request-failure","fields":{"path":"/","stack":"` + fmt.Sprintf(stack, 5432) + `"},"traceId":"` + incFailing + `"}`,
		`{"app":"web-api","severity":"error","type":"request-failure","fields":{"path":"/","stack":"` + fmt.Sprintf(stack, 5433) + `","trace_id":"` + incFailing + `"}}`,
		`{"app":"web-api","severity":"error","type":"request-failure","fields":{"path":"/","stack":"` + fmt.Sprintf(stack, 5434) + `"},"headers":{"X-B3-TraceId":"` + incFailing + `"}}`,
		`{"app":"web-api","severity":"error","message":"timeout after 2500 ms <img src=x onerror=\"window.pwned=1\">","traceId":"` + incSlow + `"}`,
		`{"app":"web-api","severity":"info","type":"request-incoming","fields":{"path":"/"},"traceId":"` + incFailing + `"}`,
		`{"app":"web-api","severity":"info","type":"request-incoming","fields":{"path":"/"},"traceId":"` + incSlow + `"}`,
		`{"app":"web-api","severity":"info","type":"request-incoming","fields":{"path":"/"},"traceId":"` + incFast + `"}`,
		`{"app":"recipe-api","severity":"error","type":"request-failure","fields":{"stack":"Error: database unreachable"},"traceId":"` + incFailing + `"}`,
		`{"@timestamp":"` + now.Add(-time.Hour).UTC().Format(time.RFC3339Nano) + `","app":"web-api","severity":"error","message":"long before the failure","traceId":"` + incOld + `"}`,
	}
	const webErrors, webTotal, failingLogs = 4, 7, 5
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		fmt.Fprint(c, ev)
	}
	c.Close()
	// Metrics for the Web API Overview panels ($service = web-api).
	u, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	fmt.Fprint(u, "web-api.inbound.response_code.500:3|c\nweb-api.inbound.response_code.200:5|c\nweb-api.outbound.recipe-api.request-time:120|ms")
	u.Close()
	eventually(t, 20*time.Second, func() error {
		var hg struct{ Total int }
		if err := getJSONErr(s.url()+"/api/logs/histogram?q=*&from=now-2h&to=now%2B1m", &hg); err != nil || hg.Total != len(events) {
			return fmt.Errorf("%d of %d events stored (%v)", hg.Total, len(events), err)
		}
		if rs := s.render(t, "stats_counts.web-api.inbound.response_code.500"); len(rs) != 1 {
			return fmt.Errorf("metrics not flushed")
		}
		return nil
	})

	// web-api goes down: the page, and its link.
	failed := time.Now()
	health.state.Store("DOWN")
	var link string
	eventually(t, 30*time.Second, func() error {
		for _, m := range tw.sent("Messages") {
			if l := regexp.MustCompile(`^Service web-api reporting CRITICAL status: (\S+)\n`).FindStringSubmatch(m["Body"]); l != nil {
				link = l[1]
				return nil
			}
		}
		return fmt.Errorf("no text about web-api yet: %v", tw.sent("Messages"))
	})
	if link != s.url()+"/services/web-api" {
		t.Fatalf("the text links %s", link)
	}

	// The CLI's document: the shape, web-api's logs and traces of the window.
	out, err := s.obs("incident", "web-api", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	checkIncidentShape(t, out)
	var rep struct {
		Service, Status string
		Window          struct{ From, To time.Time }
		Checks          []struct{ Name, Status, Reason string }
		Logs            struct {
			Errors, Total int
			Top           []struct {
				Message     string
				Count       int
				First, Last time.Time
			}
		}
		Traces []struct {
			TraceID    string
			DurationMs float64
			Error      bool
			RootSpan   string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Service != "web-api" || rep.Status != "CRITICAL" || len(rep.Checks) != 2 || rep.Checks[0].Name != "web-api-health" ||
		rep.Checks[0].Status != "CRITICAL" || !strings.HasPrefix(rep.Checks[0].Reason, "Wrong code: got 500") || rep.Checks[1].Status != "PASSING" {
		t.Fatalf("status and checks: %s", out)
	}
	// The window opens 5 minutes before the failure: the hour-old events are out.
	if d := failed.Sub(rep.Window.From); d < 4*time.Minute || d > 6*time.Minute || time.Since(rep.Window.To) > time.Minute {
		t.Fatalf("window %v to %v for a failure at %v", rep.Window.From, rep.Window.To, failed)
	}
	if rep.Logs.Errors != webErrors || rep.Logs.Total != webTotal || len(rep.Logs.Top) != 2 || rep.Logs.Top[0].Count != 3 ||
		rep.Logs.Top[0].Message != "Error: recipe-api answered <n>: database unreachable: connect ECONNREFUSED <n>.<n>.<n>.<n>:<n>" {
		t.Fatalf("logs: %s", out)
	}
	var ids []string
	for _, tr := range rep.Traces {
		ids = append(ids, tr.TraceID)
	}
	if !slices.Equal(ids, []string{incFailing, incSlow}) || !rep.Traces[0].Error || rep.Traces[0].RootSpan != "get_root" || rep.Traces[1].DurationMs != 300 {
		t.Fatalf("traces %v (want the failing %s, then %s over the 150 ms of web-api-latency): %s", ids, incFailing, incSlow, out)
	}
	text, err := s.obs("incident", "web-api")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"web-api  CRITICAL", "web-api-health: Wrong code: got 500", "logs: 4 errors in 7 events", "! " + incFailing, "obs traces show " + incFailing + " --logs", "obs logs search '(app:\"web-api\""} {
		if !strings.Contains(text, want) {
			t.Errorf("obs incident web-api lacks %q:\n%s", want, text)
		}
	}

	// A log event's trace id and a trace's log events round-trip: every
	// event `obs traces show --logs` lists carries the id, and those are
	// the events sent with it, whatever the field.
	out, err = s.obs("traces", "show", incFailing, "--logs", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Spans []struct{ TraceID string }
		Logs  []struct{ Event map[string]any }
	}
	json.Unmarshal([]byte(out), &tr)
	if len(tr.Spans) != 3 || len(tr.Logs) != failingLogs {
		t.Fatalf("trace %s: %d spans, %d log events (want 3, %d): %s", incFailing, len(tr.Spans), len(tr.Logs), failingLogs, out)
	}
	for _, l := range tr.Logs {
		if !strings.Contains(fmt.Sprint(l.Event), incFailing) {
			t.Errorf("a log event of the trace without its id: %v", l.Event)
		}
	}

	// The same in Chromium, from the text's link.
	shots := os.Getenv("OBS_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	shots = filepath.Join(shots, "incident")
	cmd := exec.Command("node", "incident-ui.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LINK="+link, "SERVICE=web-api", "TRACE_ID="+incFailing, "SLOW_ID="+incSlow,
		"EXCLUDED="+strings.Join([]string{incFast, incOther, incOld}, ","), fmt.Sprintf("EXPECT_ERRORS=%d", webErrors),
		fmt.Sprintf("EXPECT_TOTAL=%d", webTotal), fmt.Sprintf("EXPECT_TRACE_LOGS=%d", failingLogs), "SHOTS="+shots)
	outb, err := cmd.CombinedOutput()
	t.Logf("%s", outb)
	if err != nil || !strings.Contains(string(outb), "incident ui ok") {
		t.Fatalf("incident UI: %v (screenshots in %s)", err, shots)
	}
	if st, err := os.Stat(filepath.Join(shots, "01-incident-from-the-sms-link.png")); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot of the incident view: %v", err)
	}
	t.Logf("screenshots in %s", shots)
}

// checkIncidentShape: the document has the keys, no more, no less.
func checkIncidentShape(t *testing.T, doc string) {
	t.Helper()
	keys := func(raw json.RawMessage) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("not an object: %s", raw)
		}
		var k []string
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return strings.Join(k, " ")
	}
	first := func(raw json.RawMessage) json.RawMessage {
		var l []json.RawMessage
		if json.Unmarshal(raw, &l); len(l) == 0 {
			t.Fatalf("empty list where the test sent data: %s", doc)
		}
		return l[0]
	}
	var d map[string]json.RawMessage
	json.Unmarshal([]byte(doc), &d)
	var logs map[string]json.RawMessage
	json.Unmarshal(d["logs"], &logs)
	for what, c := range map[string]struct{ got, want string }{
		"document": {keys(json.RawMessage(doc)), "checks logs service status traces window"},
		"window":   {keys(d["window"]), "from to"},
		"check":    {keys(first(d["checks"])), "name reason status"},
		"logs":     {keys(d["logs"]), "errors top total"},
		"top":      {keys(first(logs["top"])), "count first last message"},
		"trace":    {keys(first(d["traces"])), "durationMs error rootSpan traceId"},
	} {
		if c.got != c.want {
			t.Errorf("%s keys: %s, want %s", what, c.got, c.want)
		}
	}
}
