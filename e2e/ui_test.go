package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUIInChromium drives the UI in Debian's headless Chromium with
// playwright-core: every page, a KQL search, the built-in dashboard, a new
// panel saved and reloaded, a trace, a failing service acknowledged.
// Screenshots go to test-output/ui.
func TestUIInChromium(t *testing.T) {
	dir := nodeModules(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian's chromium is missing: apt-get install -y chromium (.ci/run does)")
	}
	dead, err := holdPort(t, "127.0.0.1:0") // held, nothing listens: the check fails
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "obs.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
services:
  - name: web-api
    channels: [log]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%s/health", importance: critical, interval: 1s}
`, dead.addr)), 0o644)
	s := newServer(t, "--config", cfgPath, "--flush-interval", "1s")

	// Logs: 6 of them match the seed query (web-api, error or warn).
	c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	for i, sev := range []string{"error", "warn", "info", "error", "debug", "warn", "error", "info", "warn", "error"} {
		app := "web-api"
		if i == 9 {
			app = "recipe-api"
		}
		fmt.Fprintf(c, `{"app":%q,"severity":%q,"type":"request","message":"request %d","traceId":"0000000000000100"}`, app, sev, i)
	}
	c.Close()
	// Metrics for the Web API Overview dashboard.
	u, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	for i := 0; i < 5; i++ {
		fmt.Fprint(u, "web-api.inbound.response_code.200:3|c\nweb-api.inbound.response_code.500:1|c\nweb-api.outbound.recipe-api.request-time:120|ms\nweb-api.outbound.recipe-api.request-count:1|c")
		time.Sleep(1100 * time.Millisecond)
	}
	u.Close()
	// A trace.
	now := time.Now().UnixMicro()
	body := fmt.Sprintf(`[
	 {"traceId":"0000000000000100","id":"0000000000000110","name":"get_root","kind":"SERVER","timestamp":%d,"duration":100000,"localEndpoint":{"serviceName":"web-api"}},
	 {"traceId":"0000000000000100","id":"0000000000000111","parentId":"0000000000000110","name":"get_recipe","kind":"CLIENT","timestamp":%d,"duration":80000,"localEndpoint":{"serviceName":"web-api"},"remoteEndpoint":{"serviceName":"recipe-api"}},
	 {"traceId":"0000000000000100","id":"0000000000000111","parentId":"0000000000000110","name":"get_recipe","kind":"SERVER","shared":true,"timestamp":%d,"duration":70000,"localEndpoint":{"serviceName":"recipe-api"},"tags":{"http.path":"/recipes/42"}},
	 {"traceId":"0000000000000100","id":"0000000000000112","parentId":"0000000000000111","name":"select","kind":"CLIENT","timestamp":%d,"duration":5000,"localEndpoint":{"serviceName":"recipe-api"},"remoteEndpoint":{"serviceName":"postgres"}}
	]`, now, now+1000, now+2000, now+3000)
	if s.postSpans([]byte(body)) != 202 {
		t.Fatal("spans refused")
	}
	eventually(t, 10*time.Second, func() error {
		if rs := s.render(t, "stats_counts.web-api.inbound.response_code.200"); len(rs) != 1 {
			return fmt.Errorf("metrics not flushed")
		}
		resp, err := http.Get(s.url() + "/api/services/web-api")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	shots, _ := filepath.Abs("../test-output/ui")
	cmd := exec.Command("node", "ui-test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OBS_URL="+s.url(), "TRACE_ID=0000000000000100", "EXPECT_HITS=6", "SERVICE=web-api", "SHOTS="+shots)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "ui ok") {
		t.Fatalf("ui test failed: %v (screenshots in %s)", err, shots)
	}
}
