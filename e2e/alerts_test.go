package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// twilioStandIn is the one stand-in the tests allow: a local server playing
// Twilio's REST API, reached by obs through twilio-go (twilio.api_url).
type twilioStandIn struct {
	*httptest.Server
	mu    sync.Mutex
	posts []map[string]string
}

func newTwilioStandIn(t *testing.T) *twilioStandIn {
	ts := &twilioStandIn{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if user != "ACe2e0001" || pass != "e2etoken" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":20003,"message":"Authenticate","status":401}`)
			return
		}
		ts.mu.Lock()
		ts.posts = append(ts.posts, map[string]string{"path": r.URL.Path, "To": r.Form.Get("To"), "From": r.Form.Get("From"),
			"Body": r.Form.Get("Body"), "Twiml": r.Form.Get("Twiml")})
		n := len(ts.posts)
		ts.mu.Unlock()
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"sid":"SM%032d","status":"queued"}`, n)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *twilioStandIn) sent(kind string) []map[string]string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []map[string]string
	for _, p := range ts.posts {
		if strings.HasSuffix(p["path"], "/"+kind+".json") {
			out = append(out, p)
		}
	}
	return out
}

// healthService is like the seed's: /health answers OK, DEGRADED (200) or DOWN (500).
type healthService struct {
	state atomic.Value
	srv   *http.Server
	addr  string
	hold  *portHold
}

// startHealth serves on addr ("127.0.0.1:0": any free port), which stays
// the service's while it stops and starts.
func startHealth(t *testing.T, addr string) *healthService {
	hold, err := holdPort(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	return startHealthOn(t, hold)
}

func startHealthOn(t *testing.T, hold *portHold) *healthService {
	h := &healthService{addr: hold.addr, hold: hold}
	h.state.Store("OK")
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := h.state.Load().(string)
		if s == "DOWN" {
			w.WriteHeader(500)
		}
		fmt.Fprint(w, s)
	})}
	h.listen(t)
	return h
}

func (h *healthService) listen(t *testing.T) {
	l, err := h.hold.listen()
	if err != nil {
		t.Fatal(err)
	}
	h.srv = &http.Server{Handler: h.srv.Handler}
	go h.srv.Serve(l)
}

func (h *healthService) stop() { h.srv.Close() }

func TestHealthChecksPageThroughTwilio(t *testing.T) {
	tw := newTwilioStandIn(t)
	health := startHealth(t, "127.0.0.1:0")
	healthAddr := health.addr
	defer health.stop()

	cfgPath := filepath.Join(t.TempDir(), "obs.yaml")
	cfg := fmt.Sprintf(`
twilio:
  account_sid: ${TWILIO_ACCOUNT_SID}
  auth_token: ${TWILIO_AUTH_TOKEN}
  from: ${TWILIO_OUTGOING_NUMBER}
  api_url: %s
alert_interval: 3s
users:
  - {name: alice, phone: "+15551230001"}
  - {name: bob,   phone: "+15551230002"}
rotation: {users: [alice, bob], period: 168h, start: 2026-01-05T09:00:00Z}
services:
  - name: web-api
    url: http://%s/
    runbook: https://wiki.example/runbooks/web-api
    channels: [sms, call]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%s/health", status_code: 200,
         text_match: "OK", importance: critical, interval: 1s, debounce: 2, timeout: 2s}
`, tw.URL, healthAddr, healthAddr)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	t.Setenv("TWILIO_ACCOUNT_SID", "ACe2e0001")
	t.Setenv("TWILIO_AUTH_TOKEN", "e2etoken")
	t.Setenv("TWILIO_OUTGOING_NUMBER", "+15559990000")
	s := newServer(t, "--config", cfgPath)

	status := func() string {
		out, err := s.obs("checks", "status", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var svcs []struct{ Status string }
		json.Unmarshal([]byte(out), &svcs)
		if len(svcs) != 1 {
			t.Fatalf("services: %s", out)
		}
		return svcs[0].Status
	}
	eventually(t, 10*time.Second, func() error {
		if st := status(); st != "PASSING" {
			return fmt.Errorf("status %s", st)
		}
		return nil
	})

	// DEGRADED answers 200 but fails the text match, as Cabot tells them apart.
	health.state.Store("DEGRADED")
	out, err := s.obs("checks", "run", "web-api-health", "-o", "json")
	if err != nil || !strings.Contains(out, "Failed to find match regex /OK/ in response body") {
		t.Fatalf("degraded: %v %s", err, out)
	}
	health.state.Store("OK")
	s.obs("checks", "run", "web-api-health")

	// Stop the service: after the debounce, an SMS and (CRITICAL) a call.
	// (debounce 2: the DEGRADED run above cannot page with a loop run.)
	health.stop()
	eventually(t, 15*time.Second, func() error {
		if len(tw.sent("Messages")) < 1 || len(tw.sent("Calls")) < 1 {
			return fmt.Errorf("sms %d calls %d", len(tw.sent("Messages")), len(tw.sent("Calls")))
		}
		return nil
	})
	alertAt := time.Now()
	sms := tw.sent("Messages")[0]
	wantBody := fmt.Sprintf("Service web-api reporting CRITICAL status: http://%s/services/web-api", s.http)
	if sms["To"] != "+15551230001" && sms["To"] != "+15551230002" || sms["From"] != "+15559990000" ||
		!strings.HasPrefix(sms["Body"], wantBody) || !strings.Contains(sms["Body"], "connection refused") ||
		!strings.Contains(sms["Body"], "Runbook: https://wiki.example/runbooks/web-api") {
		t.Fatalf("sms %+v", sms)
	}
	if call := tw.sent("Calls")[0]; !strings.Contains(call["Twiml"], "<Say") || !strings.Contains(call["Twiml"], "web-api") || !strings.Contains(call["Twiml"], "critical") {
		t.Fatalf("call %+v", call)
	}
	if !strings.Contains(tw.sent("Messages")[0]["path"], "/2010-04-01/Accounts/ACe2e0001/Messages.json") {
		t.Fatalf("path %s", tw.sent("Messages")[0]["path"])
	}

	// Restart obs while the service is down: no duplicate page.
	s.stop()
	s.start()
	time.Sleep(time.Until(alertAt.Add(2 * time.Second)))
	if n := len(tw.sent("Messages")); n != 1 {
		t.Fatalf("restart paged again: %d messages", n)
	}
	// Still down: a reminder after alert_interval (3s).
	eventually(t, 10*time.Second, func() error {
		if n := len(tw.sent("Messages")); n < 2 {
			return fmt.Errorf("no reminder yet (%d)", n)
		}
		return nil
	})
	// Acknowledge: no more reminders.
	if _, err := s.obs("checks", "ack", "web-api", "--for", "20m"); err != nil {
		t.Fatal(err)
	}
	n := len(tw.sent("Messages"))
	time.Sleep(5 * time.Second)
	if m := len(tw.sent("Messages")); m != n {
		t.Fatalf("reminders while acknowledged: %d -> %d", n, m)
	}
	// End the acknowledgement and start the service again: a recovery SMS
	// (inside an acknowledgement a recovery is silent, as in Cabot).
	if _, err := s.obs("checks", "unack", "web-api"); err != nil {
		t.Fatal(err)
	}
	health.listen(t)
	eventually(t, 10*time.Second, func() error {
		msgs := tw.sent("Messages")
		last := msgs[len(msgs)-1]["Body"]
		if !strings.HasPrefix(last, "Service web-api is back to normal: http://"+s.http+"/services/web-api") {
			return fmt.Errorf("last sms %q", last)
		}
		return nil
	})
	out, _ = s.obs("alerts", "list", "-o", "json")
	var alerts []struct {
		Kind     string
		Channels []struct{ Channel, SID string }
	}
	json.Unmarshal([]byte(out), &alerts)
	if len(alerts) < 3 || alerts[0].Kind != "recovery" || alerts[0].Channels[0].SID == "" {
		t.Fatalf("alerts %s", out)
	}
	// Checks graph like any metric.
	rs := s.render(t, "obs.checks.web-api-health.up")
	if len(rs) != 1 {
		t.Fatalf("check metric: %+v", rs)
	}
}
