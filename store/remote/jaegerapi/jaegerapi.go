// Package jaegerapi reads traces back from Jaeger through its HTTP query
// API (/api/traces/{id}, /api/traces, /api/services, /api/operations,
// /api/dependencies: what the Jaeger UI itself calls, served by
// jaeger-query and by Jaeger v2's jaeger_query extension) and answers as
// obs's embedded span store does: Zipkin v2 spans, so that `obs traces`,
// the Zipkin API and the UI read the engine unchanged. Traces are asked
// for raw (raw=true): Jaeger's adjusters would otherwise give the server
// half of a span shared between two hosts a new id.
package jaegerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/traces"
)

// maxAnswer bounds what is read of one answer.
const maxAnswer = 256 << 20

// Client talks to one Jaeger query API.
type Client struct {
	ep *endpoint.Endpoint
}

// New returns a client for the API under c.URL (the part before /api).
func New(c endpoint.Config) (*Client, error) {
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	ep, err := endpoint.New(c)
	if err != nil {
		return nil, fmt.Errorf("traces query url: %w", err)
	}
	return &Client{ep: ep}, nil
}

// String names the engine without credentials.
func (c *Client) String() string { return c.ep.String() }

// Error is a failed read: Status is what obs answers its own caller, 503
// when the engine cannot be reached, 502 when it answered with an error.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) HTTPStatus() int { return e.Status }

var errNotFound = errors.New("not found")

// envelope is the API's answer (structuredResponse).
type envelope struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

// get GETs path?form and decodes the answer's data into v.
func (c *Client) get(ctx context.Context, path string, form url.Values, v any) error {
	u := c.ep.URL(path)
	u.RawQuery = form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &Error{Status: 500, Err: c.ep.Errorf("traces engine", err)}
	}
	req.Header.Set("Accept", "application/json")
	c.ep.Authorize(req)
	resp, err := c.ep.Client.Do(req)
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Err: c.ep.Errorf("traces engine unavailable", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &Error{Status: http.StatusBadGateway, Err: c.ep.Errorf("traces engine", fmt.Errorf("read answer: %w", err))}
	}
	var env envelope
	jerr := json.Unmarshal(body, &env)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode/100 != 2:
		msg := strings.TrimSpace(string(body[:min(len(body), 512)]))
		if jerr == nil && len(env.Errors) > 0 {
			msg = env.Errors[0].Msg
		}
		return &Error{Status: http.StatusBadGateway, Err: c.ep.Errorf("traces engine", fmt.Errorf("HTTP %s: %s", resp.Status, msg))}
	case jerr != nil:
		return &Error{Status: http.StatusBadGateway, Err: c.ep.Errorf("traces engine", fmt.Errorf("decode answer: %w", jerr))}
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return &Error{Status: http.StatusBadGateway, Err: c.ep.Errorf("traces engine", fmt.Errorf("decode data: %w", err))}
	}
	return nil
}

// encode is each span's Zipkin v2 JSON (zipkin-go's encoding: the same
// fields and values as obs's own store writes, in another order).
func encode(spans []*model.SpanModel) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(spans))
	for _, s := range spans {
		// A SpanModel built from parsed ids and times always encodes.
		if b, err := json.Marshal(s); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// Trace is the trace's spans, nil when the engine has none.
func (c *Client) Trace(ctx context.Context, id model.TraceID) ([]json.RawMessage, error) {
	spans, err := c.trace(ctx, id)
	if err != nil || spans == nil {
		return nil, err
	}
	return encode(spans), nil
}

func (c *Client) trace(ctx context.Context, id model.TraceID) ([]*model.SpanModel, error) {
	var ts []jTrace
	err := c.get(ctx, "/api/traces/"+id.String(), url.Values{"raw": {"true"}}, &ts)
	if errors.Is(err, errNotFound) || err == nil && len(ts) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*model.SpanModel
	for _, t := range ts {
		spans, err := toZipkin(t)
		if err != nil {
			return nil, &Error{Status: http.StatusBadGateway, Err: c.ep.Errorf("traces engine", err)}
		}
		out = append(out, spans...)
	}
	return out, nil
}

// Services lists the service names, sorted.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	var names []string
	if err := c.get(ctx, "/api/services", nil, &names); err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	sort.Strings(names)
	return nonNil(names), nil
}

// SpanNames lists the span (operation) names of a service, sorted.
func (c *Client) SpanNames(ctx context.Context, service string) ([]string, error) {
	var ops []struct {
		Name string `json:"name"`
	}
	if err := c.get(ctx, "/api/operations", url.Values{"service": {service}}, &ops); err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	var names []string
	for _, o := range ops {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	return nonNil(slices.Compact(names)), nil
}

// RemoteServices lists whom service calls. Jaeger has no such list; its
// dependency links of the last day, service as the parent, are the
// nearest (Zipkin's list is remote endpoints' names, which for
// instrumented callees are the same services).
func (c *Client) RemoteServices(ctx context.Context, service string) ([]string, error) {
	links, err := c.Dependencies(ctx, time.Now().UnixMilli(), 24*time.Hour.Milliseconds())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range links {
		if l.Parent == service {
			names = append(names, l.Child)
		}
	}
	sort.Strings(names)
	return nonNil(slices.Compact(names)), nil
}

// TagKeys and TagValues are Zipkin's autocomplete lists; Jaeger keeps
// none, and Zipkin's answer without configured keys is an empty list.
func (c *Client) TagKeys(context.Context) ([]string, error) { return []string{}, nil }

// TagValues: see TagKeys.
func (c *Client) TagValues(context.Context, string) ([]string, error) { return []string{}, nil }

// Dependencies are the engine's service links in [endTs-lookback, endTs]
// (milliseconds). Jaeger counts no errors per link, and counts every
// parent-child pair of spans, so a span under another of its own service
// makes a link from the service to itself: those are left out, as
// Zipkin's linker, which counts calls between services, has none.
func (c *Client) Dependencies(ctx context.Context, endTs, lookback int64) ([]traces.DependencyLink, error) {
	var links []struct {
		Parent    string `json:"parent"`
		Child     string `json:"child"`
		CallCount int64  `json:"callCount"`
	}
	form := url.Values{"endTs": {strconv.FormatInt(endTs, 10)}, "lookback": {strconv.FormatInt(lookback, 10)}}
	if err := c.get(ctx, "/api/dependencies", form, &links); err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	out := make([]traces.DependencyLink, 0, len(links))
	for _, l := range links {
		if l.Parent == l.Child {
			continue
		}
		out = append(out, traces.DependencyLink{Parent: l.Parent, Child: l.Child, CallCount: l.CallCount})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Parent != out[j].Parent {
			return out[i].Parent < out[j].Parent
		}
		return out[i].Child < out[j].Child
	})
	return out, nil
}

// Search finds traces as Zipkin's /api/v2/traces does, newest first. Jaeger
// needs a service: without one every service is searched. Tag terms
// (key=value) and the remote service (peer.service) are the engine's to
// match; a bare term (a tag key or an annotation) Jaeger cannot express,
// so it is checked here on what the engine returned.
func (c *Client) Search(ctx context.Context, q traces.Query) ([][]json.RawMessage, error) {
	if q.Limit <= 0 {
		q.Limit = 10
	}
	if q.EndTs <= 0 {
		q.EndTs = time.Now().UnixMilli()
	}
	if q.Lookback <= 0 {
		q.Lookback = q.EndTs
	}
	services := []string{q.ServiceName}
	if q.ServiceName == "" {
		var err error
		if services, err = c.Services(ctx); err != nil {
			return nil, err
		}
	}
	form := url.Values{"start": {strconv.FormatInt((q.EndTs-q.Lookback)*1000, 10)},
		"end": {strconv.FormatInt(q.EndTs*1000, 10)}, "raw": {"true"}}
	// Bare terms are checked here, so more traces than the limit are
	// asked for then.
	limit := q.Limit
	tags := map[string]string{}
	var bare []string
	for k, v := range q.AnnotationQuery {
		if v == "" {
			bare = append(bare, k)
		} else {
			tags[k] = v
		}
	}
	if len(bare) > 0 {
		limit = max(limit*10, 100)
	}
	form.Set("limit", strconv.Itoa(limit))
	if q.RemoteServiceName != "" {
		tags[tagPeerService] = q.RemoteServiceName
	}
	if len(tags) > 0 {
		b, _ := json.Marshal(tags)
		form.Set("tags", string(b))
	}
	if q.SpanName != "" {
		form.Set("operation", q.SpanName)
	}
	if q.MinDuration > 0 {
		form.Set("minDuration", strconv.FormatInt(q.MinDuration, 10)+"us")
	}
	if q.MaxDuration > 0 {
		form.Set("maxDuration", strconv.FormatInt(q.MaxDuration, 10)+"us")
	}
	type found struct {
		ts    int64
		spans []*model.SpanModel
	}
	var res []found
	seen := map[model.TraceID]bool{}
	for _, svc := range services {
		form.Set("service", svc)
		var ts []jTrace
		if err := c.get(ctx, "/api/traces", form, &ts); err != nil && !errors.Is(err, errNotFound) {
			return nil, err
		}
		for _, t := range ts {
			spans, err := toZipkin(t)
			if err != nil {
				return nil, &Error{Status: http.StatusBadGateway, Err: c.ep.Errorf("traces engine", err)}
			}
			if len(spans) == 0 || seen[spans[0].TraceID] || !hasAll(spans, bare) {
				continue
			}
			seen[spans[0].TraceID] = true
			res = append(res, found{ts: start(spans), spans: spans})
		}
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].ts > res[j].ts })
	if len(res) > q.Limit {
		res = res[:q.Limit]
	}
	out := make([][]json.RawMessage, 0, len(res))
	for _, f := range res {
		out = append(out, encode(f.spans))
	}
	return out, nil
}

// hasAll says whether every bare term is a tag key or an annotation of
// some span of the trace.
func hasAll(spans []*model.SpanModel, bare []string) bool {
	for _, k := range bare {
		ok := false
		for _, s := range spans {
			if _, tag := s.Tags[k]; tag {
				ok = true
			}
			for _, a := range s.Annotations {
				ok = ok || a.Value == k
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// start is the trace's earliest timestamp (µs), what Zipkin orders by.
func start(spans []*model.SpanModel) int64 {
	var ts int64
	for _, s := range spans {
		if !s.Timestamp.IsZero() && (ts == 0 || s.Timestamp.UnixMicro() < ts) {
			ts = s.Timestamp.UnixMicro()
		}
	}
	return ts
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
