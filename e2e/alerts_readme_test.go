package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeAlertingConfig is the config block of the README's "Health checks
// and alerts" section, byte for byte.
func readmeAlertingConfig(t *testing.T) []byte {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "### Health checks and alerts")
	j := strings.Index(s[i:], "```yaml\n")
	k := strings.Index(s[i+j+8:], "```")
	if i < 0 || j < 0 || k < 0 {
		t.Fatal("no config block in the README's alerting section")
	}
	return []byte(s[i+j+8 : i+j+8+k])
}

// The example config file, unchanged, starts obs with alerting working.
func TestAlertExampleConfigLoadsUnchanged(t *testing.T) {
	s := newServer(t, "--config", "../configs/obs.example.yaml")
	out, err := s.obs("checks", "status", "-o", "json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("%v %q", err, out)
	}
	if _, err := s.obs("checks", "oncall"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.url() + "/health?verbose")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Subsystems map[string]struct{ Status string }
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Subsystems["alerts"].Status != "OK" {
		t.Fatalf("health %+v", h)
	}
}

// The README's config, unchanged: obs restarted while the service fails
// and while it is acknowledged pages nobody twice, and keeps the
// acknowledgement and the history (issue 12). A metric check with no data
// (recipe-latency) must neither page nor break the state file.
func TestAlertReadmeConfigAcrossRestarts(t *testing.T) {
	hold, err := holdPort(t, "127.0.0.1:3300")
	if err != nil {
		t.Skipf("the README's health endpoint port 3300 is taken here: %v", err)
	}
	tw := newTwilioStandIn(t)
	setTwilioEnv(t)
	t.Setenv("TWILIO_API_URL", tw.URL)
	health := startHealthOn(t, hold)
	defer health.stop()
	cfg := writeConfig(t, string(readmeAlertingConfig(t)))
	s := newServer(t, "--config", cfg)
	s.waitStatus(t, "web-api", "PASSING", 15*time.Second)
	time.Sleep(time.Second)
	if n := len(tw.sent("Messages")); n != 0 {
		t.Fatalf("paged at start-up: %v", tw.sent("Messages"))
	}

	// The service fails: debounce 1, so the second failure pages.
	health.stop()
	for i := 0; i < 2; i++ {
		if _, err := s.obs("checks", "run", "web-api-health"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if len(tw.sent("Calls")) == 0 {
			return fmt.Errorf("no call")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	// carol is notified; alice is on call (the rotation's second week is
	// bob's: who it is depends on the date, the rule does not).
	texts := tw.recipients("Messages")
	if len(texts) != 2 || !slices.Contains(texts, "+15551230003") || len(tw.sent("Calls")) != 1 || tw.sent("Calls")[0]["To"] == "+15551230003" {
		t.Fatalf("texts %v calls %v", texts, tw.recipients("Calls"))
	}
	if !strings.HasPrefix(tw.sent("Messages")[0]["Body"], "Service web-api reporting CRITICAL status: https://obs.example.com/services/web-api\n") {
		t.Fatalf("%q", tw.sent("Messages")[0]["Body"])
	}

	restartQuietly := func(what string) {
		t.Helper()
		texts, calls := len(tw.sent("Messages")), len(tw.sent("Calls"))
		s.stop()
		s.start()
		s.waitStatus(t, "web-api", "CRITICAL", 10*time.Second)
		time.Sleep(3 * time.Second) // every check has run again
		if len(tw.sent("Messages")) != texts || len(tw.sent("Calls")) != calls {
			t.Fatalf("restart %s paged again: %v", what, tw.sent("Messages"))
		}
	}
	restartQuietly("while failing")
	if _, err := s.obs("checks", "ack", "web-api", "--for", "1h", "--by", "alice"); err != nil {
		t.Fatal(err)
	}
	restartQuietly("while acknowledged")
	v := s.service(t, "web-api")
	if v.AckUntil == nil || v.AckBy != "alice" || len(v.History) == 0 || v.History[0].Status != "CRITICAL" {
		t.Fatalf("acknowledgement or history lost: %+v", v)
	}
	out, err := s.obs("alerts", "list", "-o", "json")
	if err != nil || !strings.Contains(out, `"kind": "alert"`) {
		t.Fatalf("alert history lost: %v %s", err, out)
	}
	for _, c := range v.Checks {
		if c.Name == "recipe-latency" && (c.Last == nil || !c.Last.OK) {
			t.Fatalf("no-data metric check: %+v", c.Last)
		}
	}
	if out, err := s.obs("checks", "status"); err != nil || !strings.Contains(out, "acknowledged until") {
		t.Fatalf("%v %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(s.data, "alerts", "state.json"))
	if err != nil || !json.Valid(b) {
		t.Fatalf("state.json: %v", err)
	}
	if strings.Contains(s.stderr.String(), "alert state not written") {
		t.Fatalf("state write failed: %s", s.stderr.String())
	}
}
