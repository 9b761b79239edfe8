package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The HTTP API takes since as the CLI's --since does; an API user who
// sends it must not get the default 15 minutes instead.
func TestTimeRangeSince(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	r := httptest.NewRequest("GET", "/api/logs/histogram?q=x&since=2h", nil)
	rng, err := timeRange(r, now)
	if err != nil {
		t.Fatal(err)
	}
	if !rng.From.Equal(now.Add(-2*time.Hour)) || !rng.To.Equal(now) {
		t.Fatalf("since=2h: %v .. %v", rng.From, rng.To)
	}
	r = httptest.NewRequest("GET", "/api/logs/search?since=7d", nil)
	if rng, err = timeRange(r, now); err != nil || !rng.From.Equal(now.Add(-7*24*time.Hour)) {
		t.Fatalf("since=7d: %v %v", rng.From, err)
	}
	for _, bad := range []string{"since=2h&from=now-1h", "since=soon", "since=-5m"} {
		r = httptest.NewRequest("GET", "/api/logs/search?"+bad, nil)
		if _, err := timeRange(r, now); err == nil || !strings.Contains(err.Error(), "since") {
			t.Errorf("%s: want an error naming since, got %v", bad, err)
		}
	}
}

// The profiles answer the CLI and curl, never another site's page.
func TestPprofRefusesCrossSite(t *testing.T) {
	h := New(Deps{}).mux
	r := httptest.NewRequest("GET", "/debug/pprof/cmdline", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("from a tool: %d", w.Code)
	}
	r = httptest.NewRequest("GET", "/debug/pprof/profile?seconds=600", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Fatalf("from another site: %d", w.Code)
	}
}
