// Package sender drains a signal's disk queue (store/remote/queue) to a
// remote engine over HTTP, with the rules every forwarder of obs keeps:
// records leave the queue in order and only once the engine answered 2xx;
// 5xx, 429 and network errors are retried with capped exponential backoff
// (a Retry-After is honoured, up to 5 minutes); any other 4xx is the
// engine refusing the batch for good, dropped and counted, not retried.
// It also keeps the figures that /health, obs status and /metrics show,
// under one metric prefix per signal (obs_remote_write_* for metrics,
// obs_traces_remote_* for spans), so that each forwarder only encodes.
package sender

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/queue"
)

// Config is what differs between signals.
type Config struct {
	// Name starts log lines and errors ("remote write").
	Name string
	// Unit names the items in figures and metrics ("samples", "spans").
	Unit string
	// Metric prefixes the metric names ("obs_remote_write").
	Metric string
	// Header sets the request's content headers (type, encoding, version).
	Header func(http.Header)
	// Join makes the request body of the records' data (one record or
	// several: PeekBatch), in the wire format; nil sends each record's
	// data as it is, one per request.
	Join func([][]byte) []byte
	// BatchItems and BatchBytes bound a joined request.
	BatchItems, BatchBytes int
	// Gzip compresses each request body (Content-Encoding: gzip), for
	// formats that are not compressed already (JSON spans: 5-10 times
	// fewer bytes on the wire for a few percent of a core).
	Gzip bool
	// Written reads how many items the engine says it took of a batch it
	// refused (Prometheus's X-Prometheus-Remote-Write-Samples-Written);
	// nil: none.
	Written func(http.Header) int64
	// Items reads a 2xx answer that reports items one by one (Elasticsearch's
	// _bulk: a 200 may hold refused items): rejected is how many of the
	// batch the engine refused for good (counted, not retried); a non-nil
	// retry sends the whole batch again after the backoff, for answers where
	// some items may succeed on a second try (429, 5xx per item) and the
	// format makes resending the others harmless. nil: a 2xx takes all.
	Items func(body []byte) (rejected int64, why string, retry error)
	// MinBackoff and MaxBackoff bound the wait between retries (defaults
	// 30ms and 5s, Prometheus's).
	MinBackoff, MaxBackoff time.Duration
	// SyncEvery is how often Run calls Tick and makes the queue durable
	// (default 1s).
	SyncEvery time.Duration
	// Tick, when set, moves what the owner holds in memory into the
	// queue (a partial batch).
	Tick      func()
	UserAgent string
	Log       *slog.Logger
}

// Sender sends one queue to one endpoint.
type Sender struct {
	c  Config
	ep *endpoint.Endpoint
	q  *queue.Queue
	// max is the queue's bound, for the figures.
	max int64

	queued, sent, retries, rejected, tooBig, queueErr atomic.Int64
	lastOK, lastFail, lastDrop                        atomic.Int64 // unix ms
	lastErr                                           atomic.Pointer[string]
}

// Open opens the queue in dir and a sender of it to the engine at e: what
// an earlier run left in the queue is sent first. what names the signal in
// errors ("remote write").
func Open(dir string, e endpoint.Config, qo queue.Options, c Config) (*Sender, *queue.Queue, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	ep, err := endpoint.New(e)
	if err != nil {
		return nil, nil, fmt.Errorf("%s url: %w", c.Name, err)
	}
	qo.Log = c.Log
	q, err := queue.Open(dir, qo)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s queue: %w", c.Name, err)
	}
	return New(c, ep, q, qo.MaxBytes), q, nil
}

// New returns a sender of q to ep; maxBytes is the queue's bound.
func New(c Config, ep *endpoint.Endpoint, q *queue.Queue, maxBytes int64) *Sender {
	if c.MinBackoff <= 0 {
		c.MinBackoff = 30 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "obs"
	}
	if c.SyncEvery <= 0 {
		c.SyncEvery = time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	return &Sender{c: c, ep: ep, q: q, max: maxBytes}
}

// Queued counts n items appended to the queue by the owner.
func (s *Sender) Queued(n int) { s.queued.Add(int64(n)) }

// Reasons for which the owner drops items before they are queued.
const (
	TooBig     = "too_big"     // a batch over half the queue
	QueueError = "queue_error" // the disk refused the append
)

// DroppedBeforeQueue counts n items the owner could not queue.
func (s *Sender) DroppedBeforeQueue(reason string, n int, err error) {
	if reason == TooBig {
		s.tooBig.Add(int64(n))
	} else {
		s.queueErr.Add(int64(n))
	}
	s.lastDrop.Store(time.Now().UnixMilli())
	s.setErr(fmt.Sprintf("queue %d %s: %v", n, s.c.Unit, err))
}

// Run sends the queue until ctx ends: the owner's goroutine. Every
// SyncEvery it also calls Tick and makes the queue durable.
func (s *Sender) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.c.SyncEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if s.c.Tick != nil {
					s.c.Tick()
				}
				if err := s.q.Sync(); err != nil {
					s.c.Log.Warn(s.c.Name+" queue sync", "err", err)
				}
			}
		}
	}()
	defer func() { <-done }()
	for {
		recs, err := s.peek(ctx)
		if err != nil {
			return
		}
		if !s.deliver(ctx, recs) {
			return
		}
	}
}

func (s *Sender) peek(ctx context.Context) ([]queue.Record, error) {
	if s.c.Join == nil {
		r, err := s.q.Peek(ctx)
		return []queue.Record{r}, err
	}
	return s.q.PeekBatch(ctx, max(s.c.BatchItems, 1), max(s.c.BatchBytes, 1))
}

// deliver sends records until the engine takes or refuses them, and
// acknowledges them in the queue; false when ctx ended first (they stay
// queued).
func (s *Sender) deliver(ctx context.Context, recs []queue.Record) bool {
	count := 0
	body := recs[0].Data
	for _, r := range recs {
		count += r.Count
	}
	if s.c.Join != nil {
		parts := make([][]byte, len(recs))
		for i, r := range recs {
			parts[i] = r.Data
		}
		body = s.c.Join(parts)
	}
	gzipped := false
	if s.c.Gzip {
		if z, err := gzipBody(body); err == nil {
			body, gzipped = z, true
		}
	}
	backoff := s.c.MinBackoff
	for attempt := 0; ; attempt++ {
		wait, rejected, err := s.send(ctx, body, gzipped, attempt)
		if err == nil {
			// Out of the queue before counted as sent: whoever sees sent
			// reach a figure sees pending down by as much.
			s.ack(recs)
			s.sent.Add(int64(count) - rejected.n)
			s.lastOK.Store(time.Now().UnixMilli())
			if rejected.n > 0 {
				s.rejected.Add(rejected.n)
				s.lastDrop.Store(time.Now().UnixMilli())
				s.setErr(rejected.why)
				s.c.Log.Error(s.c.Name+" refused items of a batch; dropped", s.c.Unit, rejected.n, "err", rejected.why)
			}
			return true
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			s.ack(recs)
			n := int64(count) - perm.written
			s.rejected.Add(n)
			s.sent.Add(perm.written)
			s.lastDrop.Store(time.Now().UnixMilli())
			s.setErr(err.Error())
			s.c.Log.Error(s.c.Name+" refused a batch; dropped", s.c.Unit, n, "err", err)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.retries.Add(1)
		s.lastFail.Store(time.Now().UnixMilli())
		s.setErr(err.Error())
		if attempt == 0 || attempt%20 == 0 {
			s.c.Log.Warn(s.c.Name+" failed; retrying", "attempt", attempt+1, "err", err)
		}
		if wait <= 0 {
			wait = backoff
			backoff = min(backoff*2, s.c.MaxBackoff)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// ack takes delivered (or refused for good) records out of the queue.
func (s *Sender) ack(recs []queue.Record) {
	for _, r := range recs {
		s.q.Ack(r)
	}
}

// gzipBody compresses at the fastest level: the sender keeps up with
// ingest first, the wire second.
func gzipBody(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip request: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip request: %w", err)
	}
	return buf.Bytes(), nil
}

// permanentError is a refusal not to retry.
type permanentError struct {
	msg     string
	written int64 // items the engine says it took anyway
}

func (p *permanentError) Error() string { return p.msg }

// refused is what an item-by-item answer refused of a delivered batch.
type refused struct {
	n   int64
	why string
}

// maxItemsAnswer bounds the item-by-item answer read for Items (about 150
// bytes per item in _bulk's: far more than a batch has).
const maxItemsAnswer = 64 << 20

// send POSTs one body. A recoverable failure returns the wait the engine
// asked for (Retry-After), 0 for the caller's backoff; on success,
// rejected is what Items says the engine refused of the batch.
func (s *Sender) send(ctx context.Context, body []byte, gzipped bool, attempt int) (wait time.Duration, rejected refused, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ep.URL("").String(), bytes.NewReader(body))
	if err != nil {
		return 0, refused{}, &permanentError{msg: s.ep.Errorf(s.c.Name, err).Error()}
	}
	if s.c.Header != nil {
		s.c.Header(req.Header)
	}
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", s.c.UserAgent)
	if attempt > 0 {
		req.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
	}
	s.ep.Authorize(req)
	resp, err := s.ep.Client.Do(req)
	if err != nil {
		return 0, refused{}, s.ep.Errorf(s.c.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 && s.c.Items != nil {
		answer, err := io.ReadAll(io.LimitReader(resp.Body, maxItemsAnswer))
		if err != nil {
			return 0, refused{}, s.ep.Errorf(s.c.Name, fmt.Errorf("read the answer: %w", err))
		}
		n, why, retry := s.c.Items(answer)
		if retry != nil {
			return 0, refused{}, s.ep.Errorf(s.c.Name, retry)
		}
		return 0, refused{n, why}, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return 0, refused{}, nil
	}
	err = s.ep.Errorf(s.c.Name, fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(msg)))
	if resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests {
		return RetryAfter(resp.Header.Get("Retry-After")), refused{}, err
	}
	var written int64
	if s.c.Written != nil {
		written = s.c.Written(resp.Header)
	}
	return 0, refused{}, &permanentError{msg: err.Error(), written: written}
}

// RetryAfter reads seconds or an HTTP date, capped at 5 minutes so that a
// bad header cannot stall forwarding for hours.
func RetryAfter(h string) time.Duration {
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

func (s *Sender) setErr(msg string) { s.lastErr.Store(&msg) }

// dropReasons label the dropped counter.
var dropReasons = []string{"queue_full", "rejected", "corrupt", TooBig, QueueError}

// Stats are the sender's figures.
type Stats struct {
	Queued, Sent, Retries int64
	Pending               int64
	QueueBytes            int64
	Dropped               map[string]int64 // by reason: see dropReasons
	LastOK                time.Time
}

// Stats returns the counters; inMemory is what the owner holds that is
// not in the queue yet.
func (s *Sender) Stats(inMemory int64) Stats {
	qs := s.q.Stats()
	st := Stats{Queued: s.queued.Load(), Sent: s.sent.Load(), Retries: s.retries.Load(),
		Pending: qs.PendingItems + inMemory, QueueBytes: qs.Bytes,
		Dropped: map[string]int64{"queue_full": qs.DroppedFull, "rejected": s.rejected.Load(),
			"corrupt": qs.CorruptItems, TooBig: s.tooBig.Load(), QueueError: s.queueErr.Load()}}
	if ms := s.lastOK.Load(); ms > 0 {
		st.LastOK = time.UnixMilli(ms)
	}
	return st
}

// DroppedTotal is every item given up on.
func (s Stats) DroppedTotal() int64 {
	var n int64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Health is the /health probe: DEGRADED while the engine is failing with
// items waiting, or for 15 minutes after an item was dropped.
func (s *Sender) Health(inMemory int64) (status, detail string) {
	st := s.Stats(inMemory)
	u := s.c.Unit
	base := fmt.Sprintf("%s: %d %s sent, %d queued (%.1f MiB of %d MiB)", s.ep, st.Sent, u, st.Pending,
		float64(st.QueueBytes)/(1<<20), s.max>>20)
	if d := st.DroppedTotal(); d > 0 {
		base += fmt.Sprintf(", %d dropped (queue full %d, refused %d, damaged %d, too big %d, queue error %d)", d,
			st.Dropped["queue_full"], st.Dropped["rejected"], st.Dropped["corrupt"], st.Dropped[TooBig], st.Dropped[QueueError])
	}
	failing := s.lastFail.Load() > s.lastOK.Load() && st.Pending > 0
	recentDrop := time.Since(time.UnixMilli(s.lastDrop.Load())) < 15*time.Minute
	if failing || recentDrop {
		why := ""
		if p := s.lastErr.Load(); p != nil {
			why = "; last error: " + *p
		}
		return "DEGRADED", base + why
	}
	return "OK", base
}

// Collectors are the sender's metrics for /metrics; inMemory as for Stats.
func (s *Sender) Collectors(inMemory func() int64) []prometheus.Collector {
	p, u := s.c.Metric, s.c.Unit
	U := strings.ToUpper(u[:1]) + u[1:]
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	cs := []prometheus.Collector{
		counter(p+"_"+u+"_queued_total", U+" put in the disk queue for the remote engine.", s.queued.Load),
		counter(p+"_"+u+"_sent_total", U+" the remote engine accepted.", s.sent.Load),
		counter(p+"_retries_total", "Requests to the remote engine retried (5xx, 429, network errors).", s.retries.Load),
		gauge(p+"_"+u+"_pending", U+" not yet accepted by the engine: in the disk queue, or in the batch about to join it.",
			func() float64 { return float64(s.Stats(inMemory()).Pending) }),
		gauge(p+"_queue_bytes", "Bytes the disk queue holds.", func() float64 { return float64(s.q.Stats().Bytes) }),
		gauge(p+"_queue_max_bytes", "The disk queue's bound.", func() float64 { return float64(s.max) }),
		gauge(p+"_last_success_timestamp_seconds", "When the engine last accepted a batch.", func() float64 { return float64(s.lastOK.Load()) / 1000 }),
	}
	for _, reason := range dropReasons {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: p + "_" + u + "_dropped_total",
			Help:        U + " given up on: queue_full (oldest dropped at the bound), rejected (the engine refused them: 4xx), corrupt (damaged on disk), too_big (a batch over half the queue), queue_error (the disk refused the append).",
			ConstLabels: prometheus.Labels{"reason": reason}},
			func() float64 { return float64(s.Stats(inMemory()).Dropped[reason]) }))
	}
	return cs
}
