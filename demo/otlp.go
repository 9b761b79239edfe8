package demo

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/obs-dev/obs/store/remote/sender"
)

// recipe-api reports the way a service instrumented with an
// OpenTelemetry SDK does, so that `obs demo` shows both paths side by
// side: web-api keeps the seed's Zipkin, Logstash and StatsD, recipe-api
// sends its server spans, its log events as log records and its request
// durations as a histogram over OTLP/HTTP (protobuf) to obs's
// --otlp-http, as an SDK's exporters do with
// OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318. The payloads are
// built with the Collector's pdata, the library obs decodes them with;
// an SDK is not needed for what the demo sends and would add its own
// dependencies to the obs binary.

// scopeName is the instrumentation scope the demo's OTLP data carries.
const scopeName = "obs/demo"

// durationBounds are the OpenTelemetry semantic conventions' advised
// buckets for http.server.request.duration, in seconds.
var durationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// severityNumbers map the seed's log levels (winston's, npm's) to OTLP's
// severity numbers; the level's own name stays the severity text, as the
// log data model asks.
var severityNumbers = map[string]plog.SeverityNumber{"error": plog.SeverityNumberError, "warn": plog.SeverityNumberWarn,
	"info": plog.SeverityNumberInfo, "verbose": plog.SeverityNumberDebug, "debug": plog.SeverityNumberDebug2}

// otlpExporter batches one service's spans and log records and sends
// them every second (an SDK's batch processors wait up to 5 s; the demo
// wants pages to fill quickly), and its histogram every GaugeEvery (an
// SDK's periodic reader: 60 s by default).
type otlpExporter struct {
	base     string // http://host:port of the OTLP/HTTP receiver
	client   *http.Client
	resource pcommon.Resource
	start    pcommon.Timestamp // the histogram counts from here (cumulative)
	log      *slog.Logger

	mu     sync.Mutex
	traces ptrace.Traces // pending
	logs   plog.Logs     // pending
	hist   map[histKey]*histPoint

	spans, records, exports atomic.Int64 // acknowledged by the receiver
}

type histKey struct {
	method, route string
	status        int
}

type histPoint struct {
	counts []uint64 // one per bucket, +Inf last
	sum    float64
}

func newOTLPExporter(addr, service string, ln net.Addr, environment string, log *slog.Logger) *otlpExporter {
	e := &otlpExporter{base: "http://" + addr, client: &http.Client{Timeout: 5 * time.Second}, resource: pcommon.NewResource(),
		start: pcommon.NewTimestampFromTime(time.Now()), log: log, hist: map[histKey]*histPoint{}}
	host, _ := os.Hostname()
	a := e.resource.Attributes()
	a.PutStr("service.name", service)
	a.PutStr("service.instance.id", ln.String()) // Prometheus's instance label
	a.PutStr("deployment.environment.name", environment)
	a.PutStr("host.name", host)
	a.PutInt("process.pid", int64(os.Getpid()))
	e.traces, e.logs = e.newTraces(), e.newLogs()
	return e
}

func (e *otlpExporter) newTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	e.resource.CopyTo(rs.Resource())
	rs.ScopeSpans().AppendEmpty().Scope().SetName(scopeName)
	return td
}

func (e *otlpExporter) newLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	e.resource.CopyTo(rl.Resource())
	rl.ScopeLogs().AppendEmpty().Scope().SetName(scopeName)
	return ld
}

// otlpSpan is a server span in progress, in its request's context.
type otlpSpan struct {
	trace  pcommon.TraceID
	id     pcommon.SpanID
	parent pcommon.SpanID
	start  time.Time
	err    error // what failed, if the handler said
}

type otlpSpanKey struct{}

func otlpSpanFrom(ctx context.Context) *otlpSpan {
	sp, _ := ctx.Value(otlpSpanKey{}).(*otlpSpan)
	return sp
}

// traceIDString is a trace id as the span store names it: a 64-bit one
// in 16 digits.
func traceIDString(id pcommon.TraceID) string {
	if [8]byte(id[:8]) == [8]byte{} {
		return hex.EncodeToString(id[8:])
	}
	return hex.EncodeToString(id[:])
}

// b3Parent reads the caller's trace from its B3 headers (web-api's
// zipkin-go sends them), as an SDK's B3 propagator does: a 64-bit trace
// id is padded to 128 bits with zeros, which obs reads back as the same
// trace.
func b3Parent(h http.Header) (pcommon.TraceID, pcommon.SpanID, bool) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	t, err1 := hex.DecodeString(h.Get("X-B3-TraceId"))
	s, err2 := hex.DecodeString(h.Get("X-B3-SpanId"))
	if err1 != nil || err2 != nil || (len(t) != 8 && len(t) != 16) || len(s) != 8 {
		return tid, sid, false
	}
	copy(tid[16-len(t):], t)
	copy(sid[:], s)
	return tid, sid, true
}

// randomID fills id with random bytes, not all zeros (an id of zeros is
// no id).
func randomID(id []byte) {
	for !slices.ContainsFunc(id, func(b byte) bool { return b != 0 }) {
		for i := range id {
			id[i] = byte(rand.Uint32())
		}
	}
}

// server is the instrumentation of an HTTP server: a SERVER span per
// request (a child of the caller's span when B3 headers name one), named
// and attributed as the HTTP semantic conventions say, and the request's
// duration in the http.server.request.duration histogram.
func (e *otlpExporter) server(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sp := &otlpSpan{start: time.Now()}
		randomID(sp.id[:])
		var ok bool
		if sp.trace, sp.parent, ok = b3Parent(r.Header); !ok {
			randomID(sp.trace[:]) // a root span: a new trace
		}
		inner := r.WithContext(context.WithValue(r.Context(), otlpSpanKey{}, sp))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, inner)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		// The mux set the pattern on the request it served.
		_, route, _ := strings.Cut(inner.Pattern, " ")
		e.endServer(sp, r, route, sw.code, time.Now())
	})
}

func (e *otlpExporter) endServer(sp *otlpSpan, r *http.Request, route string, code int, end time.Time) {
	name := r.Method
	if route != "" {
		name += " " + route
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	s.SetTraceID(sp.trace)
	s.SetSpanID(sp.id)
	s.SetParentSpanID(sp.parent)
	s.SetName(name)
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	a := s.Attributes()
	a.PutStr("http.request.method", r.Method)
	a.PutStr("url.path", r.URL.Path)
	a.PutStr("url.scheme", "http")
	if route != "" {
		a.PutStr("http.route", route)
	}
	a.PutInt("http.response.status_code", int64(code))
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		a.PutStr("server.address", host)
		if p, err := strconv.Atoi(port); err == nil {
			a.PutInt("server.port", int64(p))
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		a.PutStr("client.address", host)
	}
	if ua := r.UserAgent(); ua != "" {
		a.PutStr("user_agent.original", ua)
	}
	// A server span fails on a 5xx (the HTTP conventions); the handler's
	// error is its message and an exception event, as RecordError makes.
	if code >= 500 {
		a.PutStr("error.type", strconv.Itoa(code))
		s.Status().SetCode(ptrace.StatusCodeError)
		if sp.err != nil {
			s.Status().SetMessage(sp.err.Error())
			ev := s.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(end))
			ev.Attributes().PutStr("exception.message", sp.err.Error())
		}
	}

	k := histKey{r.Method, route, code}
	h := e.hist[k]
	if h == nil {
		h = &histPoint{counts: make([]uint64, len(durationBounds)+1)}
		e.hist[k] = h
	}
	secs := end.Sub(sp.start).Seconds()
	i, _ := slices.BinarySearch(durationBounds, secs) // bucket i holds (bounds[i-1], bounds[i]]
	h.counts[i]++
	h.sum += secs
}

// otlpLog is a service's log events as OTLP log records: the seed's type
// is the event name, its fields the attributes; the span in the
// request's context gives the ids.
type otlpLog struct {
	e       *otlpExporter
	service string
}

func (l otlpLog) name() string { return l.service }

func (l otlpLog) send(ctx context.Context, severity, typ, msg string, fields map[string]any) {
	now := pcommon.NewTimestampFromTime(time.Now())
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	lr := l.e.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
	lr.SetTimestamp(now)
	lr.SetObservedTimestamp(now)
	lr.SetSeverityText(severity)
	lr.SetSeverityNumber(severityNumbers[severity])
	lr.SetEventName(typ)
	lr.Body().SetStr(msg)
	for k, v := range fields {
		switch v := v.(type) {
		case string:
			lr.Attributes().PutStr(k, v)
		case int:
			lr.Attributes().PutInt(k, int64(v))
		case nil:
		default:
			lr.Attributes().PutStr(k, fmt.Sprint(v))
		}
	}
	if sp := otlpSpanFrom(ctx); sp != nil {
		lr.SetTraceID(sp.trace)
		lr.SetSpanID(sp.id)
	}
}

// failed notes a handler's error on the request's span.
func failed(ctx context.Context, err error) {
	if sp := otlpSpanFrom(ctx); sp != nil {
		sp.err = err
	}
}

// flush sends the pending spans and log records, each kind in one
// request. What obs asks to have sent again is retried (postBody); what
// it refuses for good, or still refuses after otlpRetryFor, is dropped
// and logged at debug level. Meanwhile new spans wait in the next batch,
// as in an SDK's batch processor.
func (e *otlpExporter) flush(ctx context.Context) {
	e.mu.Lock()
	td, ld := e.traces, e.logs
	e.traces, e.logs = e.newTraces(), e.newLogs()
	e.mu.Unlock()
	if n := td.SpanCount(); n > 0 && e.post(ctx, "/v1/traces", ptraceotlp.NewExportRequestFromTraces(td)) {
		e.spans.Add(int64(n))
	}
	if n := ld.LogRecordCount(); n > 0 && e.post(ctx, "/v1/logs", plogotlp.NewExportRequestFromLogs(ld)) {
		e.records.Add(int64(n))
	}
}

// exportMetrics sends the histogram, cumulative since the demo started.
func (e *otlpExporter) exportMetrics(ctx context.Context) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	e.resource.CopyTo(rm.Resource())
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	m := sm.Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	m.SetDescription("Duration of HTTP server requests.")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	now := pcommon.NewTimestampFromTime(time.Now())
	e.mu.Lock()
	for k, p := range e.hist {
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(e.start)
		dp.SetTimestamp(now)
		dp.Attributes().PutStr("http.request.method", k.method)
		dp.Attributes().PutStr("http.route", k.route)
		dp.Attributes().PutInt("http.response.status_code", int64(k.status))
		dp.ExplicitBounds().FromRaw(durationBounds)
		dp.BucketCounts().FromRaw(p.counts)
		var n uint64
		for _, c := range p.counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(p.sum)
	}
	e.mu.Unlock()
	if h.DataPoints().Len() > 0 && e.post(ctx, "/v1/metrics", pmetricotlp.NewExportRequestFromMetrics(md)) {
		e.exports.Add(1)
	}
}

// post sends one OTLP/HTTP protobuf request; true when obs took all of it.
func (e *otlpExporter) post(ctx context.Context, path string, req interface{ MarshalProto() ([]byte, error) }) bool {
	body, err := req.MarshalProto()
	if err == nil {
		err = e.postBody(ctx, path, body)
	}
	if err != nil {
		e.log.Debug("OTLP export not sent", "path", path, "err", err)
		return false
	}
	return true
}

// postBody sends one export, retrying as the OTel SDKs' exporters do: a
// 429, 502, 503 or 504 (obs answers 429/503 with Retry-After when its
// memory bound is reached) or a refused connection (obs restarting) is
// tried again after the Retry-After it gave or a doubling backoff, for up
// to otlpRetryFor; anything else is final. Before this the demo dropped
// the batch obs had asked it to send again.
func (e *otlpExporter) postBody(ctx context.Context, path string, body []byte) error {
	wait, deadline := otlpBackoff, time.Now().Add(otlpRetryFor)
	for {
		after, err := e.postOnce(ctx, path, body)
		if err == nil || after < 0 {
			return err
		}
		if after == 0 {
			after, wait = wait, min(2*wait, otlpRetryFor/4)
		}
		if time.Now().Add(after).After(deadline) {
			return fmt.Errorf("%w (gave up retrying after %v)", err, otlpRetryFor)
		}
		e.log.Debug("OTLP export will be retried", "path", path, "in", after, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (not retried: %w)", err, ctx.Err())
		case <-time.After(after):
		}
	}
}

// How long the demo keeps a refused export, and its first backoff (the
// SDKs: 5 s growing to 30 s, for a minute; the demo sends every second,
// so it waits less).
var (
	otlpRetryFor = 30 * time.Second
	otlpBackoff  = 250 * time.Millisecond
)

// postOnce sends once: nil on 200; else the error and when to try again
// (the receiver's Retry-After, 0 for the backoff, -1 for never).
func (e *otlpExporter) postOnce(ctx context.Context, path string, body []byte) (time.Duration, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+path, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	hr.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := e.client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return -1, err
		}
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK {
		return 0, nil
	}
	err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return sender.RetryAfter(resp.Header.Get("Retry-After")), err
	}
	return -1, err
}
