// Package budget keeps everything obs stores under one disk bound, all
// signals together, as Prometheus's --storage.tsdb.retention.size does for
// one: when over it, the oldest partitions go first, across signals by
// the age of their newest data, so that every signal keeps about the same
// window of time. It also keeps free space on the filesystem, so that obs
// never fills the disk it runs on. Retention by age stays each store's own.
package budget

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Unit is one removable piece of a signal's data: a day of logs, a
// partition of spans, a TSDB block.
type Unit struct {
	Name   string
	Newest time.Time // its newest data
	Bytes  int64
}

// Signal is one store as the budget sees it.
type Signal struct {
	Name string
	// Units lists the removable pieces.
	Units func() []Unit
	// Bytes is everything the store holds on disk, removable or not
	// (heads, WALs).
	Bytes func() int64
	// RemoveBefore removes every piece whose newest data is older than t
	// and returns what it removed (or scheduled for removal).
	RemoveBefore func(t time.Time, reason string) []string
}

// Budget enforces the bound.
type Budget struct {
	Max     int64 // bytes, all signals together
	Signals []Signal
	// Free reports the filesystem's free bytes (nil: not watched).
	Free func() (int64, error)
	// Reserve is the free space kept on the filesystem: the budget shrinks
	// to keep it (default: the smaller of 1 GiB and 5% of FSSize).
	Reserve int64
	// FSSize is the filesystem's size, for the default reserve.
	FSSize int64
	// Recent is how much of the newest data is never removed, whatever
	// the budget (default 1h): a budget too small to hold it is reported.
	Recent time.Duration
	Log    *slog.Logger

	mu       sync.Mutex
	removed  map[string]int // units removed, by signal
	over     atomic.Pointer[string]
	lastUsed atomic.Int64
}

// Enforce measures once and removes what is needed: the oldest units across
// all signals until the total is back under 95% of the bound.
func (b *Budget) Enforce(now time.Time) {
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	recent := b.Recent
	if recent <= 0 {
		recent = time.Hour
	}
	var total int64
	type cand struct {
		sig  int
		unit Unit
	}
	var cands []cand
	for i, s := range b.Signals {
		total += s.Bytes()
		for _, u := range s.Units() {
			cands = append(cands, cand{i, u})
		}
	}
	b.lastUsed.Store(total)
	limit := b.Max
	if b.Free != nil {
		reserve := b.Reserve
		if reserve <= 0 {
			reserve = 1 << 30
			if b.FSSize > 0 {
				reserve = min(reserve, b.FSSize/20)
			}
		}
		if free, err := b.Free(); err == nil && free < reserve {
			// The filesystem is filling up (obs or something else): give
			// back what keeps the reserve free, down to what obs holds now
			// minus the shortfall.
			limit = max(0, min(limit, total-(reserve-free)))
		}
	}
	if total <= limit {
		b.over.Store(nil)
		return
	}
	target := limit * 95 / 100
	sort.Slice(cands, func(i, j int) bool { return cands[i].unit.Newest.Before(cands[j].unit.Newest) })
	var cut time.Time
	freed := int64(0)
	for _, c := range cands {
		if total-freed <= target || c.unit.Newest.After(now.Add(-recent)) {
			break
		}
		freed += c.unit.Bytes
		cut = c.unit.Newest.Add(time.Millisecond)
	}
	if total-freed > limit && limit < b.Max {
		msg := fmt.Sprintf("the filesystem is nearly full: obs removed its oldest data down to %d MiB and keeps at least the last %s of every signal",
			(total-freed)>>20, recent)
		b.over.Store(&msg)
		log.Error("disk budget", "problem", msg)
	} else if total-freed > limit {
		msg := fmt.Sprintf("disk budget %d MiB is too small: obs holds %d MiB and keeps at least the last %s of every signal",
			limit>>20, (total-freed)>>20, recent)
		b.over.Store(&msg)
		log.Error("disk budget", "problem", msg)
	} else {
		b.over.Store(nil)
	}
	if cut.IsZero() {
		return
	}
	reason := fmt.Sprintf("disk budget (%d MiB used, bound %d MiB)", total>>20, limit>>20)
	for _, s := range b.Signals {
		gone := s.RemoveBefore(cut, reason)
		if len(gone) == 0 {
			continue
		}
		b.mu.Lock()
		if b.removed == nil {
			b.removed = map[string]int{}
		}
		b.removed[s.Name] += len(gone)
		b.mu.Unlock()
		log.Warn("disk budget: removed the oldest data", "signal", s.Name, "partitions", gone, "older_than", cut.Format(time.RFC3339),
			"used_mib", total>>20, "bound_mib", limit>>20)
	}
}

// Run enforces the budget every period until ctx ends.
func (b *Budget) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	b.Enforce(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.Enforce(now)
		}
	}
}

// Problem is why the budget cannot be met, "" when it is.
func (b *Budget) Problem() string {
	if p := b.over.Load(); p != nil {
		return *p
	}
	return ""
}

// Collectors exports the bound, the use and what was removed.
func (b *Budget) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_disk_budget_bytes", Help: "The disk bound for all signals (--max-disk)."},
			func() float64 { return float64(b.Max) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_disk_used_bytes", Help: "Bytes obs held on disk at the last budget check."},
			func() float64 { return float64(b.lastUsed.Load()) }),
		&removedCollector{b: b, desc: prometheus.NewDesc("obs_disk_budget_removed_total",
			"Partitions (log days, span partitions, TSDB blocks) removed to stay under the disk budget, by signal.", []string{"signal"}, nil)},
	}
}

type removedCollector struct {
	b    *Budget
	desc *prometheus.Desc
}

func (c *removedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *removedCollector) Collect(ch chan<- prometheus.Metric) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	for _, s := range c.b.Signals {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.b.removed[s.Name]), s.Name)
	}
}
