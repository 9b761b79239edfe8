package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
)

// SearchHit is one event in a search response.
type SearchHit struct {
	ID        string          `json:"id"`
	Timestamp time.Time       `json:"@timestamp"`
	Event     json.RawMessage `json:"event"`
}

// SearchResponse is the body of GET /api/logs/search.
type SearchResponse struct {
	Hits   []SearchHit `json:"hits"`
	Next   string      `json:"next,omitempty"`
	TookMs float64     `json:"took_ms"`
}

func (s *Server) compile(w http.ResponseWriter, r *http.Request, now time.Time) (*kql.Query, logs.Range, bool) {
	q, err := kql.Compile(r.URL.Query().Get("q"), now)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return nil, logs.Range{}, false
	}
	rng, err := timeRange(r, now)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return nil, logs.Range{}, false
	}
	return q, rng, true
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a number from %d to %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

func (s *Server) logsSearch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, rng, ok := s.compile(w, r, start)
	if !ok {
		return
	}
	limit, err := intParam(r, "limit", 100, 1, 100000)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	req := logs.SearchRequest{Match: q, Range: rng, Limit: limit, Cursor: r.URL.Query().Get("cursor"),
		Oldest: r.URL.Query().Get("order") == "asc"}
	res, err := s.d.Logs.Search(r.Context(), req)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	writeSearch(w, res, float64(time.Since(start).Microseconds())/1000)
}

// writeSearch writes a SearchResponse with each event's bytes exactly as
// stored. encoding/json would compact them and escape <, > and & (it does so
// to RawMessage and Marshaler output alike), so the envelope is written by
// hand. An event that is not valid JSON (a damaged block) makes the answer a
// 500 rather than a broken document.
func writeSearch(w http.ResponseWriter, res logs.SearchResult, tookMs float64) {
	var b bytes.Buffer
	b.WriteString(`{"hits":[`)
	for i, h := range res.Hits {
		if !json.Valid(h.Raw) {
			writeJSON(w, http.StatusInternalServerError, apiError{Error: fmt.Sprintf("event %s is not valid JSON: run `obs admin verify`", h.ID)})
			loggerOf(w).Error("search hit is not JSON", "id", h.ID.String())
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		id, _ := json.Marshal(h.ID.String())
		ts, _ := json.Marshal(h.TS)
		fmt.Fprintf(&b, `{"id":%s,"@timestamp":%s,"event":`, id, ts)
		b.Write(h.Raw)
		b.WriteByte('}')
	}
	b.WriteString("]")
	if res.Next != "" {
		next, _ := json.Marshal(res.Next)
		fmt.Fprintf(&b, `,"next":%s`, next)
	}
	fmt.Fprintf(&b, `,"took_ms":%g}`+"\n", tookMs)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// HistogramResponse is the body of GET /api/logs/histogram.
type HistogramResponse struct {
	Interval string        `json:"interval"`
	Total    int           `json:"total"`
	Buckets  []logs.Bucket `json:"buckets"`
	TookMs   float64       `json:"took_ms"`
}

// autoInterval picks a round interval giving about 60 bars, as Discover does.
func autoInterval(span time.Duration) time.Duration {
	for _, iv := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour,
		12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		if span/iv <= 60 {
			return iv
		}
	}
	return 30 * 24 * time.Hour
}

func (s *Server) logsHistogram(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, rng, ok := s.compile(w, r, start)
	if !ok {
		return
	}
	iv := autoInterval(rng.To.Sub(rng.From))
	if v := r.URL.Query().Get("interval"); v != "" && v != "auto" {
		d, err := configs.ParseDuration(v)
		if err != nil || d <= 0 {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("interval: want a duration such as 30s, 1m or 1h, got %q", v))
			return
		}
		iv = d
	}
	buckets, total, err := s.d.Logs.Histogram(r.Context(), q, rng, iv)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, HistogramResponse{Interval: iv.String(), Total: total, Buckets: buckets,
		TookMs: float64(time.Since(start).Microseconds()) / 1000})
}

// logsValidate checks a KQL query and always answers 200: the UI uses it to
// show syntax errors in place as people type.
func (s *Server) logsValidate(w http.ResponseWriter, r *http.Request) {
	_, err := kql.Compile(r.URL.Query().Get("q"), time.Now())
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]any{"valid": true})
		return
	}
	body := map[string]any{"valid": false, "error": err.Error()}
	var se *kql.SyntaxError
	if errors.As(err, &se) {
		body["position"], body["expected"] = se.Pos, se.Expected
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) logsFields(w http.ResponseWriter, r *http.Request) {
	q, rng, ok := s.compile(w, r, time.Now())
	if !ok {
		return
	}
	top, err := intParam(r, "top", 5, 1, 100)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	fs, err := s.d.Logs.Fields(r.Context(), q, rng, 500, top)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	if fs == nil {
		fs = []logs.FieldStat{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"fields": fs})
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 64 << 10}

// logsTail streams matching events as they are stored, one JSON text
// message per event, until the client goes away.
func (s *Server) logsTail(w http.ResponseWriter, r *http.Request) {
	q, err := kql.Compile(r.URL.Query().Get("q"), time.Now())
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil) // rejects cross-origin browsers
	if err != nil {
		return
	}
	defer c.Close()
	sub := s.d.Tail.subscribe(q)
	defer s.d.Tail.unsubscribe(sub)
	gone := make(chan struct{})
	go func() {
		// Reading is how a websocket notices the client left.
		defer close(gone)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	var reported int64
	for {
		select {
		case <-gone:
			return
		case <-r.Context().Done():
			return
		case ev := <-sub.ch:
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(websocket.TextMessage, ev); err != nil {
				return
			}
			if d := sub.dropped.Load(); d > reported {
				reported = d
				notice, _ := json.Marshal(map[string]any{"obs_tail_dropped": d})
				c.WriteMessage(websocket.TextMessage, notice)
			}
		case <-ping.C:
			c.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
		}
	}
}
