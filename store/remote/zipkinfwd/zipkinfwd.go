// Package zipkinfwd forwards the spans obs's Zipkin collector accepts to a
// Zipkin-compatible collector (Jaeger's zipkin receiver, Zipkin itself, an
// OpenTelemetry collector's zipkin receiver) as Zipkin v2 JSON, the
// format every one of them takes. Each accepted POST is one record of the
// disk queue (store/remote/queue) before the client gets its 202, so an
// engine outage or an obs restart loses nothing until the queue's bound;
// the sender (store/remote/sender) joins consecutive records into one
// gzipped request (every Zipkin collector takes Content-Encoding: gzip),
// retries 5xx, 429 and network errors and drops, counted, what the
// collector refuses for good.
package zipkinfwd

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/queue"
	"github.com/obs-dev/obs/store/remote/sender"
	"github.com/obs-dev/obs/store/traces"
)

// Options configure a Forwarder.
type Options struct {
	// Endpoint is the collector's span URL: a Zipkin collector's
	// .../api/v2/spans, or an OTLP/HTTP endpoint's .../v1/traces, to
	// which spans go as OTLP JSON (otlp.go).
	Endpoint endpoint.Config
	Queue    queue.Options
	// BatchSpans and BatchBytes bound one request (defaults 1000 spans,
	// zipkin-go's reporter batch, and 4 MiB, under every collector's
	// default body limit).
	BatchSpans, BatchBytes int
	// SyncEvery is how often the queue is made durable (default 1s).
	SyncEvery              time.Duration
	MinBackoff, MaxBackoff time.Duration
	UserAgent              string
	Log                    *slog.Logger
}

// Forwarder queues spans on disk and sends them to the collector. It is
// the zipkin collector's Committer when spans are stored remotely.
type Forwarder struct {
	*sender.Queued
	o Options
}

// Open opens the queue in dir (what an earlier run left is sent first).
func Open(dir string, o Options) (*Forwarder, error) {
	if o.BatchSpans <= 0 {
		o.BatchSpans = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	join := Join
	if IsOTLP(o.Endpoint.URL) {
		join = JoinOTLP
	}
	q, err := sender.OpenQueued(dir, o.Endpoint, o.Queue, sender.Config{Name: "span forwarding", Unit: "spans",
		Metric: "obs_traces_remote",
		Header: func(h http.Header) { h.Set("Content-Type", "application/json") },
		Join:   join, BatchItems: o.BatchSpans, BatchBytes: o.BatchBytes, Gzip: true, SyncEvery: o.SyncEvery,
		MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff, UserAgent: o.UserAgent, Log: o.Log})
	if err != nil {
		return nil, err
	}
	return &Forwarder{Queued: q, o: o}, nil
}

// Commit puts spans in the queue as one record, a Zipkin v2 JSON list of
// their canonical JSON, and returns once it is written (the OS has it: an
// obs crash loses none; Run makes it durable on disk within SyncEvery).
func (f *Forwarder) Commit(_ context.Context, spans []traces.Span) error {
	if len(spans) == 0 {
		return nil
	}
	n := 2
	for _, s := range spans {
		n += len(s.JSON) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, s := range spans {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, s.JSON...)
	}
	body = append(body, ']')
	return f.Append(len(spans), body)
}

// IsOTLP says whether a span URL is an OTLP/HTTP endpoint (its path ends
// in /v1/traces, the spec's), as opposed to a Zipkin collector's.
func IsOTLP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v1/traces")
}

// Join makes one JSON list of several: the records' lists end to end.
func Join(lists [][]byte) []byte {
	n := 2
	for _, l := range lists {
		n += len(l)
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for _, l := range lists {
		l = bytes.TrimSpace(l)
		inner := bytes.TrimSpace(l[1 : len(l)-1])
		if len(inner) == 0 {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, inner...)
	}
	return append(out, ']')
}
