// Package esbulk forwards the log events obs ingests to a distributed log
// store through the Elasticsearch _bulk API, which Elasticsearch,
// OpenSearch and VictoriaLogs (/insert/elasticsearch/_bulk) all accept.
// Events go into a daily index named as the seed's Logstash output names
// it (nodejs-%{+YYYY.MM.dd}), through the disk queue of store/remote/queue,
// so that a store outage or an obs restart loses nothing until the queue's
// bound; store/remote/sender retries, backs off and counts.
//
// Every event gets a document id when it is queued, kept in the queue with
// it, and is sent with the create action: a batch sent again after a
// timeout or an item-level 429 creates each event at most once (the copies
// answer 409, which counts as delivered), as _bulk's semantics allow.
//
// github.com/elastic/go-elasticsearch's esutil.BulkIndexer was considered:
// it batches in memory only (an outage or a restart loses what it holds),
// retries per item without a disk bound, and would be a second HTTP client
// beside the one every obs forwarder shares (endpoint, backoff, metrics).
package esbulk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/queue"
	"github.com/obs-dev/obs/store/remote/sender"
)

// DefaultIndex is the seed's Logstash output index.
const DefaultIndex = "nodejs-%{+YYYY.MM.dd}"

// Options configure a Forwarder.
type Options struct {
	// Endpoint is the _bulk URL: http://es:9200/_bulk, or VictoriaLogs'
	// http://vl:9428/insert/elasticsearch/_bulk (with
	// ?_msg_field=message&_time_field=@timestamp).
	Endpoint endpoint.Config
	// Index names each event's index from its @timestamp (UTC), in
	// Logstash's sprintf form; default DefaultIndex.
	Index string
	Queue queue.Options
	// BatchEvents and BatchBytes bound one request (defaults 5,000 events
	// and 5 MiB: Elastic's advice for bulk sizes, under every store's
	// default body limit).
	BatchEvents, BatchBytes int
	// SyncEvery is how often the queue is made durable (default 1s).
	SyncEvery              time.Duration
	MinBackoff, MaxBackoff time.Duration
	UserAgent              string
	Log                    *slog.Logger
}

// Forwarder queues events on disk and sends them to the store. It is a
// sink of every log intake (UDP, TCP, HTTP) when logs are forwarded.
type Forwarder struct {
	*sender.Queued
	o     Options
	index Index

	idPrefix [8]byte
	idSeq    atomic.Uint64
}

// Open opens the queue in dir (what an earlier run left is sent first).
func Open(dir string, o Options) (*Forwarder, error) {
	if o.Index == "" {
		o.Index = DefaultIndex
	}
	idx, err := ParseIndex(o.Index)
	if err != nil {
		return nil, fmt.Errorf("log forwarding: %w", err)
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 5000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 5 << 20
	}
	q, err := sender.OpenQueued(dir, o.Endpoint, o.Queue, sender.Config{Name: "log forwarding", Unit: "events",
		Metric: "obs_logs_remote",
		Header: func(h http.Header) { h.Set("Content-Type", "application/x-ndjson") },
		Join:   func(recs [][]byte) []byte { return bytes.Join(recs, nil) }, BatchItems: o.BatchEvents, BatchBytes: o.BatchBytes, Gzip: true,
		Items: Items, SyncEvery: o.SyncEvery,
		MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff, UserAgent: o.UserAgent, Log: o.Log})
	if err != nil {
		return nil, err
	}
	f := &Forwarder{Queued: q, o: o, index: idx}
	// Ids are unique across runs without a stored counter: 8 random bytes
	// per run, then the event's number in the run.
	if _, err := rand.Read(f.idPrefix[:]); err != nil {
		q.Close()
		return nil, fmt.Errorf("log forwarding: document ids: %w", err)
	}
	return f, nil
}

// nextID is a document id: the run's prefix and the event's number, 24 hex
// digits (Elasticsearch allows 512 bytes).
func (f *Forwarder) nextID(dst []byte) []byte {
	var b [16]byte
	copy(b[:8], f.idPrefix[:])
	binary.BigEndian.PutUint64(b[8:], f.idSeq.Add(1))
	return hex.AppendEncode(dst, b[4:])
}

// Encode appends the _bulk lines of events: a create action naming the
// index and id, then the event's JSON on one line.
func (f *Forwarder) encode(entries []logs.Entry) []byte {
	n := 0
	for _, e := range entries {
		n += len(e.Raw) + 96
	}
	out := make([]byte, 0, n)
	for _, e := range entries {
		out = append(out, `{"create":{"_index":`...)
		out = strconv.AppendQuote(out, f.index.Name(e.TS))
		out = append(out, `,"_id":"`...)
		out = f.nextID(out)
		out = append(out, "\"}}\n"...)
		out = appendLine(out, e.Raw)
		out = append(out, '\n')
	}
	return out
}

// appendLine appends one JSON document on one line: _bulk is NDJSON, and a
// stored event may have been sent pretty-printed.
func appendLine(dst, raw []byte) []byte {
	raw = bytes.TrimSpace(raw)
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return append(dst, raw...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		// Not JSON (cannot happen for a normalised event): keep the text
		// as a message rather than break the batch.
		b, _ := json.Marshal(map[string]string{"message": string(raw)})
		return append(dst, b...)
	}
	return append(dst, buf.Bytes()...)
}

// Commit queues events as one record and returns once it is written (the
// OS has it: an obs crash loses none; Run makes it durable within
// SyncEvery). It is the HTTP intake's committer.
func (f *Forwarder) Commit(_ context.Context, entries []logs.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return f.Queued.Append(len(entries), f.encode(entries))
}

// Append is Commit for TCP: the queue is a file append, never full (at its
// bound it drops the oldest, counted), so there is nothing to wait for.
func (f *Forwarder) Append(ctx context.Context, entries []logs.Entry) error {
	return f.Commit(ctx, entries)
}

// TryAppend is Commit for UDP; false when the events could not be queued
// (counted by the sender).
func (f *Forwarder) TryAppend(entries []logs.Entry) bool {
	return f.Commit(context.Background(), entries) == nil
}

// bulkAnswer is what _bulk answers: errors says whether any item failed,
// items one result per action in order.
type bulkAnswer struct {
	Errors bool                        `json:"errors"`
	Items  []map[string]bulkItemAnswer `json:"items"`
}

type bulkItemAnswer struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// Items reads a _bulk answer (sender.Config.Items). An item created, or
// already there (409: a batch sent again), is delivered; 429 or 5xx on any
// item sends the batch again (create makes that harmless); another 4xx
// (a mapping conflict, a document the store cannot parse) is refused for
// good and counted.
func Items(body []byte) (rejected int64, why string, retry error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, "", nil // VictoriaLogs answers some versions with no body
	}
	var a bulkAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, "", fmt.Errorf("read the _bulk answer: %w", err)
	}
	if !a.Errors {
		return 0, "", nil
	}
	var retryable int
	var firstErr string
	for _, item := range a.Items {
		for _, r := range item {
			switch {
			case r.Status/100 == 2 || r.Status == http.StatusConflict:
			case r.Status == http.StatusTooManyRequests || r.Status/100 == 5:
				retryable++
			default:
				rejected++
				if firstErr == "" {
					firstErr = strings.TrimSpace(string(r.Error))
				}
			}
		}
	}
	if retryable > 0 {
		return 0, "", fmt.Errorf("_bulk: %d items to retry (429 or 5xx)", retryable)
	}
	if rejected > 0 {
		why = fmt.Sprintf("_bulk refused %d events, the first: %s", rejected, firstErr)
	}
	return rejected, why, nil
}
