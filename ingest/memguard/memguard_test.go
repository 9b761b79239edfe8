package memguard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestWaterMarks(t *testing.T) {
	g := &Guard{Limit: 1000}
	now := time.Now()
	steps := []struct {
		live int64
		want bool
	}{{500, false}, {790, false}, {810, true}, {700, true}, {610, true}, {590, false}, {700, false}, {900, true}}
	for i, s := range steps {
		g.update(s.live, now)
		if g.Shedding() != s.want {
			t.Fatalf("step %d: live %d: shedding %v, want %v", i, s.live, g.Shedding(), s.want)
		}
	}
}

// Every kind of intake sheds while the guard does, and only then: UDP
// checks drop and count, HTTP posts get 503 + Retry-After (reads pass), TCP
// readers wait until shedding stops.
func TestEveryIntakeSheds(t *testing.T) {
	g := &Guard{Limit: 1000}
	udp := g.For("logs_udp")
	h := g.HTTP("logs_http", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	post := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/api/logs", strings.NewReader(`{"a":1}`)))
		return w
	}
	if udp() || post().Code != http.StatusAccepted {
		t.Fatal("shed below the bound")
	}
	g.update(900, time.Now())
	if !udp() || !udp() {
		t.Fatal("UDP not shed at the bound")
	}
	w := post()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("HTTP at the bound: %d %v", w.Code, w.Header())
	}
	get := httptest.NewRecorder()
	h.ServeHTTP(get, httptest.NewRequest("GET", "/api/v2/services", nil))
	if get.Code != http.StatusAccepted {
		t.Fatal("a read was shed")
	}
	waited := make(chan struct{})
	go func() { g.Wait(context.Background(), "logs_tcp"); close(waited) }()
	select {
	case <-waited:
		t.Fatal("TCP reader not held back")
	case <-time.After(100 * time.Millisecond):
	}
	g.update(100, time.Now())
	select {
	case <-waited:
	case <-time.After(2 * time.Second):
		t.Fatal("TCP reader still held after shedding stopped")
	}
	if udp() || post().Code != http.StatusAccepted {
		t.Fatal("still shedding below the low-water mark")
	}
	d := g.Detail()
	for _, want := range []string{"logs_udp 2", "logs_http 1", "logs_tcp_paused 1", "shedding input since"} {
		if !strings.Contains(d, want) {
			t.Fatalf("detail %q lacks %q", d, want)
		}
	}
}

func TestInflight(t *testing.T) {
	f := &Inflight{Max: 100}
	if !f.TryAcquire(500) {
		t.Fatal("a lone request larger than the bound must pass")
	}
	if f.TryAcquire(1) {
		t.Fatal("over the bound")
	}
	f.Release(500)
	if !f.TryAcquire(60) || f.TryAcquire(60) || !f.TryAcquire(40) {
		t.Fatal("accounting")
	}
}

// The GC may let max(64 MiB, a quarter of the live heap) of garbage pile
// up: the default GOGC for small heaps, down to 25 for large ones, back up when
// the heap shrinks, and never over a GOGC the user set.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	g := &Guard{}
	g.gcPct.Store(gcDefault)
	for _, s := range []struct {
		live int64
		want int
	}{{10 << 20, 100}, {64 << 20, 100}, {100 << 20, 64}, {102 << 20, 64}, {128 << 20, 50}, {200 << 20, 32}, {256 << 20, 25}, {1 << 30, 25}, {32 << 20, 100}} {
		g.tuneGC(s.live)
		if got := debug.SetGCPercent(-1); got != s.want {
			t.Errorf("live %d MiB: GOGC %d, want %d", s.live>>20, got, s.want)
		}
		debug.SetGCPercent(int(g.gcPct.Load()))
	}
	g.userGOGC = true
	debug.SetGCPercent(200)
	g.tuneGC(1 << 30)
	if got := debug.SetGCPercent(200); got != 200 {
		t.Errorf("GOGC set by the user: changed to %d", got)
	}
}
