package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The attacks of SECURITY.md, each from the outside against the real
// binary: a web page on another loopback port (in Chromium), DNS rebinding,
// script in every kind of data, the Zipkin port with and without a token,
// and a slow-client flood.
func TestSecurity(t *testing.T) {
	dir := nodeModules(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian's chromium is missing: apt-get install -y chromium (.ci/run does)")
	}
	tw := newTwilioStandIn(t)
	var checkHits atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checkHits.Add(1)
		fmt.Fprint(w, "OK")
	}))
	defer svc.Close()
	cfgPath := filepath.Join(t.TempDir(), "obs.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
twilio: {account_sid: ACe2e0001, auth_token: e2etoken, from: "+15559990000", api_url: %s}
users: [{name: alice, phone: "+15551230001"}]
services:
  - name: web-api
    notify: [alice]
    channels: [sms, call]
    checks:
      - {name: web-api-health, type: http, endpoint: "%s/health", importance: critical, interval: 1h}
`, tw.URL, svc.URL)), 0o600)
	s := newServer(t, "--config", cfgPath, "--flush-interval", "1s")
	eventually(t, 10*time.Second, func() error {
		if checkHits.Load() == 0 {
			return fmt.Errorf("the check has not run yet")
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	hitsBefore := checkHits.Load()

	// Script in every kind of data anyone can send.
	const traceID = "00000000000000a1"
	c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	fmt.Fprintf(c, `{"app":"<img src=x onerror=\"window.__pwned='log app'\">","severity":"error","message":"<script>window.__pwned='log message'</script>",`+
		`"fields":{"<b onmouseover=\"window.__pwned='key'\">k</b>":"<svg onload=\"window.__pwned='field'\">","path":"javascript:window.__pwned='href'"},"traceId":%q}`, traceID)
	c.Close()
	now := time.Now().UnixMicro()
	spans := fmt.Sprintf(`[
	 {"traceId":%q,"id":"00000000000000b1","name":"<svg onload=\"window.__pwned='span'\">","kind":"SERVER","timestamp":%d,"duration":1000,
	  "localEndpoint":{"serviceName":"<img src=x onerror=\"window.__pwned='svc'\">"},"tags":{"<script>x</script>":"<img src=x onerror=\"window.__pwned='tag'\">","error":"<b>boom</b>"},
	  "annotations":[{"timestamp":%d,"value":"<img src=x onerror=\"window.__pwned='annotation'\">"}]},
	 {"traceId":%q,"id":"00000000000000b2","parentId":"00000000000000b1","name":"call","kind":"CLIENT","timestamp":%d,"duration":500,
	  "localEndpoint":{"serviceName":"<img src=x onerror=\"window.__pwned='svc'\">"},"remoteEndpoint":{"serviceName":"<svg onload=\"window.__pwned='remote'\">"}}]`,
		traceID, now, now+10, traceID, now+100)
	if code := s.postSpans([]byte(spans)); code != 202 {
		t.Fatalf("spans: %d", code)
	}
	cb, _ := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.carbon))
	fmt.Fprintf(cb, "evil.<img/src=x/onerror=alert(7)>.x 1 %d\n", time.Now().Unix())
	cb.Close()
	// A dashboard (saved by a tool: same-origin JSON) whose legend shows it.
	dash := `{"id":"evil","title":"<img src=x onerror=window.__pwned=9>","panels":[{"id":"p","title":"<b>t</b>","type":"timeseries","targets":[{"lang":"graphite","expr":"evil.*.x"}]}]}`
	req, _ := http.NewRequest("PUT", s.url()+"/api/dashboards/evil", strings.NewReader(dash))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("save dashboard: %v %v", err, resp)
	}

	// A page on another loopback port tries every cross-site trick.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, evilPage, s.url())
	}))
	defer evil.Close()
	cmd := exec.Command("node", "security-test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OBS_URL="+s.url(), "EVIL_URL="+evil.URL, "TRACE_ID="+traceID, "SERVICE=web-api")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("security-test.js: %v\n%s", err, out)
	}
	var res struct {
		Attacks map[string]string
		Pages   []string
		Errors  []string
		XSS     []string
	}
	if err := json.Unmarshal(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:], &res); err != nil {
		t.Fatalf("security-test.js output: %v\n%s", err, out)
	}
	t.Logf("from the other origin: %v; pages visited: %v", res.Attacks, res.Pages)
	if len(res.XSS) > 0 || len(res.Errors) > 0 {
		t.Fatalf("script ran or the CSP was violated: %v %v", res.XSS, res.Errors)
	}
	if len(res.Pages) != 7 {
		t.Fatalf("visited %v", res.Pages)
	}
	// Nothing changed on the server.
	time.Sleep(500 * time.Millisecond)
	if n := len(tw.sent("Messages")) + len(tw.sent("Calls")); n != 0 {
		t.Fatalf("a cross-site page made obs send %d Twilio requests", n)
	}
	var svcState struct {
		AcknowledgedUntil string `json:"acknowledged_until"`
	}
	s.getJSON(t, s.url(), "/api/services/web-api", &svcState)
	if svcState.AcknowledgedUntil != "" {
		t.Fatalf("a cross-site page acknowledged the service until %s", svcState.AcknowledgedUntil)
	}
	if checkHits.Load() != hitsBefore {
		t.Fatal("a cross-site page ran a check")
	}
	if n := s.logCount(t, "app:evil"); n != 0 {
		t.Fatalf("a cross-site page injected %d log events", n)
	}
	if code := s.getJSON(t, s.url(), "/api/dashboards/evil-page", nil); code != 404 {
		t.Fatalf("a cross-site page saved a dashboard: %d", code)
	}
	if res.Attacks["read"] != "blocked" {
		t.Fatalf("a cross-site page read the API: %s", res.Attacks["read"])
	}

	t.Run("DNS rebinding", func(t *testing.T) {
		for _, path := range []string{"/api/services", "/api/logs/search?q=", "/", "/metrics"} {
			req, _ := http.NewRequest("GET", s.url()+path, nil)
			req.Host = "evil.example:8000"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || bytes.Contains(b, []byte("web-api")) {
				t.Fatalf("%s with Host evil.example: %d %s", path, resp.StatusCode, b)
			}
		}
	})
}

// evilPage runs on another origin; %s is obs's URL.
const evilPage = `<!doctype html><html><body><iframe name="sink" style="display:none"></iframe>
<script>
const T = %q; window.attackResults = {};
async function tryit(name, url, opts) {
  try { const r = await fetch(url, opts); window.attackResults[name] = r.type === 'opaque' ? 'sent (opaque)' : 'status ' + r.status + ' ' + (await r.text()).slice(0, 40); }
  catch (e) { window.attackResults[name] = 'blocked'; }
}
(async () => {
  const tp = { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' } };
  await tryit('alerts-test', T + '/api/alerts/test', { ...tp, body: JSON.stringify({ to: '+19005550199', call: true }) });
  await tryit('ack', T + '/api/services/web-api/ack', { ...tp, body: JSON.stringify({ for: '1h', by: 'evil' }) });
  await tryit('run', T + '/api/checks/web-api-health/run', { method: 'POST', mode: 'no-cors' });
  await tryit('logs', T + '/api/logs', { ...tp, body: '{"app":"evil"}' });
  await tryit('json-ack', T + '/api/services/web-api/ack', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"for":"1h"}' });
  await tryit('dashboard', T + '/api/dashboards/evil-page', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"id":"evil-page","title":"x","panels":[]}' });
  await tryit('read', T + '/api/services', {});
  const f = document.createElement('form'); f.method = 'POST'; f.action = T + '/api/services/web-api/ack'; f.enctype = 'text/plain'; f.target = 'sink';
  const i = document.createElement('input'); i.name = '{"for":"1h","by":"evil","x":"'; i.value = '"}'; f.append(i); document.body.append(f); f.submit();
  const g = document.createElement('form'); g.method = 'POST'; g.action = T + '/api/logs'; g.enctype = 'text/plain'; g.target = 'sink';
  const j = document.createElement('input'); j.name = '{"app":"evil","x":"'; j.value = '"}'; g.append(j); document.body.append(g); g.submit();
  await new Promise(r => setTimeout(r, 1500));
  window.attacksDone = true;
})();
</script></body></html>`

// The Zipkin port follows the one rule: with a token its reads need it,
// the collector stays open on loopback; off loopback it needs a token.
func TestSecurityZipkinPort(t *testing.T) {
	s := newServer(t, "--auth-token", "s3cret")
	z := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", z+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, p := range []string{"/api/v2/services", "/api/v2/traces", "/api/v2/dependencies?endTs=1"} {
		if c := get(p, ""); c != 401 {
			t.Fatalf("%s without the token: %d", p, c)
		}
		if c := get(p, "s3cret"); c != 200 && c != 400 {
			t.Fatalf("%s with the token: %d", p, c)
		}
	}
	if c := s.postSpans(spansJSON("tok-svc", 0, 1, time.Now())); c != 202 {
		t.Fatalf("collector on loopback with a token set: %d", c)
	}
	// The CLI sends the token from OBS_AUTH_TOKEN, as obs serve reads it.
	cmd := exec.Command(obsBin, "traces", "search", "--service", "tok-svc", "-o", "json")
	cmd.Env = append(os.Environ(), "OBS_SERVER="+s.url(), "OBS_AUTH_TOKEN=s3cret")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CLI with OBS_AUTH_TOKEN: %v %s", err, out)
	}
	out, err := exec.Command(obsBin, "serve", "--data", t.TempDir(), "--zipkin", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--zipkin 0.0.0.0:0 is reachable from other machines") {
		t.Fatalf("non-loopback --zipkin without a token: %v %s", err, out)
	}
}

// 1,100 slow clients (half never finish their headers, half trickle a
// body) against obs with 1,024 file descriptors: /health keeps answering.
func TestSecuritySlowClientFlood(t *testing.T) {
	s := newServerVia(t, []string{"bash", "-c", `ulimit -n 1024 && exec "$0" "$@"`})
	var conns []net.Conn
	var mu sync.Mutex
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dialErrs := 0
	for i := 0; i < 1100; i++ {
		c, err := net.DialTimeout("tcp", s.http, 2*time.Second)
		if err != nil {
			dialErrs++
			continue
		}
		if i%2 == 0 {
			fmt.Fprintf(c, "GET /api/services HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		} else {
			fmt.Fprintf(c, "POST /api/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n{")
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	stop := make(chan struct{})
	go func() { // keep trickling
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			mu.Lock()
			for _, c := range conns {
				c.Write([]byte(" "))
			}
			mu.Unlock()
		}
	}()
	defer close(stop)
	cl := &http.Client{Timeout: 5 * time.Second}
	var worst time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		resp, err := cl.Get(s.url() + "/health")
		if err != nil {
			t.Fatalf("/health under a flood of %d slow clients: %v", len(conns), err)
		}
		resp.Body.Close()
		worst = max(worst, time.Since(t0))
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", s.cmd.Process.Pid)); err != nil {
		t.Fatal("obs died under the flood")
	}
	t.Logf("figures: %d slow clients (%d refused at dial) against obs with 1,024 descriptors: /health answered 5 of 5, slowest %v",
		len(conns), dialErrs, worst.Round(time.Millisecond))
}
