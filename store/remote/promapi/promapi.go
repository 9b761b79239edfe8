// Package promapi reads metrics back from a remote engine through the
// Prometheus HTTP query API (/api/v1/query, query_range, series, labels,
// label/<name>/values), which Prometheus, Thanos Query, Mimir, Cortex and
// VictoriaMetrics (single node and vmselect) all serve. It is the remote
// twin of the embedded store for obs's query side: PromQL is evaluated by
// the engine; Graphite targets are evaluated by obs over raw samples the
// engine returns for a range selector (m[d] at an instant gives the raw
// samples in (t-d, t] on every one of those engines).
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/obs-dev/obs/query/promql"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/remote/endpoint"
)

// maxAnswer bounds what is read of one answer.
const maxAnswer = 512 << 20

// Client talks to one engine's query API.
type Client struct {
	ep *endpoint.Endpoint
}

// New returns a client for the API under c.URL (the part before /api/v1).
func New(c endpoint.Config) (*Client, error) {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	ep, err := endpoint.New(c)
	if err != nil {
		return nil, fmt.Errorf("metrics query url: %w", err)
	}
	return &Client{ep: ep}, nil
}

// String names the engine without credentials.
func (c *Client) String() string { return c.ep.String() }

// answer is the API's envelope.
type answer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// call GETs path?form and returns the answer's data (GET: every engine
// and proxy takes it; a Graphite glob's selector is short). Errors are
// *promql.Error: the engine's own type and status, or "unavailable" (503)
// when it cannot be reached.
func (c *Client) call(ctx context.Context, path string, form url.Values) (json.RawMessage, error) {
	u := c.ep.URL(path)
	u.RawQuery = form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &promql.Error{Type: "internal", Status: 500, Err: c.ep.Errorf("metrics engine", err)}
	}
	return c.do(ctx, req)
}

// do sends req and unwraps the API's envelope.
func (c *Client) do(ctx context.Context, req *http.Request) (json.RawMessage, error) {
	c.ep.Authorize(req)
	resp, err := c.ep.Client.Do(req)
	if err != nil {
		status, typ := http.StatusServiceUnavailable, "unavailable"
		if ctx.Err() != nil {
			status, typ = 499, "canceled"
		}
		return nil, &promql.Error{Type: typ, Status: status, Err: c.ep.Errorf("metrics engine", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, &promql.Error{Type: "unavailable", Status: http.StatusBadGateway, Err: c.ep.Errorf("metrics engine: read answer", err)}
	}
	if len(body) > maxAnswer {
		return nil, &promql.Error{Type: "execution", Status: http.StatusUnprocessableEntity,
			Err: fmt.Errorf("metrics engine %s: answer over %d MiB; narrow the query", c.ep, maxAnswer>>20)}
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || (a.Status != "success" && a.Status != "error") {
		snippet := string(body[:min(len(body), 200)])
		return nil, &promql.Error{Type: "unavailable", Status: http.StatusBadGateway,
			Err: c.ep.Errorf("metrics engine", fmt.Errorf("HTTP %s, not a Prometheus API answer: %q", resp.Status, snippet))}
	}
	if a.Status == "error" {
		status := resp.StatusCode
		if status/100 == 2 {
			status = http.StatusUnprocessableEntity
		}
		return nil, &promql.Error{Type: a.ErrorType, Status: status, Err: errors.New(c.ep.Redact(a.Error))}
	}
	return a.Data, nil
}

func secs(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) }

func unixSecs(t time.Time) string { return secs(t.UnixMilli()) }

// Instant runs expr at ts on the engine.
func (c *Client) Instant(ctx context.Context, expr string, ts time.Time) (promql.Data, error) {
	return c.query(ctx, "api/v1/query", url.Values{"query": {expr}, "time": {unixSecs(ts)}})
}

// Range runs expr from start to end every step on the engine.
func (c *Client) Range(ctx context.Context, expr string, start, end time.Time, step time.Duration) (promql.Data, error) {
	return c.query(ctx, "api/v1/query_range", url.Values{"query": {expr}, "start": {unixSecs(start)},
		"end": {unixSecs(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}})
}

func (c *Client) query(ctx context.Context, path string, form url.Values) (promql.Data, error) {
	raw, err := c.call(ctx, path, form)
	if err != nil {
		return promql.Data{}, err
	}
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return promql.Data{}, &promql.Error{Type: "unavailable", Status: http.StatusBadGateway, Err: fmt.Errorf("metrics engine %s: bad query answer: %w", c.ep, err)}
	}
	return promql.Data{ResultType: d.ResultType, Result: d.Result}, nil
}

// series is one element of a matrix or vector answer.
type series struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
	Value  [2]any            `json:"value"`
}

// point reads [unix seconds, "value"].
func point(p [2]any) (int64, float64, bool) {
	ts, ok := p[0].(float64)
	s, ok2 := p[1].(string)
	if !ok || !ok2 {
		return 0, 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, 0, false
	}
	return int64(math.Round(ts * 1000)), v, true
}

// Values runs expr over the last window (step 15s) and returns each
// series' values, for checks that compare them to a threshold.
func (c *Client) Values(ctx context.Context, expr string, window time.Duration) ([][]float64, error) {
	end := time.Now()
	d, err := c.Range(ctx, expr, end.Add(-window), end, 15*time.Second)
	if err != nil {
		return nil, err
	}
	raw, _ := d.Result.(json.RawMessage)
	switch d.ResultType {
	case "matrix":
		var ss []series
		if err := json.Unmarshal(raw, &ss); err != nil {
			return nil, fmt.Errorf("metrics engine %s: bad matrix: %w", c.ep, err)
		}
		out := make([][]float64, 0, len(ss))
		for _, s := range ss {
			vals := make([]float64, 0, len(s.Values))
			for _, p := range s.Values {
				if _, v, ok := point(p); ok {
					vals = append(vals, v)
				}
			}
			out = append(out, vals)
		}
		return out, nil
	case "scalar":
		var p [2]any
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("metrics engine %s: bad scalar: %w", c.ep, err)
		}
		_, v, _ := point(p)
		return [][]float64{{v}}, nil
	}
	return nil, fmt.Errorf("unexpected PromQL result %s", d.ResultType)
}

// selector writes matchers as a PromQL selector. __name__!="" is added so
// that a Graphite glob whose regexp matches the empty string (*) is still
// a valid selector.
func selector(ms []*labels.Matcher) string {
	parts := make([]string, 0, len(ms)+1)
	for _, m := range ms {
		parts = append(parts, m.String())
	}
	parts = append(parts, `__name__!=""`)
	return "{" + strings.Join(parts, ",") + "}"
}

func toSeries(m map[string]string) metrics.Series {
	s := metrics.Series{Labels: map[string]string{}}
	for k, v := range m {
		if k == labels.MetricName {
			s.Name = v
		} else {
			s.Labels[k] = v
		}
	}
	return s
}

// Select reads the raw samples of the series matching ms in [from, to]
// (unix ms): an instant query of a range selector at to.
func (c *Client) Select(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]metrics.Series, error) {
	if to < from {
		return nil, nil
	}
	expr := fmt.Sprintf("%s[%dms]", selector(ms), to-from+1)
	d, err := c.Instant(ctx, expr, time.UnixMilli(to))
	if err != nil {
		return nil, err
	}
	raw, _ := d.Result.(json.RawMessage)
	var ss []series
	if d.ResultType != "matrix" || json.Unmarshal(raw, &ss) != nil {
		return nil, fmt.Errorf("metrics engine %s: a range selector gave %s, not a matrix", c.ep, d.ResultType)
	}
	out := make([]metrics.Series, 0, len(ss))
	for _, s := range ss {
		ser := toSeries(s.Metric)
		for _, p := range s.Values {
			ts, v, ok := point(p)
			if !ok || math.IsNaN(v) || ts < from || ts > to {
				continue
			}
			ser.TS = append(ser.TS, ts)
			ser.Values = append(ser.Values, v)
		}
		out = append(out, ser)
	}
	return out, nil
}

// clampStart keeps a start the engines accept: Graphite asks "anywhere
// before until", which the API takes as one second after the epoch.
// Not the epoch itself: VictoriaMetrics reads start=0 as no start at
// all and then searches only the UTC day of end, so a find whose until
// ran past midnight (obs asks until now+1h) listed nothing in the last
// hour of every day.
func clampStart(from int64) int64 { return max(from, 1000) }

// SeriesIn lists the series matching ms with data in [from, to].
func (c *Client) SeriesIn(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]metrics.Series, error) {
	raw, err := c.call(ctx, "api/v1/series", url.Values{"match[]": {selector(ms)}, "start": {secs(clampStart(from))}, "end": {secs(to)}})
	if err != nil {
		return nil, err
	}
	var sets []map[string]string
	if err := json.Unmarshal(raw, &sets); err != nil {
		return nil, fmt.Errorf("metrics engine %s: bad series answer: %w", c.ep, err)
	}
	out := make([]metrics.Series, 0, len(sets))
	for _, m := range sets {
		out = append(out, toSeries(m))
	}
	return out, nil
}

// Names lists the metric names with data in [from, to], sorted.
func (c *Client) Names(ctx context.Context, from, to int64) ([]string, error) {
	return c.LabelValues(ctx, labels.MetricName, from, to)
}

// LabelNames lists label names of the series matching ms.
func (c *Client) LabelNames(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]string, error) {
	return c.strings(ctx, "api/v1/labels", from, to, ms)
}

// LabelValues lists the values of label name in the series matching ms.
func (c *Client) LabelValues(ctx context.Context, name string, from, to int64, ms ...*labels.Matcher) ([]string, error) {
	return c.strings(ctx, "api/v1/label/"+url.PathEscape(name)+"/values", from, to, ms)
}

func (c *Client) strings(ctx context.Context, path string, from, to int64, ms []*labels.Matcher) ([]string, error) {
	form := url.Values{"start": {secs(clampStart(from))}, "end": {secs(to)}}
	if len(ms) > 0 {
		form.Set("match[]", selector(ms))
	}
	raw, err := c.call(ctx, path, form)
	if err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("metrics engine %s: bad %s answer: %w", c.ep, path, err)
	}
	sort.Strings(out)
	return out, nil
}
