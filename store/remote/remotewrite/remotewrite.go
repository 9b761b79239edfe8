// Package remotewrite forwards what obs stores as metrics to a remote
// engine by Prometheus remote write 1.0: protobuf WriteRequests
// (Prometheus's own prompb types), snappy-compressed, POSTed as Prometheus
// and its agent mode send them. Every batch goes through a disk-backed
// queue (store/remote/queue) first, so an engine outage or an obs restart
// loses nothing until the queue's bound; the sender retries 5xx, 429 and
// network errors with capped exponential backoff (honouring Retry-After)
// and drops, counted, what the engine refuses for good (other 4xx), as the
// spec asks.
//
// Prometheus's own sender (storage/remote.QueueManager) is not used: it
// tails a TSDB WAL and does not resume after a restart, and its package
// pulls in the OTLP write handler and the OpenTelemetry collector with it.
package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/queue"
	"github.com/obs-dev/obs/store/remote/sender"
)

// Options configure a Forwarder.
type Options struct {
	Endpoint endpoint.Config
	// Queue is the disk queue's bound and segment size.
	Queue queue.Options
	// BatchSamples is the most samples in one request (default 2000, as
	// Prometheus's max_samples_per_send).
	BatchSamples int
	// FlushEvery is the longest a sample waits in memory before it is in
	// the disk queue (default 1s).
	FlushEvery time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries (defaults
	// 30ms and 5s, Prometheus's: see store/remote/sender).
	MinBackoff, MaxBackoff time.Duration
	// UserAgent names obs and its version in requests.
	UserAgent string
	Log       *slog.Logger
}

// Forwarder queues samples on disk and sends them to the engine.
type Forwarder struct {
	o   Options
	q   *queue.Queue
	s   *sender.Sender
	log *slog.Logger

	mu      sync.Mutex
	pending []prompb.TimeSeries
	nPend   int
	closed  bool
}

// Open opens the queue in dir (what an earlier run left is sent first).
func Open(dir string, o Options) (*Forwarder, error) {
	if o.BatchSamples <= 0 {
		o.BatchSamples = 2000
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	f := &Forwarder{o: o, log: o.Log}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	s, q, err := sender.Open(dir, o.Endpoint, o.Queue, sender.Config{Name: "remote write", Unit: "samples", Metric: "obs_remote_write",
		Header: func(h http.Header) {
			h.Set("Content-Encoding", "snappy")
			h.Set("Content-Type", "application/x-protobuf")
			h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		},
		// The spec lets an engine that refuses part of a batch say how
		// many samples it wrote: those count as sent, not dropped.
		Written: func(h http.Header) int64 {
			n, _ := strconv.ParseInt(h.Get("X-Prometheus-Remote-Write-Samples-Written"), 10, 64)
			return n
		},
		// The batch in memory goes to the queue at least every FlushEvery.
		SyncEvery: o.FlushEvery, Tick: f.flush,
		MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff, UserAgent: o.UserAgent, Log: f.log})
	if err != nil {
		return nil, err
	}
	f.q, f.s = q, s
	return f, nil
}

// Write adds samples to the batch in memory; a full batch goes to the disk
// queue at once, a partial one within FlushEvery. It fails only when the
// queue cannot take a batch (counted).
func (f *Forwarder) Write(_ context.Context, samples []metrics.Sample) error {
	var errs []error
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("remote write: closed")
	}
	for _, s := range samples {
		f.pending = append(f.pending, toSeries(s))
		f.nPend++
		if f.nPend >= f.o.BatchSamples {
			if err := f.flushLocked(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// toSeries builds one series with one sample; labels sorted, as the spec
// requires.
func toSeries(s metrics.Sample) prompb.TimeSeries {
	ls := make([]prompb.Label, 0, len(s.Labels)+1)
	ls = append(ls, prompb.Label{Name: "__name__", Value: s.Name})
	for _, l := range s.Labels {
		ls = append(ls, prompb.Label{Name: l.Name, Value: l.Value})
	}
	for i := 1; i < len(ls); i++ { // few labels: insertion sort
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
	return prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: s.Value, Timestamp: s.TS}}}
}

// flushLocked encodes the pending batch into one queue record.
func (f *Forwarder) flushLocked() error {
	if f.nPend == 0 {
		return nil
	}
	n := f.nPend
	body, err := Encode(f.pending)
	f.pending, f.nPend = f.pending[:0], 0
	if err == nil {
		err = f.q.Append(n, body)
	}
	if err != nil {
		reason := sender.QueueError
		if errors.Is(err, queue.ErrTooBig) {
			reason = sender.TooBig
		}
		f.s.DroppedBeforeQueue(reason, n, err)
		return fmt.Errorf("remote write: queue %d samples: %w", n, err)
	}
	f.s.Queued(n)
	return nil
}

// Encode is a WriteRequest, protobuf then snappy (block format), the body
// remote write sends.
func Encode(ts []prompb.TimeSeries) ([]byte, error) {
	req := prompb.WriteRequest{Timeseries: ts}
	raw, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode write request: %w", err)
	}
	return snappy.Encode(nil, raw), nil
}

// Decode is Encode's inverse (tests, and tools that read a queue).
func Decode(body []byte) (*prompb.WriteRequest, error) {
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("protobuf: %w", err)
	}
	return &req, nil
}

// Run sends the queue to the engine until ctx ends: the owner's goroutine.
// It also moves the in-memory batch to disk every FlushEvery and makes the
// queue durable.
func (f *Forwarder) Run(ctx context.Context) { f.s.Run(ctx) }

// flush moves the in-memory batch into the queue.
func (f *Forwarder) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.flushLocked()
	}
}

// Close moves the in-memory batch into the queue and makes the queue
// durable; what is unsent is sent by the next run.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	err := f.flushLocked()
	f.closed = true
	f.mu.Unlock()
	return errors.Join(err, f.q.Close())
}

// Stats are the forwarder's figures.
type Stats = sender.Stats

func (f *Forwarder) inMemory() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(f.nPend)
}

// Stats returns the counters.
func (f *Forwarder) Stats() Stats { return f.s.Stats(f.inMemory()) }

// Health is the /health probe: DEGRADED while the engine is failing with
// samples waiting, or for 15 minutes after a sample was dropped.
func (f *Forwarder) Health() (status, detail string) { return f.s.Health(f.inMemory()) }

// Collectors are the forwarder's metrics for /metrics
// (obs_remote_write_*).
func (f *Forwarder) Collectors() []prometheus.Collector { return f.s.Collectors(f.inMemory) }
