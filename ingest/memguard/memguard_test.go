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

// While obs allocates slowly the GC may let max(16 MiB, a sixteenth of the
// live heap) of garbage pile up, under load max(64 MiB, a quarter): the
// default GOGC for small heaps, lower for large ones, back up when the heap
// shrinks, and never over a GOGC the user set.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	g := &Guard{}
	g.gcPct.Store(gcDefault)
	check := func(mode string, cases []struct{ live, want int64 }) {
		t.Helper()
		for _, s := range cases {
			g.tuneGC(s.live << 20)
			if got := debug.SetGCPercent(-1); got != int(s.want) {
				t.Errorf("%s, live %d MiB: GOGC %d, want %d", mode, s.live, got, s.want)
			}
			debug.SetGCPercent(int(g.gcPct.Load()))
		}
	}
	check("quiet", []struct{ live, want int64 }{{10, 100}, {16, 100}, {32, 50}, {100, 16}, {128, 12}, {256, 6}, {1024, 6}, {20, 80}})
	g.busy.Store(true)
	check("busy", []struct{ live, want int64 }{{10, 100}, {64, 100}, {100, 64}, {128, 50}, {200, 32}, {256, 25}, {1024, 25}, {32, 100}})
	g.userGOGC = true
	debug.SetGCPercent(200)
	g.tuneGC(1 << 30)
	if got := debug.SetGCPercent(200); got != 200 {
		t.Errorf("GOGC set by the user: changed to %d", got)
	}
}

// The mode follows the smoothed allocation rate, with a gap between the
// two thresholds: a short burst does not flip it, a sustained load does,
// and it comes back only well under the threshold.
func TestAllocRateMode(t *testing.T) {
	g := &Guard{}
	now := time.Unix(1000, 0)
	var total uint64
	feed := func(rate float64, d time.Duration) {
		for end := now.Add(d); now.Before(end); {
			now = now.Add(100 * time.Millisecond)
			total += uint64(rate / 10)
			g.noteAllocs(total, now)
		}
	}
	feed(8<<20, time.Minute) // the soak's trickle
	if g.busy.Load() {
		t.Fatalf("busy at 8 MB/s (smoothed %.0f)", g.allocRate)
	}
	feed(400<<20, 500*time.Millisecond) // one large query
	if g.busy.Load() {
		t.Fatalf("a half-second burst made it busy (smoothed %.0f)", g.allocRate)
	}
	feed(300<<20, 30*time.Second) // a benchmark
	if !g.busy.Load() {
		t.Fatalf("not busy at 300 MB/s (smoothed %.0f)", g.allocRate)
	}
	feed(24<<20, time.Minute) // between the thresholds: stays busy
	if !g.busy.Load() {
		t.Fatal("left busy between the thresholds")
	}
	feed(4<<20, time.Minute)
	if g.busy.Load() {
		t.Fatalf("still busy at 4 MB/s (smoothed %.0f)", g.allocRate)
	}
}
