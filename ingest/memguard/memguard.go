// Package memguard keeps obs under a memory bound: it sets the Go runtime's
// soft limit and tells the UDP listeners to shed input while the heap is
// near the bound, so that an overload costs dropped (and counted) datagrams
// instead of the process.
package memguard

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Guard watches heap use against Limit.
type Guard struct {
	Limit    int64 // bytes
	shedding atomic.Bool
	sheds    atomic.Int64
	heap     atomic.Int64
}

// Start sets the runtime's memory limit and samples the heap until ctx ends.
func (g *Guard) Start(ctx context.Context) {
	if g.Limit <= 0 {
		return
	}
	debug.SetMemoryLimit(g.Limit)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			metrics.Read(sample)
			heap := int64(sample[0].Value.Uint64())
			g.heap.Store(heap)
			// Shed above 80% of the bound, resume below 60%: the gap keeps
			// it from flapping on every GC cycle.
			switch {
			case heap > g.Limit*8/10:
				g.shedding.Store(true)
			case heap < g.Limit*6/10:
				g.shedding.Store(false)
			}
		}
	}()
}

// Shed reports whether input should be dropped now, and counts it if so.
func (g *Guard) Shed() bool {
	if g == nil || !g.shedding.Load() {
		return false
	}
	g.sheds.Add(1)
	return true
}

// Shedding reports the state without counting (health).
func (g *Guard) Shedding() bool { return g != nil && g.shedding.Load() }

// Collectors exports the guard's state.
func (g *Guard) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_memory_shed_total", Help: "Datagrams dropped because the heap was near --max-memory."},
			func() float64 { return float64(g.sheds.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_memory_limit_bytes", Help: "The --max-memory bound."},
			func() float64 { return float64(g.Limit) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_memory_heap_bytes", Help: "Heap in use, as the guard last saw it."},
			func() float64 { return float64(g.heap.Load()) }),
	}
}
