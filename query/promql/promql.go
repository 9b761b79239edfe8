// Package promql runs PromQL with the upstream engine
// (github.com/prometheus/prometheus/promql) over obs's TSDB, and defines
// the shape of an answer (Data, Error) as the Prometheus HTTP API gives
// it, which a remote engine's API answers in too.
package promql

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	upstream "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Data is the "data" of a successful /api/v1/query(_range) answer. Result
// is Go values from the embedded engine, raw JSON from a remote one.
type Data struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

// Error is a failed query in the API's terms: errorType (bad_data,
// execution, timeout, canceled, unavailable...) and the HTTP status.
type Error struct {
	Type   string
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

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

// Instant evaluates expr at ts.
func (e *Engine) Instant(ctx context.Context, expr string, ts time.Time) (Data, error) {
	q, err := e.ng.NewInstantQuery(ctx, e.q, nil, expr, ts)
	return e.run(ctx, q, err)
}

// Range evaluates expr from start to end every step.
func (e *Engine) Range(ctx context.Context, expr string, start, end time.Time, step time.Duration) (Data, error) {
	q, err := e.ng.NewRangeQuery(ctx, e.q, nil, expr, start, end, step)
	return e.run(ctx, q, err)
}

// run executes q and formats its value before Close recycles its points.
func (e *Engine) run(ctx context.Context, q upstream.Query, err error) (Data, error) {
	if err != nil {
		return Data{}, &Error{Type: "bad_data", Status: http.StatusBadRequest, Err: err}
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return Data{}, &Error{Type: "execution", Status: http.StatusUnprocessableEntity, Err: res.Err}
	}
	return Format(res.Value), nil
}

// Values evaluates expr over the last window (step 15s) and returns each
// series' values, for checks that compare them to a threshold.
func (e *Engine) Values(ctx context.Context, expr string, window time.Duration) ([][]float64, error) {
	end := time.Now()
	q, err := e.ng.NewRangeQuery(ctx, e.q, nil, expr, end.Add(-window), end, 15*time.Second)
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

// ErrorOf classifies err for the API: an *Error's own type and status, else
// an internal error.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Type: "internal", Status: http.StatusInternalServerError, Err: err}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func labelMap(ls labels.Labels) map[string]string {
	m := map[string]string{}
	ls.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return m
}

// Format is a value as the Prometheus API's "data".
func Format(v parser.Value) Data {
	switch t := v.(type) {
	case upstream.Vector:
		res := []map[string]any{}
		for _, s := range t {
			res = append(res, map[string]any{"metric": labelMap(s.Metric), "value": []any{float64(s.T) / 1000, fmtFloat(s.F)}})
		}
		return Data{"vector", res}
	case upstream.Matrix:
		res := []map[string]any{}
		for _, s := range t {
			vals := [][]any{}
			for _, p := range s.Floats {
				vals = append(vals, []any{float64(p.T) / 1000, fmtFloat(p.F)})
			}
			res = append(res, map[string]any{"metric": labelMap(s.Metric), "values": vals})
		}
		return Data{"matrix", res}
	case upstream.Scalar:
		return Data{"scalar", []any{float64(t.T) / 1000, fmtFloat(t.V)}}
	case upstream.String:
		return Data{"string", []any{float64(t.T) / 1000, t.V}}
	}
	return Data{"unknown", nil}
}
