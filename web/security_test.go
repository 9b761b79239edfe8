package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The rules of Security, request by request: what a web page on another
// origin, a DNS-rebinding page, a local tool and obs's own UI can do.
func TestSecurityRules(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	sec := Security{Loopback: true, Intake: IntakePaths, AllowedHosts: []string{"obs.lan"}}
	h := sec.Wrap(ok)
	const self = "127.0.0.1:8000"
	cases := []struct {
		name, method, path, host string
		hdr                      map[string]string
		want                     int
	}{
		{"a tool reads", "GET", "/api/services", self, nil, 200},
		{"a tool acks with JSON", "POST", "/api/services/x/ack", self, map[string]string{"Content-Type": "application/json"}, 200},
		{"the UI acks (same origin)", "POST", "/api/services/x/ack", self, map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}, 200},
		{"a page elsewhere posts text/plain", "POST", "/api/alerts/test", self, map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"a page on another local port", "POST", "/api/checks/x/run", self, map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}, 403},
		{"a form post without Origin", "POST", "/api/services/x/ack", self, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"a cross-site delete", "DELETE", "/api/dashboards/x", self, map[string]string{"Origin": "http://evil.example"}, 403},
		{"DNS rebinding", "GET", "/api/logs/search", "evil.example:8000", nil, 403},
		{"rebinding to health", "GET", "/health", "evil.example", nil, 403},
		{"localhost", "GET", "/api/services", "localhost:8000", nil, 200},
		{"IPv6 loopback", "GET", "/api/services", "[::1]:8000", nil, 200},
		{"an allowed name", "GET", "/api/services", "obs.lan", nil, 200},
		{"a browser posts spans cross-origin (Zipkin's default)", "POST", "/api/v2/spans", self, map[string]string{"Content-Type": "text/plain", "Origin": "http://app.example", "Sec-Fetch-Site": "cross-site"}, 200},
		{"a page posts log events cross-site", "POST", "/api/logs", self, map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"a tool posts NDJSON logs", "POST", "/api/logs", self, map[string]string{"Content-Type": "application/x-ndjson"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader("{}"))
			r.Host = c.host
			for k, v := range c.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Fatalf("%s %s: %d, want %d (%s)", c.method, c.path, w.Code, c.want, w.Body.String())
			}
			if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("security headers missing")
			}
		})
	}
}

// CORS: the collector's preflight is answered for any origin; reads only
// for configured origins.
func TestSecurityCORS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	pre := func(sec Security, path, method string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("OPTIONS", path, nil)
		r.Host = "127.0.0.1:9411"
		r.Header.Set("Origin", "http://app.example")
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", "content-type")
		w := httptest.NewRecorder()
		sec.Wrap(ok).ServeHTTP(w, r)
		return w
	}
	sec := Security{Loopback: true, Intake: IntakePaths}
	if w := pre(sec, "/api/v2/spans", "POST"); w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("collector preflight: %d %v", w.Code, w.Header())
	}
	if w := pre(sec, "/api/v2/traces", "GET"); w.Code != 403 {
		t.Fatalf("cross-origin read allowed by default: %d", w.Code)
	}
	sec.ReadOrigins = []string{"http://app.example"}
	if w := pre(sec, "/api/v2/traces", "GET"); w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Fatalf("configured cross-origin read: %d %v", w.Code, w.Header())
	}
}

// With a token: the collector stays open on loopback, reads need it, and
// off loopback the collector needs it too.
func TestSecurityTokenAndIntake(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	do := func(sec Security, method, path string) int {
		r := httptest.NewRequest(method, path, strings.NewReader("[]"))
		r.Host = "127.0.0.1:9411"
		w := httptest.NewRecorder()
		sec.Wrap(ok).ServeHTTP(w, r)
		return w.Code
	}
	loop := Security{Token: "t", Loopback: true, Intake: IntakePaths}
	if c := do(loop, "POST", "/api/v2/spans"); c != 200 {
		t.Fatalf("loopback collector with a token set: %d", c)
	}
	if c := do(loop, "GET", "/api/v2/services"); c != 401 {
		t.Fatalf("Zipkin read without the token: %d", c)
	}
	open := Security{Token: "t", Intake: IntakePaths}
	if c := do(open, "POST", "/api/v2/spans"); c != 401 {
		t.Fatalf("non-loopback collector without the token: %d", c)
	}
}
