package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obs-dev/obs/configs"
)

// twilioStandIn plays Twilio's REST API for twilio-go: it records messages
// and calls and answers with Twilio's error bodies for chosen numbers.
type twilioStandIn struct {
	*httptest.Server
	mu        sync.Mutex
	messages  []map[string]string
	calls     []map[string]string
	rateLimit int // answer 20429 this many times first
}

func newTwilio(t *testing.T) *twilioStandIn {
	ts := &twilioStandIn{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		fail := func(status, code int, msg string) {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, msg, code, status)
		}
		if user != "AC123" || pass != "secret" {
			fail(401, 20003, "Authenticate")
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if ts.rateLimit > 0 {
			ts.rateLimit--
			fail(429, 20429, "Too Many Requests")
			return
		}
		if r.Form.Get("To") == "+15550000000" {
			fail(400, 21211, "The 'To' number +15550000000 is not a valid phone number.")
			return
		}
		rec := map[string]string{"path": r.URL.Path, "To": r.Form.Get("To"), "From": r.Form.Get("From"), "Body": r.Form.Get("Body"), "Twiml": r.Form.Get("Twiml")}
		w.WriteHeader(201)
		switch {
		case strings.HasSuffix(r.URL.Path, "/Messages.json"):
			ts.messages = append(ts.messages, rec)
			fmt.Fprintf(w, `{"sid":"SM%032d","status":"queued","to":%q}`, len(ts.messages), rec["To"])
		case strings.HasSuffix(r.URL.Path, "/Calls.json"):
			ts.calls = append(ts.calls, rec)
			fmt.Fprintf(w, `{"sid":"CA%032d","status":"queued","to":%q}`, len(ts.calls), rec["To"])
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *twilioStandIn) counts() (int, int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.messages), len(ts.calls)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func f(v float64) *float64 { return &v }

func testConfig() configs.Config {
	cfg := configs.Default()
	cfg.Users = []configs.UserConfig{{Name: "alice", Phone: "+15551230001"}, {Name: "bob", Phone: "+15551230002"}, {Name: "carol", Phone: "+15551230003"}}
	cfg.Rotation = &configs.RotationConfig{Users: []string{"alice", "bob", "carol"}, Period: configs.Duration(168 * time.Hour),
		Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	cfg.Services = []configs.ServiceConfig{{
		Name: "web-api", Runbook: "https://wiki.example/runbooks/web-api", Channels: []string{"sms", "call"},
		Checks: []configs.CheckConfig{
			{Name: "health", Type: "http", Endpoint: "http://127.0.0.1:1/health", Importance: "critical", Debounce: 1},
			{Name: "latency", Type: "metric", Target: "x", CheckType: ">", Value: f(200), Importance: "warning"},
			{Name: "errors", Type: "log", Query: "severity:error", CheckType: ">", Value: f(5)},
		},
	}}
	return cfg
}

func newEngine(t *testing.T, cfg configs.Config, tw *twilioStandIn, clk *clock) *Engine {
	var twc *Twilio
	if tw != nil {
		var err error
		if twc, err = NewTwilio("AC123", "secret", "+15559990000", tw.URL); err != nil {
			t.Fatal(err)
		}
		twc.Backoff = time.Millisecond
	}
	e, err := New(Options{Config: cfg, DataDir: t.TempDir(), BaseURL: "http://127.0.0.1:8000", Twilio: twc, Now: clk.now, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *Engine) feed(name string, ok bool, reason string) {
	e.mu.Lock()
	c := e.checks[name]
	e.mu.Unlock()
	e.handle(context.Background(), c, Result{Check: name, Time: e.opts.Now(), OK: ok, Reason: reason})
	e.Flush()
}

func (e *Engine) status(t *testing.T) Status {
	v, _ := e.Service("web-api")
	return v.Status
}

func TestStatusDebounceAndAlerts(t *testing.T) {
	tw := newTwilio(t)
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} // bob's week (the rotation starts 2026-11-23)
	e := newEngine(t, testConfig(), tw, clk)

	e.feed("latency", false, "1 series failing")
	if e.status(t) != Warning {
		t.Fatalf("warning check failing: %v", e.status(t))
	}
	if m, _ := tw.counts(); m != 1 {
		t.Fatalf("warning alert: %d sms", m)
	}
	// debounce 1: the first failure of health does not count yet.
	e.feed("health", false, "Wrong code: got 500 (expected 200)")
	if e.status(t) != Warning {
		t.Fatalf("after one health failure: %v", e.status(t))
	}
	e.feed("health", false, "Wrong code: got 500 (expected 200)")
	if e.status(t) != Critical {
		t.Fatalf("after two: %v", e.status(t))
	}
	m, c := tw.counts()
	if m != 2 || c != 1 {
		t.Fatalf("critical: %d sms, %d calls", m, c)
	}
	msg := tw.messages[1]
	if msg["To"] != "+15551230002" || msg["From"] != "+15559990000" ||
		!strings.HasPrefix(msg["Body"], "Service web-api reporting CRITICAL status: http://127.0.0.1:8000/services/web-api") ||
		!strings.Contains(msg["Body"], "health: Wrong code: got 500 (expected 200)") || !strings.Contains(msg["Body"], "Runbook: https://wiki.example/runbooks/web-api") {
		t.Fatalf("sms %+v", msg)
	}
	if !strings.Contains(tw.calls[0]["Twiml"], `<Say loop="2">This is an urgent message from obs monitoring. Service web-api is reporting critical status. Please check obs urgently.</Say>`) {
		t.Fatalf("call twiml %q", tw.calls[0]["Twiml"])
	}
	// Still failing: no reminder before alert_interval (10m), one after.
	clk.add(5 * time.Minute)
	e.feed("health", false, "x")
	if m, _ := tw.counts(); m != 2 {
		t.Fatalf("reminder too early: %d", m)
	}
	clk.add(6 * time.Minute)
	e.feed("health", false, "x")
	if m, _ := tw.counts(); m != 3 {
		t.Fatalf("reminder after 11m: %d", m)
	}
	// Acknowledged: no reminders while it lasts.
	e.Ack("web-api", 20*time.Minute, "bob")
	clk.add(15 * time.Minute)
	e.feed("health", false, "x")
	if m, _ := tw.counts(); m != 3 {
		t.Fatalf("reminder while acknowledged: %d", m)
	}
	// The ack expires: the next evaluation reminds (last alert 15m ago).
	clk.add(6 * time.Minute)
	e.feed("health", false, "x")
	if m, _ := tw.counts(); m != 4 {
		t.Fatalf("after ack expiry: %d", m)
	}
	// Recovery: first success of health; latency still warns.
	e.feed("health", true, "")
	if e.status(t) != Warning {
		t.Fatalf("after health recovers: %v", e.status(t))
	}
	e.feed("latency", true, "")
	m, _ = tw.counts()
	if e.status(t) != Passing || m != 5 || !strings.HasPrefix(tw.messages[4]["Body"], "Service web-api is back to normal: http://127.0.0.1:8000/services/web-api") {
		t.Fatalf("recovery: %v, %d sms: %v", e.status(t), m, tw.messages[len(tw.messages)-1])
	}
	alerts := e.Alerts()
	if alerts[0].Kind != "recovery" || alerts[0].Channels[0].SID == "" {
		t.Fatalf("recorded alert %+v", alerts[0])
	}
}

func TestWarningNotificationInterval(t *testing.T) {
	tw := newTwilio(t)
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	e := newEngine(t, testConfig(), tw, clk)
	e.feed("latency", false, "slow")
	clk.add(time.Hour)
	e.feed("latency", false, "slow")
	if m, _ := tw.counts(); m != 1 {
		t.Fatalf("warning reminded before 2h: %d", m)
	}
	clk.add(61 * time.Minute)
	e.feed("latency", false, "slow")
	if m, _ := tw.counts(); m != 2 {
		t.Fatalf("warning not reminded after 2h: %d", m)
	}
	// Severity rises: alert at once.
	e.feed("errors", false, "9 events")
	if m, _ := tw.counts(); m != 3 || e.status(t) != Error {
		t.Fatalf("rise to ERROR: %d sms, %v", m, e.status(t))
	}
}

// Acknowledgements as Cabot: a second one is refused while the first is
// unexpired, a recovery does not end it, and a flap inside it is silent.
func TestAckRules(t *testing.T) {
	tw := newTwilio(t)
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	cfg := testConfig()
	cfg.Services[0].Maintenance = []configs.WindowConfig{{Start: clk.t.Add(3 * time.Hour), End: clk.t.Add(4 * time.Hour)}}
	e := newEngine(t, cfg, tw, clk)
	e.feed("errors", false, "boom")
	if m, _ := tw.counts(); m != 1 {
		t.Fatalf("first alert: %d", m)
	}
	until, err := e.Ack("web-api", time.Hour, "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Ack("web-api", 2*time.Hour, "bob")
	var acked *AckedError
	if !errors.As(err, &acked) || acked.By != "alice" || !acked.Until.Equal(until) || !strings.Contains(err.Error(), "already acknowledged by alice until 2026-12-01T11:00:00Z") {
		t.Fatalf("second ack: %v", err)
	}
	e.feed("errors", true, "") // recovery inside the ack: silent, ack kept
	clk.add(10 * time.Minute)
	e.feed("errors", false, "boom") // and the flap: silent
	if m, _ := tw.counts(); m != 1 {
		t.Fatalf("flap inside the ack paged: %d", m)
	}
	if v, _ := e.Service("web-api"); v.AckUntil == nil || v.AckBy != "alice" || v.Status != Error {
		t.Fatalf("ack lost on recovery: %+v", v)
	}
	clk.add(51 * time.Minute) // expired, still failing: page
	e.feed("errors", false, "boom")
	if m, _ := tw.counts(); m != 2 {
		t.Fatalf("after expiry: %d", m)
	}
	if _, err := e.Ack("web-api", time.Hour, "bob"); err != nil {
		t.Fatalf("ack after expiry refused: %v", err)
	}
	e.Unack("web-api")
	e.feed("errors", true, "") // recovery, not acknowledged: announced
	clk.add(2 * time.Hour)     // in maintenance
	e.feed("errors", false, "boom")
	if m, _ := tw.counts(); m != 3 {
		t.Fatalf("recovery or maintenance: %d", m)
	}
}

func TestTwilioErrors(t *testing.T) {
	tw := newTwilio(t)
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	cfg := testConfig()
	cfg.Users[1].Phone = "+15550000000" // bob: Twilio says 21211
	cfg.Services[0].Channels = []string{"sms", "log"}
	e := newEngine(t, cfg, tw, clk)
	e.feed("errors", false, "boom")
	a := e.Alerts()[0]
	if len(a.Channels) != 2 || a.Channels[0].Code != 21211 || a.Channels[0].OK || !a.Channels[1].OK {
		t.Fatalf("21211 recorded wrongly, or other channels stopped: %+v", a.Channels)
	}
	// 20429 is retried with backoff until it goes through.
	tw.rateLimit = 2
	res, err := e.SendTest([]string{"alice"}, false)
	if err != nil || !res.Channels[0].OK || res.Channels[0].SID == "" || res.Channels[0].User != "alice" {
		t.Fatalf("rate limit not retried: %+v", res.Channels)
	}
	// Bad credentials: 20003.
	bad, _ := NewTwilio("AC123", "wrong", "+15559990000", tw.URL)
	_, err = bad.SMS("+15551230001", "x")
	if r := channelResult("sms", "x", "", err); r.Code != 20003 {
		t.Fatalf("auth error %+v", r)
	}
}

func TestRestartDoesNotPageAgain(t *testing.T) {
	tw := newTwilio(t)
	clk := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	cfg := testConfig()
	dir := t.TempDir()
	twc, _ := NewTwilio("AC123", "secret", "+15559990000", tw.URL)
	mk := func() *Engine {
		e, err := New(Options{Config: cfg, DataDir: dir, BaseURL: "http://x", Twilio: twc, Now: clk.now, Out: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := mk()
	e.feed("errors", false, "boom")
	e.Ack("web-api", time.Hour, "alice")
	e.Stop()
	e = mk()
	clk.add(time.Minute)
	e.feed("errors", false, "boom")
	if m, _ := tw.counts(); m != 1 {
		t.Fatalf("paged again after restart: %d", m)
	}
	if v, _ := e.Service("web-api"); v.AckUntil == nil {
		t.Fatal("acknowledgement forgotten across restart")
	}
	b, _ := json.Marshal(e.Alerts())
	if !strings.Contains(string(b), `"sid":"SM`) {
		t.Fatalf("twilio SID not kept: %s", b)
	}
}
