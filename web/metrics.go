package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/obs-dev/obs/query/graphite"
	obspromql "github.com/obs-dev/obs/query/promql"
)

// MetricStore is what the Graphite and Prometheus APIs read: the embedded
// TSDB (*metrics.Store) or a remote engine (store/remote/promapi).
type MetricStore interface {
	graphite.Source
	LabelNames(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]string, error)
	LabelValues(ctx context.Context, name string, from, to int64, ms ...*labels.Matcher) ([]string, error)
}

// PromQL evaluates the Prometheus API's queries: the embedded engine
// (query/promql) or a remote engine's own API.
type PromQL interface {
	Instant(ctx context.Context, expr string, ts time.Time) (obspromql.Data, error)
	Range(ctx context.Context, expr string, start, end time.Time, step time.Duration) (obspromql.Data, error)
}

// metricsAPI serves Graphite's and Prometheus's query APIs over one store, so
// that an existing Grafana can use obs as either kind of data source.
type metricsAPI struct {
	store  MetricStore
	step   int64 // Graphite's finest step, seconds
	engine PromQL
}

func newMetricsAPI(st MetricStore, engine PromQL, step time.Duration) *metricsAPI {
	if engine == nil {
		// The embedded store: PromQL runs in obs over the same TSDB.
		if q, ok := st.(interface{ Queryable() storage.Queryable }); ok {
			engine = obspromql.New(q.Queryable())
		}
	}
	return &metricsAPI{store: st, step: max(int64(step/time.Second), 1), engine: engine}
}

func (s *Server) routeMetrics() {
	if s.d.Metrics == nil {
		return
	}
	m := newMetricsAPI(s.d.Metrics, s.d.PromQL, s.d.MetricsStep)
	for _, method := range []string{"GET", "POST"} {
		s.mux.HandleFunc(method+" /render", m.render)
		s.mux.HandleFunc(method+" /metrics/find", m.find)
		s.mux.HandleFunc(method+" /metrics/expand", m.expand)
		s.mux.HandleFunc(method+" /api/v1/query", m.promQuery)
		s.mux.HandleFunc(method+" /api/v1/query_range", m.promQueryRange)
		s.mux.HandleFunc(method+" /api/v1/series", m.promSeries)
		s.mux.HandleFunc(method+" /api/v1/labels", m.promLabels)
	}
	s.mux.HandleFunc("GET /metrics/index.json", m.index)
	s.mux.HandleFunc("GET /api/v1/label/{name}/values", m.promLabelValues)
	s.mux.HandleFunc("GET /api/v1/status/buildinfo", m.promBuildInfo)
	s.mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) { promOK(w, map[string]any{}) })
}

// GraphiteTime reads Graphite's from/until: now, -1h / -15min / -2d,
// unix seconds, YYYYMMDD or HH:MM_YYYYMMDD.
func GraphiteTime(s string, now time.Time) (int64, error) { return graphite.ParseTime(s, now) }

func formValue(r *http.Request, k string) string {
	r.ParseForm()
	return r.Form.Get(k)
}

// graphiteRange reads from/until with Graphite's default of the last day;
// as graphite-web, the earlier of the two is the start.
func graphiteRange(r *http.Request) (int64, int64, error) {
	now := time.Now()
	from, until := formValue(r, "from"), formValue(r, "until")
	if from == "" {
		from = "-24h"
	}
	f, err := GraphiteTime(from, now)
	if err != nil {
		return 0, 0, fmt.Errorf("from: %w", err)
	}
	u, err := GraphiteTime(until, now)
	if err != nil {
		return 0, 0, fmt.Errorf("until: %w", err)
	}
	if u == f {
		return 0, 0, fmt.Errorf("until: from and until are both %d: an empty time range", u)
	}
	return min(f, u), max(f, u), nil
}

// RenderSeries is one element of /render?format=json.
type RenderSeries struct {
	Target     string            `json:"target"`
	Datapoints [][2]*float64     `json:"datapoints"` // [value or null, unix seconds]
	Tags       map[string]string `json:"tags"`
}

// RenderTargets evaluates every target; maxDataPoints > 0 consolidates as
// graphite-web's JSON renderer does.
func RenderTargets(ctx context.Context, f graphite.StoreFetcher, targets []string, from, until int64, maxDataPoints int) ([]*graphite.Series, error) {
	var all []*graphite.Series
	for _, t := range targets {
		if strings.TrimSpace(t) == "" {
			continue
		}
		ss, err := graphite.Eval(ctx, f, t, from, until)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", t, err)
		}
		all = append(all, ss...)
	}
	if maxDataPoints > 0 {
		graphite.ConsolidateForRender(all, maxDataPoints)
	}
	return all, nil
}

// appendRenderJSON writes /render?format=json (the RenderSeries shape)
// straight into a buffer: a day of 10 s points is 8,640 pairs a series,
// and encoding/json with a pointer per value took most of a render.
func appendRenderJSON(b []byte, ss []*graphite.Series) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"target":`...)
		b = appendJSONString(b, s.Name)
		b = append(b, `,"datapoints":[`...)
		for j, p := range s.Points() {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendFloat(b, p.Value, 'g', -1, 64)
			}
			b = append(b, ',')
			b = strconv.AppendInt(b, p.TS, 10)
			b = append(b, ']')
		}
		b = append(b, `],"tags":{`...)
		keys := make([]string, 0, len(s.Tags)+1)
		for k := range s.Tags {
			keys = append(keys, k)
		}
		if _, ok := s.Tags["name"]; !ok {
			keys = append(keys, "name")
		}
		sort.Strings(keys)
		for j, k := range keys {
			if j > 0 {
				b = append(b, ',')
			}
			v, ok := s.Tags[k]
			if !ok {
				v = s.Name
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, v)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

func graphiteErr(w http.ResponseWriter, err error) {
	var se *graphite.SyntaxError
	code := http.StatusBadRequest
	if !errors.As(err, &se) && !strings.Contains(err.Error(), "from:") && !strings.Contains(err.Error(), "until:") {
		code = http.StatusInternalServerError
	}
	body := apiError{Error: err.Error()}
	if se != nil {
		body.Position = &se.Pos
	}
	writeJSON(w, code, body)
}

func (m *metricsAPI) render(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	targets := r.Form["target"]
	if len(targets) == 0 {
		writeErr(w, http.StatusBadRequest, errors.New("render needs at least one target="))
		return
	}
	from, until, err := graphiteRange(r)
	if err != nil {
		graphiteErr(w, err)
		return
	}
	// As graphite-web, only a plain non-negative integer counts.
	maxPoints, _ := strconv.Atoi(r.Form.Get("maxDataPoints"))
	res, err := RenderTargets(r.Context(), graphite.StoreFetcher{Store: m.store, BaseStep: m.step}, targets, from, until, max(maxPoints, 0))
	if err != nil {
		graphiteErr(w, err)
		return
	}
	switch r.Form.Get("format") {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		w.Write(appendRenderJSON(make([]byte, 0, 64<<10), res))
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		cw := csv.NewWriter(w)
		for _, s := range res {
			for _, p := range s.Points() {
				v := ""
				if !math.IsNaN(p.Value) {
					v = strconv.FormatFloat(p.Value, 'f', -1, 64)
				}
				cw.Write([]string{s.Name, time.Unix(p.TS, 0).UTC().Format("2006-01-02 15:04:05"), v})
			}
		}
		cw.Flush()
	default:
		writeErr(w, http.StatusBadRequest, fmt.Errorf("format %q: obs renders json and csv", r.Form.Get("format")))
	}
}

func (m *metricsAPI) find(w http.ResponseWriter, r *http.Request) {
	q := formValue(r, "query")
	if q == "" {
		writeErr(w, http.StatusBadRequest, errors.New("find needs query="))
		return
	}
	now := time.Now().Unix()
	nodes, err := graphite.Find(r.Context(), m.store, q, 0, now+3600)
	if err != nil {
		graphiteErr(w, err)
		return
	}
	if formValue(r, "format") == "completer" {
		var metrics []map[string]any
		for _, n := range nodes {
			p := n.Path
			if n.Branch {
				p += "."
			}
			metrics = append(metrics, map[string]any{"path": p, "name": n.Text, "is_leaf": boolInt(n.Leaf && !n.Branch)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"metrics": metrics})
		return
	}
	out := []map[string]any{}
	for _, n := range nodes {
		out = append(out, map[string]any{"id": n.Path, "text": n.Text, "leaf": boolInt(n.Leaf && !n.Branch),
			"expandable": boolInt(n.Branch), "allowChildren": boolInt(n.Branch), "context": map[string]any{}})
	}
	writeJSON(w, http.StatusOK, out)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// index is Graphite's /metrics/index.json: every metric name.
func (m *metricsAPI) index(w http.ResponseWriter, r *http.Request) {
	names, err := m.store.Names(r.Context(), 0, time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, names)
}

func (m *metricsAPI) expand(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	results := []string{}
	for _, q := range r.Form["query"] {
		nodes, err := graphite.Find(r.Context(), m.store, q, 0, time.Now().Unix()+3600)
		if err != nil {
			graphiteErr(w, err)
			return
		}
		for _, n := range nodes {
			results = append(results, n.Path)
		}
	}
	sort.Strings(results)
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// Prometheus HTTP API shapes.

func promOK(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": data})
}

func promErr(w http.ResponseWriter, code int, typ string, err error) {
	writeJSON(w, code, map[string]any{"status": "error", "errorType": typ, "error": err.Error()})
}

func promTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

func promDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	return d, nil
}

// answer writes a query's data or its error as the Prometheus API does.
func (m *metricsAPI) answer(w http.ResponseWriter, d obspromql.Data, err error) {
	if err != nil {
		e := obspromql.ErrorOf(err)
		promErr(w, e.Status, e.Type, e)
		return
	}
	promOK(w, d)
}

// PromInstant and PromRange run PromQL for the CLI and the API.
func (m *metricsAPI) promQuery(w http.ResponseWriter, r *http.Request) {
	ts, err := promTime(formValue(r, "time"), time.Now())
	if err != nil {
		promErr(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	d, err := m.engine.Instant(r.Context(), formValue(r, "query"), ts)
	m.answer(w, d, err)
}

func (m *metricsAPI) promQueryRange(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	start, err := promTime(formValue(r, "start"), now.Add(-time.Hour))
	if err == nil {
		var end time.Time
		if end, err = promTime(formValue(r, "end"), now); err == nil {
			var step time.Duration
			if step, err = promDuration(formValue(r, "step")); err == nil {
				if step <= 0 {
					err = errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")
				} else if end.Sub(start)/step > 11000 {
					err = errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
				} else {
					d, qerr := m.engine.Range(r.Context(), formValue(r, "query"), start, end, step)
					m.answer(w, d, qerr)
					return
				}
			}
		}
	}
	promErr(w, http.StatusBadRequest, "bad_data", err)
}

func (m *metricsAPI) matchers(r *http.Request) ([][]*labels.Matcher, error) {
	r.ParseForm()
	var out [][]*labels.Matcher
	for _, s := range r.Form["match[]"] {
		ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(s)
		if err != nil {
			return nil, err
		}
		out = append(out, ms)
	}
	return out, nil
}

func (m *metricsAPI) timeBounds(r *http.Request) (int64, int64, error) {
	start, err := promTime(formValue(r, "start"), time.Unix(0, 0))
	if err != nil {
		return 0, 0, err
	}
	end, err := promTime(formValue(r, "end"), time.Now().Add(time.Hour))
	if err != nil {
		return 0, 0, err
	}
	return start.UnixMilli(), end.UnixMilli(), nil
}

func (m *metricsAPI) promSeries(w http.ResponseWriter, r *http.Request) {
	sets, err := m.matchers(r)
	if err == nil && len(sets) == 0 {
		err = errors.New("no match[] parameter provided")
	}
	if err != nil {
		promErr(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	from, to, err := m.timeBounds(r)
	if err != nil {
		promErr(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	seen := map[string]bool{}
	out := []map[string]string{}
	for _, ms := range sets {
		ss, err := m.store.Select(r.Context(), from, to, ms...)
		if err != nil {
			promErr(w, http.StatusInternalServerError, "internal", err)
			return
		}
		for _, s := range ss {
			lm := map[string]string{"__name__": s.Name}
			for k, v := range s.Labels {
				lm[k] = v
			}
			b, _ := json.Marshal(lm)
			if !seen[string(b)] {
				seen[string(b)] = true
				out = append(out, lm)
			}
		}
	}
	promOK(w, out)
}

func (m *metricsAPI) labelValues(r *http.Request, name string) ([]string, error) {
	from, to, err := m.timeBounds(r)
	if err != nil {
		return nil, err
	}
	sets, err := m.matchers(r)
	if err != nil {
		return nil, err
	}
	var ms []*labels.Matcher
	if len(sets) > 0 {
		ms = sets[0]
	}
	if name == "" {
		return m.store.LabelNames(r.Context(), from, to, ms...)
	}
	return m.store.LabelValues(r.Context(), name, from, to, ms...)
}

func (m *metricsAPI) promLabels(w http.ResponseWriter, r *http.Request) {
	v, err := m.labelValues(r, "")
	if err != nil {
		promErr(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	if v == nil {
		v = []string{}
	}
	promOK(w, v)
}

func (m *metricsAPI) promLabelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !model_LabelNameOK(name) {
		promErr(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid label name: %q", name))
		return
	}
	v, err := m.labelValues(r, name)
	if err != nil {
		promErr(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	if v == nil {
		v = []string{}
	}
	promOK(w, v)
}

func model_LabelNameOK(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (m *metricsAPI) promBuildInfo(w http.ResponseWriter, r *http.Request) {
	// Grafana reads the version to decide which API features to use.
	promOK(w, map[string]any{"version": "3.0.0", "revision": "obs", "branch": "obs", "buildUser": "obs",
		"buildDate": "", "goVersion": strings.TrimPrefix(goVersion(), "go")})
}
