package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Cabot's rules held end to end: the real obs binary, a real local HTTP
// service to check, and the Twilio stand-in reached through twilio-go.

func writeConfig(t *testing.T, yaml string) string {
	p := filepath.Join(t.TempDir(), "obs.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// recipients lists who got texts (Messages) or calls (Calls), sorted.
func (ts *twilioStandIn) recipients(kind string) []string {
	var out []string
	for _, p := range ts.sent(kind) {
		out = append(out, p["To"])
	}
	slices.Sort(out)
	return out
}

type svcView struct {
	Name         string
	Status       string
	OnCall       []string `json:"on_call"`
	OnCallSource string   `json:"on_call_source"`
	Paged        struct{ SMS, Call []string }
	AckUntil     *time.Time `json:"acknowledged_until"`
	AckBy        string     `json:"acknowledged_by"`
	Source       string
	ReadOnly     bool `json:"read_only"`
	Checks       []struct {
		Name      string
		Failing   bool
		ReadsFrom string `json:"reads_from"`
		Last      *struct {
			OK      bool
			Reason  string
			RawData string `json:"raw_data"`
		}
		LastFailure *struct {
			Reason  string
			RawData string `json:"raw_data"`
		} `json:"last_failure"`
	}
	History []struct{ Status string } `json:"status_history"`
}

func (s *server) service(t *testing.T, name string) svcView {
	t.Helper()
	var v svcView
	resp, err := http.Get(s.url() + "/api/services/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitStatus waits until every check of the service has run and the
// service has the status.
func (s *server) waitStatus(t *testing.T, name, status string, timeout time.Duration) svcView {
	t.Helper()
	var v svcView
	eventually(t, timeout, func() error {
		v = s.service(t, name)
		for _, c := range v.Checks {
			if c.Last == nil {
				return fmt.Errorf("%s not run yet", c.Name)
			}
		}
		if v.Status != status {
			return fmt.Errorf("%s is %s, want %s", name, v.Status, status)
		}
		return nil
	})
	return v
}

// cabotSetup starts the Twilio stand-in (with obs's Twilio variables set
// for it) and a local service to check.
func cabotSetup(t *testing.T) (*twilioStandIn, *healthService, string) {
	tw := newTwilioStandIn(t)
	setTwilioEnv(t)
	health := startHealth(t, "127.0.0.1:0")
	t.Cleanup(health.stop)
	return tw, health, health.addr
}

func setTwilioEnv(t *testing.T) {
	t.Setenv("TWILIO_ACCOUNT_SID", "ACe2e0001")
	t.Setenv("TWILIO_AUTH_TOKEN", "e2etoken")
	t.Setenv("TWILIO_OUTGOING_NUMBER", "+15559990000")
}

const fourUsers = `users:
  - {name: alice, phone: "+15551230001"}
  - {name: bob,   phone: "+15551230002"}
  - {name: carol, phone: "+15551230003"}
  - {name: dave,  phone: "+15551230004"}
  - {name: erin,  phone: "+15551230005"}
`

// Texts go to the service's notify users and the duty officers, calls to
// the duty officers only; links use public_url; == fails on any
// datapoint; a metric check without data passes and pages nobody at
// start-up.
func TestAlertWhoIsPagedByCabotsRules(t *testing.T) {
	tw, health, healthAddr := cabotSetup(t)
	cfg := writeConfig(t, fmt.Sprintf(`
twilio: {api_url: %s}
public_url: https://obs.example.com
alert_interval: 1h
%srotation: {users: [alice, bob], period: 168h, start: %s}
fallback: dave
services:
  - name: web-api
    notify: [carol]
    channels: [sms, call]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%s/health", importance: critical, interval: 1s, timeout: 1s}
  - name: queue
    channels: [sms, call]
    checks:
      - {name: queue-depth, type: metric, target: e2e.queue.depth, check_type: "==", value: 5, importance: critical, interval: 1s, window: 5m}
      - {name: queue-missing, type: metric, target: e2e.queue.nothing, check_type: ">", value: 0, interval: 1s}
`, tw.URL, fourUsers, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), healthAddr))
	s := newServer(t, "--config", cfg)

	// No data passes (Cabot): nothing pages at start-up.
	s.waitStatus(t, "queue", "PASSING", 10*time.Second)
	s.waitStatus(t, "web-api", "PASSING", 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if n := len(tw.sent("Messages")); n != 0 {
		t.Fatalf("paged at start-up: %v", tw.sent("Messages"))
	}
	if strings.Contains(s.stderr.String(), "public_url is not set") {
		t.Fatal("warned about public_url although it is set")
	}

	// 1, 5, 2: the maximum is 2, but a datapoint equals 5.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.carbon))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Unix()/10*10 - 30
	fmt.Fprintf(c, "e2e.queue.depth 1 %d\ne2e.queue.depth 5 %d\ne2e.queue.depth 2 %d\n", base, base+10, base+20)
	c.Close()
	eventually(t, 15*time.Second, func() error {
		if len(tw.sent("Messages")) == 0 {
			return fmt.Errorf("no text for queue yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	sms := tw.sent("Messages")[0]
	// The duty officer (alice, by the rotation) gets the text and the call;
	// queue has no notify list.
	if got := tw.recipients("Messages"); !slices.Equal(got, []string{"+15551230001"}) {
		t.Fatalf("queue texts to %v", got)
	}
	if !strings.HasPrefix(sms["Body"], "Service queue reporting CRITICAL status: https://obs.example.com/services/queue\n") ||
		!strings.Contains(sms["Body"], "queue-depth: 1 series of e2e.queue.depth failing: 5 == 5") {
		t.Fatalf("text %q", sms["Body"])
	}
	if got := tw.recipients("Calls"); !slices.Equal(got, []string{"+15551230001"}) {
		t.Fatalf("queue calls to %v", got)
	}

	// web-api notifies carol: she gets the text, only the duty officer the call.
	health.stop()
	eventually(t, 15*time.Second, func() error {
		if n := len(tw.sent("Messages")); n < 3 {
			return fmt.Errorf("%d texts", n)
		}
		if n := len(tw.sent("Calls")); n < 2 {
			return fmt.Errorf("%d calls", n)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	if got := tw.recipients("Messages"); !slices.Equal(got, []string{"+15551230001", "+15551230001", "+15551230003"}) {
		t.Fatalf("texts to %v", got)
	}
	if got := tw.recipients("Calls"); !slices.Equal(got, []string{"+15551230001", "+15551230001"}) {
		t.Fatalf("calls to %v (carol is notified, not on call: no call)", got)
	}
	call := tw.sent("Calls")[1]
	if !strings.Contains(call["Twiml"], "This is an urgent message from obs monitoring. Service web-api is reporting critical status. Please check obs urgently.") {
		t.Fatalf("twiml %q", call["Twiml"])
	}
	v := s.service(t, "web-api")
	if !slices.Equal(v.OnCall, []string{"alice"}) || v.OnCallSource != "rotation" || !slices.Equal(v.Paged.SMS, []string{"carol", "alice"}) || !slices.Equal(v.Paged.Call, []string{"alice"}) {
		t.Fatalf("service view %+v", v)
	}
	// The link's path opens the service in the UI.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(s.url() + "/services/web-api")
	if err != nil || resp.StatusCode != 302 || resp.Header.Get("Location") != "/#/services/web-api" {
		t.Fatalf("link: %v %v", err, resp)
	}
}

// icsTime writes a UTC date-time as iCal does.
func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// An iCal rota served over HTTP: a weekly recurring shift, this week's
// occurrence moved to someone else (RECURRENCE-ID), an overlapping
// one-off shift; then a calendar with nobody on call (the fallback), then
// a failing feed (the last good copy stays).
func TestAlertICalRota(t *testing.T) {
	tw, health, healthAddr := cabotSetup(t)
	now := time.Now().UTC().Truncate(time.Hour)
	first := now.Add(-7*24*time.Hour - 2*time.Hour)
	current := first.Add(7 * 24 * time.Hour)
	week := 7 * 24 * time.Hour
	rota := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//obs e2e//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:rota@e2e\r\nSUMMARY:Bob\r\nDTSTART:" + icsTime(first) + "\r\nDTEND:" + icsTime(first.Add(week)) + "\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:rota@e2e\r\nRECURRENCE-ID:" + icsTime(current) + "\r\nSUMMARY:carol\r\nDTSTART:" + icsTime(current) + "\r\nDTEND:" + icsTime(current.Add(week)) + "\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:extra@e2e\r\nSUMMARY:dave\r\nDTSTART:" + icsTime(now.Add(-time.Hour)) + "\r\nDTEND:" + icsTime(now.Add(2*time.Hour)) + "\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	later := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//obs e2e//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:later@e2e\r\nSUMMARY:bob\r\nDTSTART:" + icsTime(now.Add(week)) + "\r\nDTEND:" + icsTime(now.Add(2*week)) + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	var feed atomic.Value
	feed.Store(rota)
	cal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := feed.Load().(string)
		if body == "" {
			http.Error(w, "down", 503)
			return
		}
		w.Header().Set("Content-Type", "text/calendar")
		io.WriteString(w, body)
	}))
	defer cal.Close()
	cfg := writeConfig(t, fmt.Sprintf(`
twilio: {api_url: %s}
alert_interval: 1h
%scalendar: {ical_url: "%s/calendar/private-e2e5ecret/basic.ics", refresh: 1s}
fallback: erin
services:
  - name: web-api
    channels: [sms, call]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%s/health", importance: critical, interval: 1s, timeout: 1s}
`, tw.URL, fourUsers, cal.URL, healthAddr))
	s := newServer(t, "--config", cfg)
	if !strings.Contains(s.stderr.String(), "public_url is not set") {
		t.Fatalf("no start-up warning about links: %s", s.stderr.String())
	}
	type onCall struct {
		Now    []string
		Source string
		Shifts []struct {
			User       string
			Start, End time.Time
		}
		Calendar struct {
			URL       string
			LastError string `json:"last_error"`
			Fetched   *time.Time
		}
	}
	oncall := func() onCall {
		out, err := s.obs("checks", "oncall", "-o", "json", "--days", "15")
		if err != nil {
			t.Fatal(err)
		}
		var v onCall
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return v
	}
	var v onCall
	eventually(t, 10*time.Second, func() error {
		if v = oncall(); !slices.Equal(v.Now, []string{"carol", "dave"}) {
			return fmt.Errorf("on call %v from %s", v.Now, v.Source)
		}
		return nil
	})
	if v.Source != "calendar" || strings.Contains(v.Calendar.URL, "e2e5ecret") || len(v.Shifts) < 3 {
		t.Fatalf("%+v", v)
	}
	if !slices.ContainsFunc(v.Shifts, func(s struct {
		User       string
		Start, End time.Time
	}) bool {
		return s.User == "bob" && s.Start.Equal(current.Add(week))
	}) {
		t.Fatalf("next week's shift missing: %+v", v.Shifts)
	}
	text, _ := s.obs("checks", "oncall")
	if !strings.Contains(text, "on call now: carol, dave (calendar)") {
		t.Fatalf("oncall text: %s", text)
	}

	// Both duty officers get the text and the call.
	s.waitStatus(t, "web-api", "PASSING", 10*time.Second)
	health.stop()
	eventually(t, 15*time.Second, func() error {
		if len(tw.sent("Calls")) < 2 {
			return fmt.Errorf("%d calls", len(tw.sent("Calls")))
		}
		return nil
	})
	if got := tw.recipients("Messages"); !slices.Equal(got, []string{"+15551230003", "+15551230004"}) {
		t.Fatalf("texts to %v", got)
	}
	if got := tw.recipients("Calls"); !slices.Equal(got, []string{"+15551230003", "+15551230004"}) {
		t.Fatalf("calls to %v", got)
	}

	// Nobody on the calendar now: the fallback officer.
	feed.Store(later)
	eventually(t, 10*time.Second, func() error {
		if v = oncall(); !slices.Equal(v.Now, []string{"erin"}) || v.Source != "fallback" {
			return fmt.Errorf("on call %v from %s", v.Now, v.Source)
		}
		return nil
	})
	// The feed fails: the last good copy stays, and the failure shows.
	feed.Store("")
	eventually(t, 10*time.Second, func() error {
		if v = oncall(); v.Calendar.LastError == "" {
			return fmt.Errorf("no error shown")
		}
		return nil
	})
	if !slices.Equal(v.Now, []string{"erin"}) || len(v.Shifts) != 1 || v.Shifts[0].User != "bob" || strings.Contains(v.Calendar.LastError, "e2e5ecret") {
		t.Fatalf("last good copy lost: %+v", v)
	}
}

// Acknowledgements as Cabot: a second one is refused with the first's
// owner and expiry; a recovery and a new failure inside it stay silent.
func TestAlertAckRefusalAndFlap(t *testing.T) {
	tw, health, healthAddr := cabotSetup(t)
	cfg := writeConfig(t, fmt.Sprintf(`
twilio: {api_url: %s}
alert_interval: 3s
users: [{name: alice, phone: "+15551230001"}]
fallback: alice
services:
  - name: web-api
    channels: [sms]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%s/health", importance: critical, interval: 500ms, timeout: 1s}
`, tw.URL, healthAddr))
	s := newServer(t, "--config", cfg)
	s.waitStatus(t, "web-api", "PASSING", 10*time.Second)
	health.stop()
	eventually(t, 10*time.Second, func() error {
		if len(tw.sent("Messages")) != 1 {
			return fmt.Errorf("%d texts", len(tw.sent("Messages")))
		}
		return nil
	})
	if _, err := s.obs("checks", "ack", "web-api", "--for", "1h", "--by", "alice"); err != nil {
		t.Fatal(err)
	}
	_, err := s.obs("checks", "ack", "web-api", "--by", "bob")
	if err == nil || !strings.Contains(err.Error(), "web-api is already acknowledged by alice until") {
		t.Fatalf("second ack: %v", err)
	}
	health.listen(t)
	s.waitStatus(t, "web-api", "PASSING", 10*time.Second)
	health.stop()
	s.waitStatus(t, "web-api", "CRITICAL", 10*time.Second)
	time.Sleep(4 * time.Second) // past alert_interval: no reminder either
	if n := len(tw.sent("Messages")); n != 1 {
		t.Fatalf("a flap inside the acknowledgement paged: %v", tw.sent("Messages"))
	}
	v := s.service(t, "web-api")
	if v.AckUntil == nil || v.AckBy != "alice" {
		t.Fatalf("recovery ended the acknowledgement: %+v", v)
	}
	if _, err := s.obs("checks", "unack", "web-api"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if len(tw.sent("Messages")) < 2 {
			return fmt.Errorf("no page after the acknowledgement ended")
		}
		return nil
	})
}

// startGraphiteWeb runs graphite-web from Debian over whisper files with
// known points and returns its base URL; without graphite-web it serves
// the answer graphite-web gave for the same files (recorded here, its
// times moved to now).
func startGraphiteWeb(t *testing.T) string {
	if _, err := os.Stat("/usr/share/graphite-web/graphite.wsgi"); err == nil && exec.Command("/usr/bin/python3", "-c", "import whisper, django").Run() == nil {
		dir := t.TempDir()
		testdata, _ := filepath.Abs("testdata/graphite")
		// Port 0: graphite-web binds a free port and says which.
		cmd := exec.Command("/usr/bin/python3", filepath.Join(testdata, "serve.py"), "0")
		cmd.Env = append(os.Environ(), "E2E_GRAPHITE_DIR="+dir, "PYTHONPATH="+testdata)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		ready := make(chan int, 1)
		go func() {
			defer close(ready)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var port int
				if _, err := fmt.Sscanf(sc.Text(), "ready %d", &port); err == nil {
					ready <- port
				}
			}
		}()
		port, ok := <-ready // however long a busy machine takes
		if !ok {
			t.Fatal("graphite-web exited before serving")
		}
		t.Logf("graphite-web from Debian on port %d", port)
		return fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	t.Log("graphite-web is not installed (apt-get install graphite-web): serving its recorded answer")
	rec, err := os.ReadFile("testdata/graphite/render-e2e.ext.value.json")
	if err != nil {
		t.Fatal(err)
	}
	var series []struct {
		Target     string         `json:"target"`
		Tags       map[string]any `json:"tags"`
		Datapoints [][2]*float64  `json:"datapoints"`
	}
	if err := json.Unmarshal(rec, &series); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/render" || r.FormValue("target") != "e2e.ext.value" {
			w.Write([]byte("[]"))
			return
		}
		// The recorded answer, its times moved so that the last is now.
		last := *series[0].Datapoints[len(series[0].Datapoints)-1][1]
		shift := float64(time.Now().Unix()/10*10) - last
		var points [][2]*float64
		for _, dp := range series[0].Datapoints {
			ts := *dp[1] + shift
			points = append(points, [2]*float64{dp[0], &ts})
		}
		json.NewEncoder(w).Encode([]map[string]any{{"target": series[0].Target, "tags": series[0].Tags, "datapoints": points}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Metric checks read an external Graphite render API (Cabot's
// GRAPHITE_API, GRAPHITE_USER, GRAPHITE_PASS) as well as obs's store.
func TestAlertExternalGraphite(t *testing.T) {
	tw := newTwilioStandIn(t)
	setTwilioEnv(t)
	gw := startGraphiteWeb(t)
	// graphite-web behind a proxy that wants basic auth, as Cabot's
	// Graphite often sits.
	var authed atomic.Int64
	target, _ := http.NewRequest("GET", gw, nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "cabot" || p != "gr4phite-pw" {
			http.Error(w, "auth", 401)
			return
		}
		authed.Add(1)
		resp, err := http.Get(target.URL.Scheme + "://" + target.URL.Host + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	t.Setenv("GRAPHITE_API", proxy.URL+"/")
	t.Setenv("GRAPHITE_USER", "cabot")
	t.Setenv("GRAPHITE_PASS", "gr4phite-pw")
	cfg := writeConfig(t, fmt.Sprintf(`
twilio: {api_url: %s}
alert_interval: 1h
users: [{name: alice, phone: "+15551230001"}]
fallback: alice
services:
  - name: ext
    channels: [sms]
    checks:
      - {name: ext-equals, type: metric, target: e2e.ext.value, check_type: "==", value: 5, interval: 1s}
      - {name: ext-below, type: metric, target: e2e.ext.value, check_type: "<", value: 0, interval: 1s}
      - {name: ext-obs, type: metric, source: obs, target: e2e.ext.value, check_type: "==", value: 5, interval: 1s}
`, tw.URL))
	s := newServer(t, "--config", cfg)
	v := s.waitStatus(t, "ext", "ERROR", 90*time.Second)
	eventually(t, 10*time.Second, func() error {
		if len(tw.sent("Messages")) == 0 {
			return fmt.Errorf("no text")
		}
		return nil
	})
	if body := tw.sent("Messages")[0]["Body"]; !strings.Contains(body, "ext-equals: 1 series of e2e.ext.value failing: 5 == 5") || strings.Contains(body, "ext-below") || strings.Contains(body, "ext-obs") {
		t.Fatalf("text %q", body)
	}
	for _, c := range v.Checks {
		switch c.Name {
		case "ext-equals":
			if !c.Failing || c.ReadsFrom != strings.TrimSuffix(proxy.URL+"/", "") || c.LastFailure == nil || !strings.Contains(c.LastFailure.RawData, `"target": "e2e.ext.value"`) && !strings.Contains(c.LastFailure.RawData, `"target":"e2e.ext.value"`) {
				t.Fatalf("%+v %+v", c, c.LastFailure)
			}
		case "ext-obs":
			if c.Failing {
				t.Fatalf("source: obs read the external Graphite: %+v", c.Last)
			}
		}
	}
	if authed.Load() == 0 {
		t.Fatal("basic auth never sent")
	}
	b, _ := json.Marshal(v)
	if strings.Contains(string(b)+s.stderr.String(), "gr4phite-pw") {
		t.Fatal("the Graphite password shows")
	}
}

// Services and checks created, edited, disabled and deleted from the CLI
// (through the API), validated as the file is and kept across restarts;
// obs.yaml's are read-only. Secrets never show. Test pages go to users by
// name only. Reports give uptime and problem periods.
func TestAlertChecksFromTheCLI(t *testing.T) {
	tw, health, healthAddr := cabotSetup(t)
	var hooked atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("key") == "h00ksecret" {
			hooked.Add(1)
		}
	}))
	defer hook.Close()
	cfg := writeConfig(t, fmt.Sprintf(`
twilio: {api_url: %s}
alert_interval: 1h
%srotation: {users: [alice], period: 168h, start: 2026-01-05T09:00:00Z}
services:
  - name: from-file
    checks:
      - {name: file-port, type: tcp, address: "%s", interval: 1s}
`, tw.URL, fourUsers, healthAddr))
	s := newServer(t, "--config", cfg)
	def := filepath.Join(t.TempDir(), "billing.yaml")
	os.WriteFile(def, []byte(fmt.Sprintf(`name: billing
notify: [bob]
channels: [sms, webhook]
webhook: "%s/hook?key=h00ksecret"
checks:
  - {name: billing-health, type: http, endpoint: "http://%s/health", username: probe, password: "pr0bepass", text_match: "^OK$", interval: 500ms}
`, hook.URL, healthAddr)), 0o600)

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nchecks:\n  - {name: b, type: htp}\n"), 0o600)
	if _, err := s.obs("checks", "add", "-f", bad); err == nil || !strings.Contains(err.Error(), `checks[0].type: "htp" is not one of http, metric, log, tcp, icmp`) {
		t.Fatalf("bad definition: %v", err)
	}
	if _, err := s.obs("checks", "add", "-f", def); err != nil {
		t.Fatal(err)
	}
	if _, err := s.obs("checks", "add", "billing", "--yaml", fmt.Sprintf("{name: billing-port, type: tcp, address: '%s', interval: 1s}", healthAddr)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.obs("checks", "edit", "from-file", "--set", "alerts_enabled=false"); err == nil || !strings.Contains(err.Error(), "declared in the config file") {
		t.Fatalf("edit of a file service: %v", err)
	}
	v := s.waitStatus(t, "billing", "PASSING", 10*time.Second)
	if v.Source != "api" || v.ReadOnly || len(v.Checks) != 2 {
		t.Fatalf("%+v", v)
	}
	if f := s.service(t, "from-file"); f.Source != "config" || !f.ReadOnly {
		t.Fatalf("%+v", f)
	}

	// Failing: the body is kept as raw data; the webhook is called with its
	// key, which shows nowhere.
	health.state.Store("DEGRADED")
	eventually(t, 10*time.Second, func() error {
		if hooked.Load() == 0 || len(tw.sent("Messages")) == 0 {
			return fmt.Errorf("webhook %d, texts %d", hooked.Load(), len(tw.sent("Messages")))
		}
		return nil
	})
	if got := tw.recipients("Messages"); !slices.Equal(got, []string{"+15551230001", "+15551230002"}) {
		t.Fatalf("texts to %v", got)
	}
	v = s.service(t, "billing")
	for _, c := range v.Checks {
		if c.Name == "billing-health" && (c.Last == nil || c.Last.RawData != "DEGRADED") {
			t.Fatalf("raw data %+v", c.Last)
		}
	}
	var everything strings.Builder
	for _, path := range []string{"/api/alerts", "/api/services", "/api/services/billing/definition", "/api/checks"} {
		resp, err := http.Get(s.url() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		everything.Write(b)
	}
	all := everything.String() + s.stderr.String()
	if strings.Contains(all, "h00ksecret") || strings.Contains(all, "pr0bepass") || strings.Contains(all, "e2etoken") || !strings.Contains(all, "/hook?REDACTED") {
		t.Fatalf("a secret shows: %s", all)
	}
	health.state.Store("OK")
	s.waitStatus(t, "billing", "PASSING", 10*time.Second)

	// Disable a check, edit a service, restart: all kept.
	if _, err := s.obs("checks", "edit", "billing-port", "--check", "--set", "active=false"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.obs("checks", "edit", "billing", "--set", "runbook=https://wiki.example/billing"); err != nil {
		t.Fatal(err)
	}
	// The secrets, shown redacted and sent back so by edit, are kept.
	if b, _ := os.ReadFile(filepath.Join(s.data, "alerts", "services.yaml")); !strings.Contains(string(b), "pr0bepass") || !strings.Contains(string(b), "key=h00ksecret") || !strings.Contains(string(b), "wiki.example/billing") {
		t.Fatalf("stored definition %s", b)
	}
	s.stop()
	s.start()
	out, err := s.obs("checks", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var checks []struct {
		Name   string
		Active bool
	}
	json.Unmarshal([]byte(out), &checks)
	if len(checks) != 3 || checks[1].Name != "billing-port" || checks[1].Active {
		t.Fatalf("after restart: %s", out)
	}
	health.state.Store("DEGRADED")
	s.waitStatus(t, "billing", "ERROR", 10*time.Second)
	health.state.Store("OK")
	s.waitStatus(t, "billing", "PASSING", 10*time.Second)

	rep, err := s.obs("checks", "report", "billing", "--from", "now-1h")
	if err != nil || !strings.Contains(rep, "service billing: ") || !strings.Contains(rep, "2 problems") || !strings.Contains(rep, "check billing-health") {
		t.Fatalf("report: %v\n%s", err, rep)
	}
	var report struct {
		UptimePercent *float64 `json:"uptime_percent"`
		Problems      []struct {
			Worst string `json:"worst_status"`
			End   *time.Time
		}
	}
	out, _ = s.obs("checks", "report", "billing-health", "-o", "json")
	json.Unmarshal([]byte(out), &report)
	if report.UptimePercent == nil || *report.UptimePercent >= 100 || *report.UptimePercent <= 0 || len(report.Problems) != 2 || report.Problems[0].Worst != "ERROR" || report.Problems[1].End == nil {
		t.Fatalf("check report %s", out)
	}

	// Test pages: users by name, never a number.
	if _, err := s.obs("alerts", "test", "--to", "+19005550199", "--call"); err == nil {
		t.Fatal("a number was paged")
	}
	resp, err := http.Post(s.url()+"/api/alerts/test", "application/json", strings.NewReader(`{"to":"+19005550199","call":true}`))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("test to a number: %v %v", err, resp.Status)
	}
	n := len(tw.sent("Messages"))
	if _, err := s.obs("alerts", "test", "--to", "carol", "--call"); err != nil {
		t.Fatal(err)
	}
	if got := tw.sent("Messages"); len(got) != n+1 || got[n]["To"] != "+15551230003" || len(tw.sent("Calls")) != 1 {
		t.Fatalf("test page %v", got)
	}
	if _, err := s.obs("alerts", "test", "--to", "mallory"); err == nil || !strings.Contains(err.Error(), "no user named mallory") {
		t.Fatalf("unknown user: %v", err)
	}

	if _, err := s.obs("checks", "rm", "billing"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.obs("checks", "rm", "from-file"); err == nil {
		t.Fatal("removed a service of the config file")
	}
	s.stop()
	s.start()
	if out, _ := s.obs("checks", "status", "-o", "json"); strings.Contains(out, "billing") {
		t.Fatalf("deleted service back: %s", out)
	}
}
