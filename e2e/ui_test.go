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

// bulkEvents is how many events Discover pages through and renders at once.
const bulkEvents = 1200

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
	// 1,200 events of varied shapes for Discover's paging and its 1,000-hit
	// render: no message (a stack trace instead), a long message, nested
	// fields with the trace id under fields.trace_id, a B3 header copy.
	tc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < bulkEvents; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(tc, `{"app":"bulk","severity":"error","type":"request-failure","fields":{"method":"GET","path":"/recipes/%d","stack":"Error: oh no %d\n    at handler (/srv/app.js:10:5)\n    at next (/srv/node_modules/router/index.js:275:14)","trace_id":"0000000000000100"}}`+"\n", i, i)
		case 1:
			fmt.Fprintf(tc, `{"app":"bulk","severity":"info","message":"GET /recipes/%d answered 200 in %d ms after a long wait on %s","url":"http://127.0.0.1:3000/recipes/%d?%s"}`+"\n", i, i%300, strings.Repeat("upstream-", 20), i, strings.Repeat("q=x&", 100))
		case 2:
			fmt.Fprintf(tc, `{"app":"bulk","level":"warn","msg":"slow query","db":{"statement":"SELECT * FROM recipes WHERE id = %d","ms":%d},"headers":{"X-B3-TraceId":"0000000000000100"}}`+"\n", i, i%50)
		default:
			fmt.Fprintf(tc, `{"app":"bulk","severity":"debug","type":"cache","hit":%t,"key":"recipe:%d"}`+"\n", i%3 == 0, i)
		}
	}
	tc.Close()
	// Metrics for the Web API Overview dashboard.
	u, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	for i := 0; i < 5; i++ {
		fmt.Fprint(u, "web-api.inbound.response_code.200:3|c\nweb-api.inbound.response_code.500:1|c\nweb-api.outbound.recipe-api.request-time:120|ms\nweb-api.outbound.recipe-api.request-count:1|c")
		// recipe-api instrumented as the seed suggests ("set its prefix
		// accordingly"): the same dashboard serves it through $service.
		fmt.Fprint(u, "recipe-api.inbound.response_code.200:5|c")
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
		var hg struct{ Total int }
		if err := getJSONErr(s.url()+"/api/logs/histogram?q=app:bulk&from=now-1h&to=now%2B1m", &hg); err != nil || hg.Total != bulkEvents {
			return fmt.Errorf("%d of %d bulk events searchable (%v)", hg.Total, bulkEvents, err)
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
	cmd.Env = append(os.Environ(), "OBS_URL="+s.url(), "TRACE_ID=0000000000000100", "EXPECT_HITS=6", "SERVICE=web-api", "SHOTS="+shots, fmt.Sprintf("BULK=%d", bulkEvents))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "ui ok") {
		t.Fatalf("ui test failed: %v (screenshots in %s)", err, shots)
	}
}
