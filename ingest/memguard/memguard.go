// Package memguard keeps obs under a memory bound. It sets the Go runtime's
// soft limit and, only when the live heap really nears the bound, tells
// every intake to shed: UDP listeners drop datagrams (counted), HTTP intakes
// answer 503 with Retry-After (clients retry), TCP listeners stop reading
// (backpressure). Shedding stops by itself as soon as the live heap is back
// under a low-water mark, and the state is loud while it lasts.
package memguard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Water marks, as fractions of the Go runtime's share of Limit. The live
// heap (what the last GC found reachable) decides, not the heap including
// garbage: with a soft limit set, garbage piles up to the limit between
// GCs, and a guard that watched it shed forever once the load was gone.
const (
	highWater = 0.80 // start shedding above this live heap
	lowWater  = 0.60 // stop below this
	// runtimeShare of Limit is the Go runtime's soft limit until the
	// memory the runtime does not count (mapped index and chunk files, the
	// binary's pages) has been measured; then the runtime gets Limit minus
	// that, so that RSS, not only the heap, stays under Limit.
	runtimeShare = 0.85
)

// Guard watches the live heap against Limit.
type Guard struct {
	Limit int64 // bytes; 0 disables the guard
	Log   *slog.Logger
	// Every is the sampling period (default 100 ms).
	Every time.Duration

	shedding atomic.Bool
	since    atomic.Int64 // unix nanoseconds shedding began
	live     atomic.Int64
	mapped   atomic.Int64
	goLimit  atomic.Int64 // the runtime's soft limit now
	gcPct    atomic.Int64 // the GOGC tuneGC set
	busy     atomic.Bool  // allocating fast: the larger GC headroom
	// allocation rate, smoothed (bytes/s), from the last reading
	allocRate   float64
	lastAllocs  uint64
	lastAllocAt time.Time
	userGOGC    bool // GOGC set in the environment: the user's choice stands

	mu      sync.Mutex
	dropped map[string]*atomic.Int64 // by intake
}

// Start sets the runtime's memory limit and samples until ctx ends.
func (g *Guard) Start(ctx context.Context) {
	if g.Limit <= 0 {
		return
	}
	every := g.Every
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	g.goLimit.Store(int64(float64(g.Limit) * runtimeShare))
	g.gcPct.Store(gcDefault)
	g.userGOGC = os.Getenv("GOGC") != ""
	debug.SetMemoryLimit(g.goLimit.Load())
	go g.run(ctx, every)
}

func (g *Guard) run(ctx context.Context, every time.Duration) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var lastGC, lastLog, lastFit time.Time
	nextScavenge := time.Now().Add(scavengeWait())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if g.shedding.Load() && now.Sub(lastGC) >= time.Second {
			// While shedding, collect and hand memory back now rather than
			// wait for allocation to trigger a GC: with input shed there
			// is little allocation, and the live figure would go stale.
			debug.FreeOSMemory()
			lastGC = now
		}
		metrics.Read(samples)
		live := int64(samples[0].Value.Uint64())
		g.live.Store(live)
		goMapped := int64(samples[1].Value.Uint64() - samples[2].Value.Uint64())
		g.mapped.Store(goMapped)
		if rss, ok := residentBytes(); ok && now.Sub(lastFit) >= time.Second {
			g.fit(rss - goMapped)
			lastFit = now
		}
		g.update(live, now)
		g.noteAllocs(samples[4].Value.Uint64(), now)
		g.tuneGC(live)
		// The runtime keeps freed heap pages mapped, up to about its heap
		// goal, and returns them slowly: after each GC cycle a daemon's RSS
		// sits near the goal, not the live heap. Handing free pages back
		// every half minute (one extra collection, tens of milliseconds)
		// keeps RSS near what is in use.
		if free := int64(samples[3].Value.Uint64()); free > scavengeOver && !now.Before(nextScavenge) {
			debug.FreeOSMemory()
			nextScavenge = now.Add(scavengeWait())
		}
		if g.shedding.Load() && now.Sub(lastLog) >= time.Minute {
			g.logger().Warn("memory bound reached: shedding input", "detail", g.Detail())
			lastLog = now
		}
	}
}

func (g *Guard) logger() *slog.Logger {
	if g.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Log
}

// fit gives the Go runtime what the bound leaves after the memory it does
// not count (never less than half the bound: mapped file pages are
// reclaimable by the kernel anyway).
func (g *Guard) fit(notGo int64) {
	want := max(g.Limit-notGo-g.Limit/20, g.Limit/2)
	if d := want - g.goLimit.Load(); d > g.Limit/50 || -d > g.Limit/50 {
		g.goLimit.Store(want)
		debug.SetMemoryLimit(want)
	}
}

// residentBytes is the process's RSS (Linux).
func residentBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// GC headroom: how much garbage the runtime may let pile up over the live
// heap before it collects. Go's default (GOGC=100) lets the heap double,
// and the runtime keeps what it grew to: a daemon whose live heap grows
// slowly with what it stores (TSDB series, caches filling) shows twice
// that growth in RSS. So the headroom is a constant while the heap is
// small, and RSS grows only as much as the live heap does; a share of the
// live heap only once the heap is large, so that the GC does not run all
// the time.
//
// Which constant depends on how fast obs allocates. A dev box's trickle
// (a soak at ~1,000 log events, 2,000 StatsD metrics and 500 spans a
// second allocates ~7 MB/s) is "quiet": 16 MiB of headroom is a GC every
// 2-3 s, each marking ~100 MB of live heap for ~20 ms of CPU (gctrace),
// under 1% of a core, and RSS sits within 16 MiB of the live heap. With 64
// MiB, RSS swung ±30 MB around each GC and each hand-back of free pages,
// so a 30-minute RSS slope read anywhere in 40-70 MB/h for one binary.
// Under a benchmark's load (hundreds of MB/s) 16 MiB would be dozens of
// GCs a second, so above busyRate the headroom is the larger of 64 MiB
// and a quarter of the live heap, as before. The rate is smoothed over
// rateTau and the two modes have a gap between them (busyRate/2 to
// busyRate), so a query's burst does not flip them and a steady load
// keeps one constant.
const (
	quietFloor  = 16 << 20
	quietMinPct = 6 // a sixteenth of the live heap: constant headroom up to 256 MiB of it
	busyFloor   = 64 << 20
	busyMinPct  = 25
	gcDefault   = 100
	busyRate    = 32 << 20 // bytes allocated per second
	rateTau     = 10 * time.Second
)

// Free heap pages over scavengeOver are handed back to the OS about every
// scavengeEvery, at a random point of a window that wide: RSS drops at
// each hand-back and climbs again as the heap refills, and at a fixed 30 s
// that sawtooth can alias with anything sampling RSS every 15 s (a
// Prometheus scrape, the soak's sampler): two such samplers on one
// 60-minute soak saw 69 and 43 MB/h; with the random point, 62.5 and 60.5.
const (
	scavengeOver  = 32 << 20
	scavengeEvery = 30 * time.Second
)

func scavengeWait() time.Duration {
	return scavengeEvery/2 + rand.N(scavengeEvery)
}

// noteAllocs smooths the allocation rate from the runtime's cumulative
// count and switches between the quiet and busy headroom.
func (g *Guard) noteAllocs(total uint64, now time.Time) {
	if g.lastAllocAt.IsZero() || total < g.lastAllocs {
		g.lastAllocs, g.lastAllocAt = total, now
		return
	}
	dt := now.Sub(g.lastAllocAt)
	if dt <= 0 {
		return
	}
	inst := float64(total-g.lastAllocs) / dt.Seconds()
	g.lastAllocs, g.lastAllocAt = total, now
	g.allocRate += (inst - g.allocRate) * min(1, float64(dt)/float64(rateTau))
	switch {
	case !g.busy.Load() && g.allocRate > busyRate:
		g.busy.Store(true)
	case g.busy.Load() && g.allocRate < busyRate/2:
		g.busy.Store(false)
	}
}

// tuneGC sets GOGC so that the next GC comes after the mode's headroom:
// max(floor, live × minPct%), never more than GOGC=100.
func (g *Guard) tuneGC(live int64) {
	if live <= 0 || g.userGOGC {
		return
	}
	floor, minPct := int64(quietFloor), int64(quietMinPct)
	if g.busy.Load() {
		floor, minPct = busyFloor, busyMinPct
	}
	want := min(gcDefault, max(minPct, floor*100/live))
	if want != g.gcPct.Load() {
		g.gcPct.Store(want)
		debug.SetGCPercent(int(want))
	}
}

// update applies the water marks to one live-heap reading.
func (g *Guard) update(live int64, now time.Time) {
	budget := g.goLimit.Load()
	if budget <= 0 {
		budget = g.Limit
	}
	switch {
	case !g.shedding.Load() && float64(live) > float64(budget)*highWater:
		g.since.Store(now.UnixNano())
		g.shedding.Store(true)
	case g.shedding.Load() && float64(live) < float64(budget)*lowWater:
		g.shedding.Store(false)
		g.logger().Info("memory back under the bound: shedding stopped",
			"after", now.Sub(time.Unix(0, g.since.Load())).Round(time.Millisecond).String(), "dropped", g.droppedText())
	}
}

func (g *Guard) counter(intake string) *atomic.Int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dropped == nil {
		g.dropped = map[string]*atomic.Int64{}
	}
	c := g.dropped[intake]
	if c == nil {
		c = &atomic.Int64{}
		g.dropped[intake] = c
	}
	return c
}

// For returns one intake's shed check: true while shedding, and each true
// answer counts one item dropped by that intake. A nil Guard never sheds.
func (g *Guard) For(intake string) func() bool {
	if g == nil {
		return func() bool { return false }
	}
	c := g.counter(intake)
	return func() bool {
		if !g.shedding.Load() {
			return false
		}
		c.Add(1)
		return true
	}
}

// HTTP wraps an intake handler: while shedding, requests that send data
// (POST, PUT) are answered 503 with Retry-After so that clients retry;
// reads pass through.
func (g *Guard) HTTP(intake string, next http.Handler) http.Handler {
	shed := g.For(intake)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPost || r.Method == http.MethodPut) && shed() {
			// Read what the client is sending (into nothing): a client cut
			// off mid-body sees a reset, not the 503 telling it to retry.
			io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
			w.Header().Set("Retry-After", "2")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":"obs is at its memory bound (--max-memory): retry later"}`+"\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Wait blocks while shedding, until ctx ends: a TCP reader calls it before
// reading, so the sender is held back instead of losing data. It counts
// one wait per pause under intake.
func (g *Guard) Wait(ctx context.Context, intake string) {
	if g == nil || !g.shedding.Load() {
		return
	}
	g.counter(intake + "_paused").Add(1)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for g.shedding.Load() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shedding reports the state without counting (health).
func (g *Guard) Shedding() bool { return g != nil && g.shedding.Load() }

// Detail says, while shedding, since when, how much heap is live against
// the bound, and what each intake dropped.
func (g *Guard) Detail() string {
	since := time.Unix(0, g.since.Load()).UTC()
	return fmt.Sprintf("live heap %d MiB of the %d MiB bound (--max-memory): shedding input since %s (%s ago); dropped %s",
		g.live.Load()>>20, g.Limit>>20, since.Format(time.RFC3339), time.Since(since).Round(time.Second), g.droppedText())
}

func (g *Guard) droppedText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var parts []string
	for name, c := range g.dropped {
		if n := c.Load(); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, n))
		}
	}
	if len(parts) == 0 {
		return "nothing yet"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// Collectors exports the guard's state; obs_memory_shed_total is labelled
// by intake.
func (g *Guard) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		&shedCollector{g: g, desc: prometheus.NewDesc("obs_memory_shed_total",
			"Items dropped (UDP datagrams, HTTP requests answered 503) or TCP reads paused (intake *_paused) because the live heap neared --max-memory, by intake.",
			[]string{"intake"}, nil)},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_memory_shedding", Help: "1 while input is shed at the memory bound."},
			func() float64 {
				if g.Shedding() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_memory_limit_bytes", Help: "The --max-memory bound."},
			func() float64 { return float64(g.Limit) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_memory_heap_bytes", Help: "Live heap after the last GC, as the guard last saw it."},
			func() float64 { return float64(g.live.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_memory_go_mapped_bytes", Help: "Memory the Go runtime holds from the OS (not released)."},
			func() float64 { return float64(g.mapped.Load()) }),
	}
}

type shedCollector struct {
	g    *Guard
	desc *prometheus.Desc
}

func (c *shedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *shedCollector) Collect(ch chan<- prometheus.Metric) {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	for name, n := range c.g.dropped {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n.Load()), name)
	}
}

// Inflight bounds the bytes that HTTP intakes hold at once (bodies being
// read and decoded, before the store's own queue bound applies): without
// it, a few concurrent 16 MiB posts take hundreds of MiB whatever the
// queue bound says.
type Inflight struct {
	Max int64
	cur atomic.Int64
}

// TryAcquire reserves n bytes, or says no at once. One request may always
// go through alone, however large.
func (f *Inflight) TryAcquire(n int64) bool {
	if f == nil || f.Max <= 0 {
		return true
	}
	for {
		cur := f.cur.Load()
		if cur > 0 && cur+n > f.Max {
			return false
		}
		if f.cur.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// Release returns what TryAcquire reserved.
func (f *Inflight) Release(n int64) {
	if f != nil && f.Max > 0 {
		f.cur.Add(-n)
	}
}
