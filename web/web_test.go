package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/store/logs"
)

func newTestServer(t *testing.T, token string) *httptest.Server {
	st, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := New(Deps{Logs: st, Tail: NewTailHub(), Registry: prometheus.NewRegistry(), Health: NewHealth(),
		Security:   Security{Token: token, Loopback: true, Intake: IntakePaths},
		LogsIntake: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func TestAuthToken(t *testing.T) {
	ts := newTestServer(t, "s3cret")
	get := func(path string, hdr map[string]string) int {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/api/logs/search?q=", nil); c != 401 {
		t.Fatalf("no token: %d", c)
	}
	if c := get("/", nil); c != 401 {
		t.Fatalf("UI without token: %d", c)
	}
	if c := get("/api/logs/search?q=", map[string]string{"Authorization": "Bearer s3cret"}); c != 200 {
		t.Fatalf("bearer: %d", c)
	}
	if c := get("/api/logs/search?q=", map[string]string{"Authorization": "Bearer wrong"}); c != 401 {
		t.Fatalf("wrong bearer: %d", c)
	}
	if c := get("/?token=s3cret", nil); c != 200 {
		t.Fatalf("token link: %d", c)
	}
	if c := get("/api/logs/search?q=", map[string]string{"Cookie": "obs_token=s3cret"}); c != 200 {
		t.Fatalf("cookie: %d", c)
	}
	if c := get("/health", nil); c != 200 {
		t.Fatalf("health must stay open for probes: %d", c)
	}
}

func TestTailChecksOrigin(t *testing.T) {
	ts := newTestServer(t, "")
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/logs/tail?q="
	d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	if _, resp, err := d.Dial(u, http.Header{"Origin": {"http://evil.example"}}); err == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin websocket accepted: %v", err)
	}
	c, _, err := d.Dial(u, http.Header{"Origin": {ts.URL}})
	if err != nil {
		t.Fatalf("same-origin websocket refused: %v", err)
	}
	c.Close()
}

func TestGraphiteTime(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for in, want := range map[string]int64{"now": 1700000000, "-1h": 1700000000 - 3600, "-15min": 1700000000 - 900, "1699990000": 1699990000, "20231114": 1699920000} {
		if got, err := GraphiteTime(in, now); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := GraphiteTime("-1fortnight", now); err == nil {
		t.Error("bad unit accepted")
	}
}
