// Package incident puts together what explains a service's failure: its
// status and failing checks (alert), its log events in the failure's
// window with the error messages grouped (the log store, by KQL), and its
// failing or slow traces (the span store). The web UI's service page, the
// incident API and `obs incident` all show this one document, so that the
// person paged does not re-type a service name and a time window into
// three tools.
package incident

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/alert/incident/mask"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/traces"
)

// Services is what the incident needs from the alert engine.
type Services interface {
	// Service has the status, the checks' last results and the status history.
	Service(name string) (alert.ServiceView, bool)
	// Definition has the checks' thresholds (max_response_time, timer targets).
	Definition(name string) (alert.ServiceDefinition, error)
}

// Logs is what the incident needs from a log store (embedded or remote).
type Logs interface {
	Search(context.Context, logs.SearchRequest) (logs.SearchResult, error)
	Histogram(context.Context, logs.Matcher, logs.Range, time.Duration) ([]logs.Bucket, int, error)
}

// Traces is what the incident needs from a span store: Zipkin's trace
// search, each trace as its spans' Zipkin v2 JSON.
type Traces interface {
	Search(context.Context, traces.Query) ([][]json.RawMessage, error)
}

// Report is the incident document (GET /api/incident/{service}, `obs
// incident -o json`).
type Report struct {
	Service string       `json:"service"`
	Status  alert.Status `json:"status"`
	Window  Window       `json:"window"`
	Checks  []Check      `json:"checks"`
	Logs    LogSummary   `json:"logs"`
	Traces  []Trace      `json:"traces"`
}

// Window is the time range the report covers.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Check is one check of the service: its status (its importance while it
// fails, else PASSING) and the reason of its last failing run.
type Check struct {
	Name   string       `json:"name"`
	Status alert.Status `json:"status"`
	Reason string       `json:"reason"`
}

// LogSummary counts the service's events in the window and groups its
// error messages.
type LogSummary struct {
	Errors int     `json:"errors"`
	Total  int     `json:"total"`
	Top    []Group `json:"top"`
}

// Group is one error message, numbers and ids masked, with how often and
// when it was seen.
type Group struct {
	Message string    `json:"message"`
	Count   int       `json:"count"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// Trace is one failing or slow trace of the service.
type Trace struct {
	TraceID    string  `json:"traceId"`
	DurationMs float64 `json:"durationMs"`
	Error      bool    `json:"error"`
	RootSpan   string  `json:"rootSpan"`
}

// ErrNotFound is a service the alert engine does not know.
var ErrNotFound = errors.New("not found")

const (
	// DefaultWindow is what a report covers when the service is passing.
	DefaultWindow = 30 * time.Minute
	// lead is how far before the failure's start a default window opens:
	// the errors that made a check fail came before its failing runs
	// (interval, debounce).
	lead = 5 * time.Minute
	// MaxGrouped bounds how many error events are read to group: the
	// error count stays exact beyond it, the groups are of the newest.
	MaxGrouped = 10000
	topGroups  = 10
	// maxMessage bounds a grouped message (the first line of a stack).
	maxMessage = 200
	// maxTraces bounds each kind of trace asked for (failing, slow).
	maxTraces = 10
	// slowest is how many recent traces the slowest are picked from
	// when no check gives a latency threshold.
	slowest = 100
)

// ErrorKQL matches error events as the seed's loggers (severity), pino and
// bunyan (level, 50 and 60) and OTLP log records (severity_number 17-24)
// mark them; the UI's overview uses the same query.
const ErrorKQL = `severity:(error or fatal or critical or ERROR or FATAL) or level:(error or fatal or 50 or 60) or severity_number >= 17`

// ServiceKQL matches a service's events: app as the seed's logstash.js
// names it, service as many loggers do, service.name as OTLP records do.
func ServiceKQL(service string) string {
	q := quote(service)
	return fmt.Sprintf("app:%s or service:%s or service.name:%s", q, q, q)
}

// TraceKQL matches log events carrying a trace id under the usual names,
// at any depth (a leading * matches any prefix, dots included): traceId
// (zipkin-js), trace_id (OTLP, the seed's fields.trace_id), X-B3-TraceId or
// x-b3-traceid (a copied B3 header). KQL field names are case-sensitive,
// hence the spellings.
func TraceKQL(id string) string {
	q := quote(strings.ToLower(id))
	var parts []string
	for _, f := range []string{"traceId", "traceID", "TraceId", "traceid", "trace_id", "trace-id"} {
		parts = append(parts, "*"+f+":"+q)
	}
	return strings.Join(parts, " or ")
}

// quote makes s one quoted KQL value.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Builder makes reports.
type Builder struct {
	Services Services
	Logs     Logs   // nil: no log summary
	Traces   Traces // nil: no traces
	Now      func() time.Time
}

// Build reports on service over [from, to); a zero from means the default
// window: from a little before the service left PASSING to now, or the
// last DefaultWindow while it passes.
func (b *Builder) Build(ctx context.Context, service string, from, to time.Time) (Report, error) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	v, ok := b.Services.Service(service)
	if !ok {
		return Report{}, fmt.Errorf("no service named %q: %w", service, ErrNotFound)
	}
	if from.IsZero() {
		from, to = FailureWindow(v, now())
	}
	rep := Report{Service: v.Name, Status: v.Status, Window: Window{From: from.UTC(), To: to.UTC()},
		Checks: checks(v), Logs: LogSummary{Top: []Group{}}, Traces: []Trace{}}
	if b.Logs != nil {
		ls, err := b.logSummary(ctx, service, rep.Window)
		if err != nil {
			return Report{}, err
		}
		rep.Logs = ls
	}
	if b.Traces != nil {
		var threshold time.Duration
		if def, err := b.Services.Definition(service); err == nil {
			threshold = Threshold(def)
		}
		ts, err := b.traces(ctx, service, rep.Window, threshold)
		if err != nil {
			return Report{}, err
		}
		rep.Traces = ts
	}
	return rep, nil
}

// FailureWindow is the default window: from lead before the service last
// left PASSING to now while it fails, else the last DefaultWindow.
func FailureWindow(v alert.ServiceView, now time.Time) (time.Time, time.Time) {
	if v.Status == alert.Passing {
		return now.Add(-DefaultWindow), now
	}
	var start time.Time
	for i := len(v.History) - 1; i >= 0 && v.History[i].Status != alert.Passing; i-- {
		start = v.History[i].Time
	}
	if start.IsZero() || start.After(now) {
		return now.Add(-DefaultWindow), now
	}
	return start.Add(-lead), now
}

// checks lists the service's checks, failing ones first.
func checks(v alert.ServiceView) []Check {
	out := make([]Check, 0, len(v.Checks))
	for _, c := range v.Checks {
		ck := Check{Name: c.Name, Status: alert.Passing}
		if c.Failing {
			ck.Status = c.Importance
		}
		switch {
		case c.Last != nil && !c.Last.OK:
			ck.Reason = c.Last.Reason
		case c.Failing && c.LastFailure != nil:
			ck.Reason = c.LastFailure.Reason
		}
		out = append(out, ck)
	}
	slices.SortStableFunc(out, func(a, b Check) int { return cmp.Compare(b.Status, a.Status) })
	return out
}

func (b *Builder) logSummary(ctx context.Context, service string, w Window) (LogSummary, error) {
	rng := logs.Range{From: w.From, To: w.To}
	svcQ := ServiceKQL(service)
	all, err := kql.Compile(svcQ, w.To)
	if err != nil {
		return LogSummary{}, fmt.Errorf("service query %s: %w", svcQ, err)
	}
	errQ := "(" + svcQ + ") and (" + ErrorKQL + ")"
	errs, err := kql.Compile(errQ, w.To)
	if err != nil {
		return LogSummary{}, fmt.Errorf("error query %s: %w", errQ, err)
	}
	// One bucket over the whole window: the histogram is the count that
	// every log store (embedded or remote) answers.
	iv := w.To.Sub(w.From) + time.Millisecond
	_, total, err := b.Logs.Histogram(ctx, all, rng, iv)
	if err != nil {
		return LogSummary{}, fmt.Errorf("count %s's events: %w", service, err)
	}
	_, nerr, err := b.Logs.Histogram(ctx, errs, rng, iv)
	if err != nil {
		return LogSummary{}, fmt.Errorf("count %s's errors: %w", service, err)
	}
	top, err := b.group(ctx, errs, rng)
	if err != nil {
		return LogSummary{}, err
	}
	return LogSummary{Errors: nerr, Total: total, Top: top}, nil
}

// group reads the newest MaxGrouped error events and groups them by
// masked message, the most frequent first.
func (b *Builder) group(ctx context.Context, m logs.Matcher, rng logs.Range) ([]Group, error) {
	groups := map[string]*Group{}
	req := logs.SearchRequest{Match: m, Range: rng, Limit: 1000}
	for read := 0; read < MaxGrouped; {
		res, err := b.Logs.Search(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("read error events: %w", err)
		}
		for _, h := range res.Hits {
			msg := mask.Message(Message(h.Raw))
			g := groups[msg]
			if g == nil {
				g = &Group{Message: msg, First: h.TS.UTC(), Last: h.TS.UTC()}
				groups[msg] = g
			}
			g.Count++
			if h.TS.Before(g.First) {
				g.First = h.TS.UTC()
			}
			if h.TS.After(g.Last) {
				g.Last = h.TS.UTC()
			}
		}
		read += len(res.Hits)
		if res.Next == "" || len(res.Hits) == 0 {
			break
		}
		req.Cursor = res.Next
	}
	out := make([]Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return out[:min(len(out), topGroups)], nil
}

// Message is what an event says, as Discover's one-line summary reads it:
// the first line of message, msg, error or err (or of their message
// field), else of a stack, error or exception field at any depth, else
// its type; an event with none of them is its JSON.
func Message(raw json.RawMessage) string {
	var ev any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return clip(string(raw))
	}
	obj, ok := ev.(map[string]any)
	if !ok {
		return clip(string(raw))
	}
	for _, k := range []string{"message", "msg", "error", "err"} {
		if l := firstLine(obj[k]); l != "" {
			return clip(l)
		}
	}
	if l := deepLine(obj, 0); l != "" {
		return clip(l)
	}
	if t, ok := obj["type"].(string); ok && t != "" {
		return clip(t)
	}
	return clip(string(raw))
}

// deepLine finds the first line of a stack, error or exception field in
// nested objects, keys in sorted order so that the answer is stable.
func deepLine(obj map[string]any, depth int) string {
	if depth > 8 {
		return ""
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch strings.ToLower(k) {
		case "stack", "stack_trace", "error", "err", "exception":
			if l := firstLine(obj[k]); l != "" {
				return l
			}
		}
	}
	for _, k := range keys {
		if o, ok := obj[k].(map[string]any); ok {
			if l := deepLine(o, depth+1); l != "" {
				return l
			}
		}
	}
	return ""
}

func firstLine(v any) string {
	switch x := v.(type) {
	case string:
		l, _, _ := strings.Cut(x, "\n")
		return strings.TrimSpace(l)
	case map[string]any:
		if m, ok := x["message"].(string); ok {
			return firstLine(m)
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }

// Threshold is the latency above which the service's checks call a
// request slow: the smallest max_response_time of its HTTP checks, or of
// the values its metric checks compare StatsD timers (milliseconds, as
// Etsy's statsd reports stats.timers.*) to with > or >=. 0: none.
func Threshold(def alert.ServiceDefinition) time.Duration {
	var best time.Duration
	consider := func(d time.Duration) {
		if d > 0 && (best == 0 || d < best) {
			best = d
		}
	}
	for _, c := range def.Definition.Checks {
		switch c.Type {
		case "http":
			consider(c.MaxResponseTime.D())
		case "metric":
			if strings.HasPrefix(c.Target, "stats.timers.") && (c.CheckType == ">" || c.CheckType == ">=") && c.Value != nil {
				consider(time.Duration(*c.Value * float64(time.Millisecond)))
			}
		}
	}
	return best
}

// span is the part of a Zipkin v2 span a trace summary needs.
type span struct {
	TraceID   string            `json:"traceId"`
	ID        string            `json:"id"`
	ParentID  string            `json:"parentId"`
	Name      string            `json:"name"`
	Timestamp int64             `json:"timestamp"`
	Duration  int64             `json:"duration"`
	Tags      map[string]string `json:"tags"`
}

// traces finds the service's failing traces in the window, and its slow
// ones: above threshold, else the slowest of the recent ones. Failing
// first, then the longest.
func (b *Builder) traces(ctx context.Context, service string, w Window, threshold time.Duration) ([]Trace, error) {
	base := traces.Query{ServiceName: strings.ToLower(service), EndTs: w.To.UnixMilli(),
		Lookback: max(w.To.Sub(w.From).Milliseconds(), 1), Limit: maxTraces}
	failing := base
	failing.AnnotationQuery = map[string]string{"error": ""}
	slow := base
	if threshold > 0 {
		slow.MinDuration = max(threshold.Microseconds(), 1)
	} else {
		slow.Limit = slowest
	}
	seen := map[string]bool{}
	var out []Trace
	for i, q := range []traces.Query{failing, slow} {
		res, err := b.Traces.Search(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("search %s's traces: %w", service, err)
		}
		var found []Trace
		for _, raw := range res {
			if t, ok := summarize(raw); ok && !seen[t.TraceID] {
				seen[t.TraceID] = true
				found = append(found, t)
			}
		}
		slices.SortFunc(found, func(a, b Trace) int { return cmp.Compare(b.DurationMs, a.DurationMs) })
		if i == 1 {
			found = found[:min(len(found), maxTraces)]
		}
		out = append(out, found...)
	}
	if out == nil {
		out = []Trace{}
	}
	return out, nil
}

// summarize reads a trace's id, extent, error and root span (no parent in
// the trace, the earliest of them).
func summarize(raw []json.RawMessage) (Trace, bool) {
	var spans []span
	for _, r := range raw {
		var s span
		if json.Unmarshal(r, &s) == nil && s.TraceID != "" {
			spans = append(spans, s)
		}
	}
	if len(spans) == 0 {
		return Trace{}, false
	}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.ID] = true
	}
	var start, end int64
	t := Trace{TraceID: spans[0].TraceID}
	var root *span
	for i := range spans {
		s := &spans[i]
		if s.Timestamp > 0 && (start == 0 || s.Timestamp < start) {
			start = s.Timestamp
		}
		end = max(end, s.Timestamp+s.Duration)
		if _, ok := s.Tags["error"]; ok {
			t.Error = true
		}
		if s.ParentID == "" || !ids[s.ParentID] {
			if root == nil || s.Timestamp < root.Timestamp {
				root = s
			}
		}
	}
	if root == nil {
		root = &spans[0]
	}
	t.RootSpan = root.Name
	t.DurationMs = float64(end-start) / 1000
	return t, true
}
