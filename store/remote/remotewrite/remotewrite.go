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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/queue"
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
	// 30ms and 5s, Prometheus's).
	MinBackoff, MaxBackoff time.Duration
	// UserAgent names obs and its version in requests.
	UserAgent string
	Log       *slog.Logger
}

// Forwarder queues samples on disk and sends them to the engine.
type Forwarder struct {
	o   Options
	ep  *endpoint.Endpoint
	q   *queue.Queue
	log *slog.Logger

	mu      sync.Mutex
	pending []prompb.TimeSeries
	nPend   int
	closed  bool

	queued, sent, retries, rejected, tooBig, queueErr atomic.Int64
	lastOK, lastFail                                  atomic.Int64 // unix ms
	lastDrop                                          atomic.Int64
	lastErr                                           atomic.Pointer[string]
}

// Open opens the queue in dir (what an earlier run left is sent first).
func Open(dir string, o Options) (*Forwarder, error) {
	if o.BatchSamples <= 0 {
		o.BatchSamples = 2000
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 30 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.UserAgent == "" {
		o.UserAgent = "obs"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ep, err := endpoint.New(o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("remote write url: %w", err)
	}
	o.Queue.Log = o.Log
	q, err := queue.Open(dir, o.Queue)
	if err != nil {
		return nil, fmt.Errorf("open remote write queue: %w", err)
	}
	return &Forwarder{o: o, ep: ep, q: q, log: o.Log}, nil
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
		if errors.Is(err, queue.ErrTooBig) {
			f.tooBig.Add(int64(n))
		} else {
			f.queueErr.Add(int64(n))
		}
		f.lastDrop.Store(time.Now().UnixMilli())
		f.setErr(fmt.Sprintf("queue %d samples: %v", n, err))
		return fmt.Errorf("remote write: queue %d samples: %w", n, err)
	}
	f.queued.Add(int64(n))
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
func (f *Forwarder) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(f.o.FlushEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f.mu.Lock()
				if !f.closed {
					f.flushLocked()
				}
				f.mu.Unlock()
				if err := f.q.Sync(); err != nil {
					f.log.Warn("remote write queue sync", "err", err)
				}
			}
		}
	}()
	defer func() { <-done }()
	for {
		rec, err := f.q.Peek(ctx)
		if err != nil {
			return
		}
		if !f.deliver(ctx, rec) {
			return
		}
		f.q.Ack(rec)
	}
}

// deliver sends one record until the engine takes or refuses it; false
// when ctx ended first (the record stays queued).
func (f *Forwarder) deliver(ctx context.Context, rec queue.Record) bool {
	backoff := f.o.MinBackoff
	for attempt := 0; ; attempt++ {
		wait, err := f.send(ctx, rec.Data, attempt)
		if err == nil {
			f.sent.Add(int64(rec.Count))
			f.lastOK.Store(time.Now().UnixMilli())
			return true
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			n := int64(rec.Count) - perm.written
			f.rejected.Add(n)
			f.sent.Add(perm.written)
			f.lastDrop.Store(time.Now().UnixMilli())
			f.setErr(err.Error())
			f.log.Error("remote write refused a batch; dropped", "samples", n, "err", err)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		f.retries.Add(1)
		f.lastFail.Store(time.Now().UnixMilli())
		f.setErr(err.Error())
		if attempt == 0 || attempt%20 == 0 {
			f.log.Warn("remote write failed; retrying", "attempt", attempt+1, "err", err)
		}
		if wait <= 0 {
			wait = backoff
			backoff = min(backoff*2, f.o.MaxBackoff)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// permanentError is a refusal the spec says not to retry.
type permanentError struct {
	msg     string
	written int64 // samples the engine says it took anyway
}

func (p *permanentError) Error() string { return p.msg }

// send POSTs one body. A recoverable failure returns the wait the engine
// asked for (Retry-After), 0 for the caller's backoff.
func (f *Forwarder) send(ctx context.Context, body []byte, attempt int) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.ep.URL("").String(), bytes.NewReader(body))
	if err != nil {
		return 0, &permanentError{msg: f.ep.Errorf("remote write", err).Error()}
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", f.o.UserAgent)
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	if attempt > 0 {
		req.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
	}
	f.ep.Authorize(req)
	resp, err := f.ep.Client.Do(req)
	if err != nil {
		return 0, f.ep.Errorf("remote write", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	err = f.ep.Errorf("remote write", fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(msg)))
	if resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests {
		return retryAfter(resp.Header.Get("Retry-After")), err
	}
	written, _ := strconv.ParseInt(resp.Header.Get("X-Prometheus-Remote-Write-Samples-Written"), 10, 64)
	return 0, &permanentError{msg: err.Error(), written: written}
}

// retryAfter reads seconds or an HTTP date, capped at 5 minutes so that a
// bad header cannot stall forwarding for hours.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(h); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), 5*time.Minute)
}

func (f *Forwarder) setErr(s string) { f.lastErr.Store(&s) }

// Close moves the in-memory batch into the queue and makes the queue
// durable; what is unsent is sent by the next run.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	err := f.flushLocked()
	f.closed = true
	f.mu.Unlock()
	return errors.Join(err, f.q.Close())
}

// dropReasons label obs_remote_write_samples_dropped_total.
var dropReasons = []string{"queue_full", "rejected", "corrupt", "too_big", "queue_error"}

// Stats are the forwarder's figures.
type Stats struct {
	Queued, Sent, Retries int64
	Pending               int64
	QueueBytes            int64
	Dropped               map[string]int64 // by reason: see dropReasons
	LastOK                time.Time
}

// Stats returns the counters.
func (f *Forwarder) Stats() Stats {
	qs := f.q.Stats()
	f.mu.Lock()
	inMemory := int64(f.nPend)
	f.mu.Unlock()
	s := Stats{Queued: f.queued.Load(), Sent: f.sent.Load(), Retries: f.retries.Load(),
		Pending: qs.PendingItems + inMemory, QueueBytes: qs.Bytes,
		Dropped: map[string]int64{"queue_full": qs.DroppedFull, "rejected": f.rejected.Load(),
			"corrupt": qs.CorruptItems, "too_big": f.tooBig.Load(), "queue_error": f.queueErr.Load()}}
	if ms := f.lastOK.Load(); ms > 0 {
		s.LastOK = time.UnixMilli(ms)
	}
	return s
}

// DroppedTotal is every sample obs gave up on.
func (s Stats) DroppedTotal() int64 {
	var n int64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Health is the /health probe: DEGRADED while the engine is failing with
// samples waiting, or for 15 minutes after a sample was dropped.
func (f *Forwarder) Health() (status, detail string) {
	s := f.Stats()
	base := fmt.Sprintf("%s: %d samples sent, %d queued (%.1f MiB of %d MiB)", f.ep, s.Sent, s.Pending,
		float64(s.QueueBytes)/(1<<20), f.queueMax()>>20)
	if d := s.DroppedTotal(); d > 0 {
		base += fmt.Sprintf(", %d dropped (queue full %d, refused %d, damaged %d, too big %d, queue error %d)", d,
			s.Dropped["queue_full"], s.Dropped["rejected"], s.Dropped["corrupt"], s.Dropped["too_big"], s.Dropped["queue_error"])
	}
	failing := f.lastFail.Load() > f.lastOK.Load() && s.Pending > 0
	recentDrop := time.Since(time.UnixMilli(f.lastDrop.Load())) < 15*time.Minute
	if failing || recentDrop {
		why := ""
		if p := f.lastErr.Load(); p != nil {
			why = "; last error: " + *p
		}
		return "DEGRADED", base + why
	}
	return "OK", base
}

func (f *Forwarder) queueMax() int64 {
	if f.o.Queue.MaxBytes > 0 {
		return f.o.Queue.MaxBytes
	}
	return 1 << 30
}

// Collectors are the forwarder's metrics for /metrics.
func (f *Forwarder) Collectors() []prometheus.Collector {
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	cs := []prometheus.Collector{
		counter("obs_remote_write_samples_queued_total", "Samples put in the disk queue for the remote engine.", f.queued.Load),
		counter("obs_remote_write_samples_sent_total", "Samples the remote engine accepted.", f.sent.Load),
		counter("obs_remote_write_retries_total", "Remote write requests retried (5xx, 429, network errors).", f.retries.Load),
		gauge("obs_remote_write_samples_pending", "Samples not yet accepted by the engine: in the disk queue, or in the batch about to join it.", func() float64 { return float64(f.Stats().Pending) }),
		gauge("obs_remote_write_queue_bytes", "Bytes the disk queue holds.", func() float64 { return float64(f.q.Stats().Bytes) }),
		gauge("obs_remote_write_queue_max_bytes", "The disk queue's bound.", func() float64 { return float64(f.queueMax()) }),
		gauge("obs_remote_write_last_success_timestamp_seconds", "When the engine last accepted a batch.", func() float64 { return float64(f.lastOK.Load()) / 1000 }),
	}
	for _, reason := range dropReasons {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_remote_write_samples_dropped_total",
			Help:        "Samples given up on: queue_full (oldest dropped at the bound), rejected (the engine refused them: 4xx), corrupt (damaged on disk), too_big (a batch over half the queue), queue_error (the disk refused the append).",
			ConstLabels: prometheus.Labels{"reason": reason}},
			func() float64 { return float64(f.Stats().Dropped[reason]) }))
	}
	return cs
}
