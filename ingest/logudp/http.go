package logudp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/obs-dev/obs/ingest/framing"
	"github.com/obs-dev/obs/ingest/memguard"
	"github.com/obs-dev/obs/store/logs"
)

// Committer stores events durably: Commit returns once they would survive a
// crash, or logs.ErrQueueFull when the store is too far behind to take them.
type Committer interface {
	Commit(context.Context, []logs.Entry) error
}

// HTTPOptions configure the HTTP intake.
type HTTPOptions struct {
	MaxBody int64 // 413 beyond (default 16 MiB)
	// Inflight bounds the bytes all requests hold while being read and
	// decoded; a request that does not fit is answered 503 + Retry-After.
	Inflight *memguard.Inflight
	Log      *slog.Logger
	// Bounds keep an event's day near its receive time.
	Bounds Bounds
}

// HTTPHandler is the HTTP intake (POST /api/logs): NDJSON, one event per
// line, or a JSON array of events, normalised exactly as UDP and TCP events
// are. It answers 202 only once the events are in the write-ahead log on
// disk, so an acknowledged event is never lost; 503 with Retry-After when
// the store is behind or too much is in flight (the sender retries); 413
// over MaxBody.
func HTTPHandler(sink Committer, m *Metrics, o HTTPOptions) http.Handler {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBody := o.MaxBody
	if maxBody <= 0 {
		maxBody = 16 << 20
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A body and what it decodes to (entries, flattened fields) take
		// about six times its size until the store has them.
		hold := 6 * maxBody
		if r.ContentLength >= 0 && r.ContentLength <= maxBody {
			hold = 6 * max(r.ContentLength, 4096)
		}
		if !o.Inflight.TryAcquire(hold) {
			io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, errors.New("too many log events in flight, retry"))
			return
		}
		defer o.Inflight.Release(hold)
		var buf bytes.Buffer
		if r.ContentLength > 0 && r.ContentLength <= maxBody {
			buf.Grow(int(r.ContentLength) + 1) // no doubling as it is read
		}
		_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
		body := buf.Bytes()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				httpError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", maxBody))
				return
			}
			httpError(w, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
			return
		}
		sender, _, _ := net.SplitHostPort(r.RemoteAddr)
		now := time.Now()
		var entries []logs.Entry
		failures := 0
		// body is ours for good (read whole), so the events may point
		// into it: no per-line copy.
		add := func(p []byte) {
			res := o.Bounds.Normalize(p, now, sender)
			if m != nil {
				m.Count("http", res)
			}
			failures += res.JSONFailures
			entries = append(entries, res.Entries...)
		}
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
			add(t)
		} else {
			framing.EachLine(body, add)
		}
		switch err := sink.Commit(r.Context(), entries); {
		case errors.Is(err, logs.ErrQueueFull):
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, fmt.Errorf("logs store is behind, retry: %w", err))
			return
		case err != nil:
			log.Error("store HTTP log events", "events", len(entries), "err", err)
			httpError(w, http.StatusInternalServerError, fmt.Errorf("store events: %w", err))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(entries), "json_parse_failures": failures})
	})
}

func httpError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v) // maps of strings and ints always encode
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
