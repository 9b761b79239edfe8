// Package promql runs PromQL with the upstream engine
// (github.com/prometheus/prometheus/promql) over obs's TSDB.
package promql

import (
	"context"
	"fmt"
	"runtime"
	"time"

	upstream "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Engine evaluates PromQL over one Queryable.
type Engine struct {
	q  storage.Queryable
	ng *upstream.Engine
}

// New returns an engine over q, whose series it decodes on all cores
// (prefetch.go).
func New(q storage.Queryable) *Engine { return newEngine(q, runtime.GOMAXPROCS(0)) }

// newEngine decodes series with workers goroutines ahead of the engine;
// none: the engine reads q itself.
func newEngine(q storage.Queryable, workers int) *Engine {
	// The prefetcher relies on every query using the engine's lookback:
	// queries here never set their own (QueryOpts stay nil).
	const lookback = 5 * time.Minute
	return &Engine{q: newPrefetchQueryable(q, workers, lookback), ng: upstream.NewEngine(upstream.EngineOpts{
		MaxSamples: 50_000_000, Timeout: 2 * time.Minute, LookbackDelta: lookback,
		EnableAtModifier: true, EnableNegativeOffset: true,
	})}
}

// Instant prepares an instant query at ts.
func (e *Engine) Instant(ctx context.Context, expr string, ts time.Time) (upstream.Query, error) {
	return e.ng.NewInstantQuery(ctx, e.q, nil, expr, ts)
}

// Range prepares a range query.
func (e *Engine) Range(ctx context.Context, expr string, start, end time.Time, step time.Duration) (upstream.Query, error) {
	return e.ng.NewRangeQuery(ctx, e.q, nil, expr, start, end, step)
}

// Values evaluates expr over the last window (step 15s) and returns each
// series' values, for checks that compare them to a threshold.
func (e *Engine) Values(ctx context.Context, expr string, window time.Duration) ([][]float64, error) {
	end := time.Now()
	q, err := e.Range(ctx, expr, end.Add(-window), end, 15*time.Second)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case upstream.Matrix:
		out := make([][]float64, 0, len(v))
		for _, s := range v {
			vals := make([]float64, 0, len(s.Floats))
			for _, p := range s.Floats {
				vals = append(vals, p.F)
			}
			out = append(out, vals)
		}
		return out, nil
	case upstream.Scalar:
		return [][]float64{{v.V}}, nil
	}
	return nil, fmt.Errorf("unexpected PromQL result %s", res.Value.Type())
}
