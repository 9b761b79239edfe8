// Package otlp is the OpenTelemetry receiver: OTLP/HTTP (POST /v1/traces,
// /v1/metrics, /v1/logs; protobuf or JSON, gzip or not) and OTLP/gRPC (the
// three Export services). Requests are decoded by the OpenTelemetry
// Collector's own pdata library, which implements OTLP/JSON's rules (hex
// ids, enums as numbers or names, 64-bit integers as strings); spans land
// in the span store as Zipkin spans, log records in the log store as
// events, data points in the TSDB under the names Prometheus's OTLP
// receiver gives them. Each request is answered as the OTLP
// specification says: success with partial_success when some items were
// dropped (counted, with the first reason), a google.rpc.Status for a
// malformed request, retryable codes while obs sheds or a store is behind.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/obs-dev/obs/ingest/memguard"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/traces"
)

// SpanCommitter stores spans durably: Commit returns once they would
// survive a crash, or traces.ErrQueueFull when the store is too far behind.
type SpanCommitter interface {
	Commit(context.Context, []traces.Span) error
}

// LogCommitter stores log events durably, as SpanCommitter
// (logs.ErrQueueFull when behind).
type LogCommitter interface {
	Commit(context.Context, []logs.Entry) error
}

// Options configure the receiver.
type Options struct {
	Spans   SpanCommitter
	Logs    LogCommitter
	Metrics storage.AppendableV2
	// MaxBody bounds one request, decompressed (HTTP 413, gRPC
	// RESOURCE_EXHAUSTED beyond).
	MaxBody int64
	// Inflight bounds the bytes all requests hold while they are decoded
	// and stored; a request that does not fit is answered as busy.
	Inflight *memguard.Inflight
	// Shed says whether the memory guard is shedding (gRPC; HTTP is
	// wrapped by the guard's handler instead).
	Shed func() bool
	// MetricsMaxAge refuses data points older than this (the TSDB's
	// retention; default a year).
	MetricsMaxAge time.Duration
	// MaxFuture and MaxPast keep a log record's day near its receive
	// time, as for every other log intake (see logudp.Bounds).
	MaxFuture, MaxPast time.Duration
	Log                *slog.Logger
	Registerer         prometheus.Registerer
}

// Signals and transports, as the counters name them.
const (
	sigTraces  = "traces"
	sigMetrics = "metrics"
	sigLogs    = "logs"

	transportHTTP = "http"
	transportGRPC = "grpc"
)

// Receiver is what OTLP/HTTP and OTLP/gRPC share: mapping, storing,
// counting.
type Receiver struct {
	o        Options
	log      *slog.Logger
	items    *prometheus.CounterVec
	rejected *prometheus.CounterVec
	refused  *prometheus.CounterVec
	cut      *prometheus.CounterVec
	totals   map[string]*[2]atomic.Int64 // stored, rejected
}

// New builds the receiver and registers its counters.
func New(o Options) *Receiver {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 16 << 20
	}
	r := &Receiver{o: o, log: o.Log,
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_otlp_items_total",
			Help: "Items taken from OTLP: spans, data points, log records; by signal and transport (http, grpc)."}, []string{"signal", "transport"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_otlp_rejected_total",
			Help: "Items of accepted OTLP requests that were dropped (reported as partial_success), by signal and reason: invalid_id (spans), delta (data points of delta temporality), invalid (no type, unspecified temporality, untranslatable), out_of_bounds (dated before the retention or over 10m ahead), store (samples the TSDB refused: out of order, duplicate)."},
			[]string{"signal", "reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_otlp_requests_refused_total",
			Help: "Whole OTLP requests refused, by signal, transport and reason: decode (400), too_large (413), content_type (415), gzip (400), busy (503 / UNAVAILABLE: a store is behind or too much is in flight), store (500 / INTERNAL)."},
			[]string{"signal", "transport", "reason"}),
		cut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_otlp_fields_cut_total",
			Help: "Attributes, events and links dropped from spans, and attributes from log records, past the per-item bounds."}, []string{"signal"}),
	}
	r.totals = map[string]*[2]atomic.Int64{}
	for _, s := range []string{sigTraces, sigMetrics, sigLogs} {
		r.totals[s] = new([2]atomic.Int64)
		for _, t := range []string{transportHTTP, transportGRPC} {
			r.items.WithLabelValues(s, t)
		}
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.items, r.rejected, r.refused, r.cut)
	}
	return r
}

// Totals are what came in over OTLP for one signal, for /health.
type Totals struct{ Stored, Rejected int64 }

// Totals per signal: traces, metrics, logs.
func (r *Receiver) Totals() map[string]Totals {
	out := map[string]Totals{}
	for s, t := range r.totals {
		out[s] = Totals{t[0].Load(), t[1].Load()}
	}
	return out
}

func (r *Receiver) stored(signal, transport string, n int) {
	r.items.WithLabelValues(signal, transport).Add(float64(n))
	r.totals[signal][0].Add(int64(n))
}

func (r *Receiver) reject(signal, reason string, n int) {
	r.rejected.WithLabelValues(signal, reason).Add(float64(n))
	r.totals[signal][1].Add(int64(n))
}

// partial is what an accepted request lost: the rejected count and why
// the first item was (the partial_success of the response).
type partial struct {
	rejected int64
	msg      string
}

// failure is a request refused whole. busy ones are retryable (HTTP 503,
// gRPC UNAVAILABLE); others are server errors.
type failure struct {
	reason string // busy, store
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func (r *Receiver) refuse(signal, transport, reason string) {
	r.refused.WithLabelValues(signal, transport, reason).Inc()
}

// commitErr classifies a store's answer (each transport counts it as it
// answers).
func (r *Receiver) commitErr(signal, transport string, n int, err error) error {
	if errors.Is(err, traces.ErrQueueFull) || errors.Is(err, logs.ErrQueueFull) {
		return &failure{"busy", fmt.Errorf("the %s store is behind, retry: %w", signal, err)}
	}
	r.log.Error("store OTLP items", "signal", signal, "transport", transport, "items", n, "err", err)
	return &failure{"store", fmt.Errorf("store %s: %w", signal, err)}
}

// commit runs a store's write of n items, classifying its error.
func (r *Receiver) commit(signal, transport string, n int, write func() error) error {
	if n == 0 {
		return nil
	}
	if err := write(); err != nil {
		return r.commitErr(signal, transport, n, err)
	}
	return nil
}

// items name what a signal carries, for partial_success messages.
var items = map[string]string{sigTraces: "span(s)", sigMetrics: "data point(s)", sigLogs: "log record(s)"}

// finish counts a stored request and says what it lost.
func (r *Receiver) finish(signal, transport string, stored, cut int, rej *rejections) partial {
	r.stored(signal, transport, stored)
	if cut > 0 {
		r.cut.WithLabelValues(signal).Add(float64(cut))
	}
	if rej.total == 0 {
		return partial{}
	}
	for reason, n := range rej.n {
		r.reject(signal, reason, n)
	}
	r.log.Debug("OTLP items rejected", "signal", signal, "rejected", rej.total, "first", rej.first)
	return partial{int64(rej.total), fmt.Sprintf("%d %s rejected; the first: %s", rej.total, items[signal], rej.first)}
}

// traces maps and stores one request's spans.
func (r *Receiver) traces(ctx context.Context, td ptrace.Traces, transport string) (partial, error) {
	res := spansOf(td)
	if err := r.commit(sigTraces, transport, len(res.Spans), func() error { return r.o.Spans.Commit(ctx, res.Spans) }); err != nil {
		return partial{}, err
	}
	var rej rejections
	rej.add("invalid_id", res.Rejected, res.Reason)
	return r.finish(sigTraces, transport, len(res.Spans), res.Cut, &rej), nil
}

// logs maps and stores one request's log records.
func (r *Receiver) logs(ctx context.Context, ld plog.Logs, transport string) (partial, error) {
	res := entriesOf(ld, time.Now(), r.o.MaxFuture, r.o.MaxPast)
	if err := r.commit(sigLogs, transport, len(res.Entries), func() error { return r.o.Logs.Commit(ctx, res.Entries) }); err != nil {
		return partial{}, err
	}
	return r.finish(sigLogs, transport, len(res.Entries), res.Cut, &rejections{}), nil
}

// metrics stores one request's data points: what Prometheus would not
// store is removed (and reported), the rest written.
func (r *Receiver) metrics(ctx context.Context, md pmetric.Metrics, transport string) (partial, error) {
	now := time.Now()
	maxAge := r.o.MetricsMaxAge
	if maxAge <= 0 {
		maxAge = defaultMaxAge
	}
	var rej rejections
	filterMetrics(md, now.Add(-maxAge).UnixMilli(), now.Add(maxAhead).UnixMilli(), &rej)
	n := md.DataPointCount()
	if err := r.commit(sigMetrics, transport, n, func() error { return writeMetrics(ctx, r.o.Metrics, md, &rej) }); err != nil {
		return partial{}, err
	}
	return r.finish(sigMetrics, transport, max(n-rej.n["invalid"], 0), 0, &rej), nil
}
