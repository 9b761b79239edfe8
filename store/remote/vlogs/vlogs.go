// Package vlogs reads logs back from VictoriaLogs (a single node or a
// cluster's vlselect) for obs's searches: the KQL obs was asked is
// compiled to LogsQL (query/logsql) and sent to /select/logsql/query, and
// the answers are made into what the embedded store answers (hits newest
// first with a cursor, a histogram, the field sidebar, counts for log
// checks), so the CLI, Discover, the HTTP API and log checks work over it
// unchanged.
//
// What VictoriaLogs gives back is not the bytes obs sent: it keeps every
// value as text and flattens objects into dotted names. Events are rebuilt
// as JSON: dotted names nested again, the message and @timestamp under
// their own names, a value that reads back as the same JSON number, true,
// false or array/object text becomes that JSON value again. A string that
// happened to look like a number ("007" stays a string, "7" does not) is
// the one change a reader can see.
package vlogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/obs-dev/obs/query/logsql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/remote/endpoint"
)

// Reader queries one VictoriaLogs.
type Reader struct {
	ep   *endpoint.Endpoint
	opts logsql.Options

	// The store's field names, for free text (obs searches every field,
	// a LogsQL filter one: free text becomes an OR over these) and
	// wildcard field names; re-read every fieldsTTL.
	mu       sync.Mutex
	fields   []string
	fieldsAt time.Time
}

// fieldsTTL: a field new in the store is searched by free text this long
// after it first arrives at the latest.
const fieldsTTL = 30 * time.Second

// fieldNames are the store's field names as obs names them, over the last
// 30 days (VictoriaLogs' /select/logsql/field_names).
func (r *Reader) fieldNames(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fields != nil && time.Since(r.fieldsAt) < fieldsTTL {
		return r.fields, nil
	}
	u := r.ep.URL("/select/logsql/field_names")
	u.RawQuery = url.Values{"query": {"*"}, "start": {"30d"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, r.ep.Errorf("logs field names", err)
	}
	r.ep.Authorize(req)
	resp, err := r.ep.Client.Do(req)
	if err != nil {
		return nil, r.ep.Errorf("logs field names", err)
	}
	defer resp.Body.Close()
	var body struct {
		Values []struct {
			Value string `json:"value"`
		} `json:"values"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, r.ep.Errorf("logs field names", fmt.Errorf("HTTP %s", resp.Status))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, r.ep.Errorf("logs field names", err)
	}
	names := []string{}
	for _, v := range body.Values {
		switch v.Value {
		case "_stream", "_stream_id":
		case "_msg":
			names = append(names, r.opts.MessageField)
		case "_time":
			names = append(names, r.opts.TimeField)
		default:
			names = append(names, v.Value)
		}
	}
	r.fields, r.fieldsAt = names, time.Now()
	return names, nil
}

// New returns a reader of the VictoriaLogs at e.URL (the base: http://vl:9428
// or a vlselect's).
func New(e endpoint.Config) (*Reader, error) {
	ep, err := endpoint.New(e)
	if err != nil {
		return nil, fmt.Errorf("logs query url: %w", err)
	}
	return &Reader{ep: ep, opts: logsql.Options{MessageField: "message", TimeField: "@timestamp"}}, nil
}

func (r *Reader) String() string { return r.ep.String() }

// filter compiles the matcher obs built from the KQL (a *kql.Query, whose
// String is its source) to a LogsQL filter over rng.
func (r *Reader) filter(ctx context.Context, m logs.Matcher, rng logs.Range) (string, error) {
	src := ""
	if s, ok := m.(fmt.Stringer); ok {
		src = s.String()
	} else if m != nil {
		return "", fmt.Errorf("logs over VictoriaLogs: a %T is not a KQL query", m)
	}
	opts := r.opts
	opts.Now = time.Now()
	fields, err := r.fieldNames(ctx)
	if err != nil {
		return "", err
	}
	opts.Fields = fields
	f, err := logsql.Compile(src, opts)
	if err != nil {
		return "", err
	}
	from, to := rng.From, rng.To
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = time.Now().Add(366 * 24 * time.Hour)
	}
	return logsql.Within(f, from, to), nil
}

// query runs LogsQL and calls row for each JSON line of the answer.
func (r *Reader) query(ctx context.Context, q string, row func(map[string]string) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.ep.URL("/select/logsql/query").String(),
		strings.NewReader(url.Values{"query": {q}}.Encode()))
	if err != nil {
		return r.ep.Errorf("logs query", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ep.Authorize(req)
	resp, err := r.ep.Client.Do(req)
	if err != nil {
		return r.ep.Errorf("logs query", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return r.ep.Errorf("logs query", fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(msg)))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return r.ep.Errorf("logs query", fmt.Errorf("an answer line is not a JSON object of strings: %w", err))
		}
		if err := row(m); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return r.ep.Errorf("logs query", err)
	}
	return nil
}

// cursor is where the next page starts: the hits strictly before ts
// (after it, oldest first); or, inside, the hits at ts itself from the
// skip-th on, for a time held by more hits than one page takes.
type cursor struct {
	ts     int64 // unix ns
	skip   int
	inside bool
}

func (c cursor) String() string {
	if c.inside {
		return fmt.Sprintf("vlt:%d:%d", c.ts, c.skip)
	}
	return fmt.Sprintf("vl:%d:%d", c.ts, c.skip)
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	format := "vl:%d:%d"
	if strings.HasPrefix(s, "vlt:") {
		format, c.inside = "vlt:%d:%d", true
	}
	if _, err := fmt.Sscanf(s, format, &c.ts, &c.skip); err != nil || c.skip < 0 {
		return c, fmt.Errorf("cursor %q: not one of this store's", s)
	}
	return c, nil
}

// maxTie is how many hits at one time a page takes whole; a time held by
// more is paged inside (see Search).
const maxTie = 10000

// Search returns matching events newest first (oldest first with Oldest).
//
// A page ends between two times, with every hit at its last time: hits at
// one time have no order of their own in VictoriaLogs (a cluster's
// storage nodes answer in any order), so an offset among them, as pages
// were cut before, gave a page hits of the last one again and left others
// out (a cluster test: 2,301 hits of 1,500 events). Only a time held by
// more than maxTie hits is paged by offset inside it, in an order by
// stream and message that is as stable as VictoriaLogs makes it.
func (r *Reader) Search(ctx context.Context, req logs.SearchRequest) (logs.SearchResult, error) {
	if req.Limit <= 0 {
		req.Limit = 100
	}
	rng := req.Range
	var cur cursor
	if req.Cursor != "" {
		c, err := parseCursor(req.Cursor)
		if err != nil {
			return logs.SearchResult{}, err
		}
		cur = c
		switch {
		case c.inside:
			rng.From, rng.To = time.Unix(0, c.ts), time.Unix(0, c.ts)
		case req.Oldest:
			rng.From = time.Unix(0, c.ts+1)
		default:
			rng.To = time.Unix(0, c.ts-1)
		}
	}
	f, err := r.filter(ctx, req.Match, rng)
	if err != nil {
		return logs.SearchResult{}, err
	}
	if cur.inside {
		hits, err := r.hits(ctx, fmt.Sprintf("%s | sort by (_stream_id, _msg) | offset %d | limit %d", f, cur.skip, req.Limit+1), nil)
		if err != nil {
			return logs.SearchResult{}, err
		}
		next := cursor{ts: cur.ts} // then the hits before that time
		if len(hits) > req.Limit {
			hits, next = hits[:req.Limit], cursor{ts: cur.ts, skip: cur.skip + req.Limit, inside: true}
		}
		return logs.SearchResult{Hits: hits, Next: next.String()}, nil
	}
	order := "_time desc"
	if req.Oldest {
		order = "_time"
	}
	// One more than asked says whether there is a next page.
	hits, err := r.hits(ctx, fmt.Sprintf("%s | sort by (%s) | limit %d", f, order, req.Limit+1), nil)
	if err != nil || len(hits) <= req.Limit {
		return logs.SearchResult{Hits: hits}, err
	}
	last := hits[req.Limit-1].TS.UnixNano()
	next := cursor{ts: last}
	if hits[req.Limit].TS.UnixNano() != last {
		return logs.SearchResult{Hits: hits[:req.Limit], Next: next.String()}, nil
	}
	// The page would cut the hits at its last time: take them all.
	page := hits[:0]
	for _, h := range hits[:req.Limit] {
		if h.TS.UnixNano() != last {
			page = append(page, h)
		}
	}
	// The page's own filter, narrowed to that one time.
	tf := logsql.Within(f, time.Unix(0, last), time.Unix(0, last))
	ties, err := r.hits(ctx, fmt.Sprintf("%s | limit %d", tf, maxTie+1), page)
	if err != nil {
		return logs.SearchResult{}, err
	}
	if len(ties)-len(page) > maxTie {
		// Too many to take whole: this page ends before that time, and
		// the next ones page inside it.
		if len(page) == 0 {
			return r.Search(ctx, logs.SearchRequest{Match: req.Match, Range: req.Range, Limit: req.Limit, Oldest: req.Oldest,
				Cursor: cursor{ts: last, inside: true}.String()})
		}
		return logs.SearchResult{Hits: page, Next: cursor{ts: last, inside: true}.String()}, nil
	}
	return logs.SearchResult{Hits: ties, Next: next.String()}, nil
}

// hits runs a query and appends its rows, rebuilt as events, to to.
func (r *Reader) hits(ctx context.Context, q string, to []logs.Hit) ([]logs.Hit, error) {
	err := r.query(ctx, q, func(row map[string]string) error {
		h, err := r.hit(row, len(to))
		if err != nil {
			return err
		}
		to = append(to, h)
		return nil
	})
	return to, err
}

// hit rebuilds one event from VictoriaLogs' flat fields.
func (r *Reader) hit(row map[string]string, n int) (logs.Hit, error) {
	ts, err := time.Parse(time.RFC3339Nano, row["_time"])
	if err != nil {
		return logs.Hit{}, fmt.Errorf("logs query: _time %q: %w", row["_time"], err)
	}
	raw, err := Rebuild(row, r.opts.MessageField, r.opts.TimeField)
	if err != nil {
		return logs.Hit{}, err
	}
	day := "logs-" + ts.UTC().Format("2006.01.02")
	return logs.Hit{ID: logs.ID{Day: day, Row: uint16(n)}, TS: ts, Raw: raw}, nil
}

// Rebuild makes a JSON event of one row of VictoriaLogs fields: its own
// fields (_stream, _stream_id) dropped, _msg and _time under msgField and
// timeField, dotted names nested again.
func Rebuild(row map[string]string, msgField, timeField string) (json.RawMessage, error) {
	root := map[string]any{}
	keys := make([]string, 0, len(row))
	for k := range row {
		keys = append(keys, k)
	}
	sort.Strings(keys) // "a" before "a.b": a parent written as text is kept as text
	for _, k := range keys {
		v := row[k]
		switch k {
		case "_stream", "_stream_id":
			continue
		case "_msg":
			if v == "missing _msg field; see https://docs.victoriametrics.com/victorialogs/keyconcepts/#message-field" {
				continue
			}
			k = msgField
		case "_time":
			k = timeField
		}
		setPath(root, strings.Split(k, "."), value(v))
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("rebuild an event: %w", err)
	}
	return b, nil
}

// setPath puts v at path, making objects on the way; where a part is
// already a non-object value the rest of the path is kept as one name.
func setPath(m map[string]any, path []string, v any) {
	for i, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if _, taken := m[p]; taken {
				m[strings.Join(path[i:], ".")] = v
				return
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// value is what a stored text was sent as: the JSON value it spells when
// spelling that value gives the same text back, else the text.
func value(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if s == "" {
		return s
	}
	if c := s[0]; c == '-' || c >= '0' && c <= '9' {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			if b, _ := json.Marshal(f); string(b) == s {
				return json.Number(s)
			}
		}
		return s
	}
	if c := s[0]; (c == '[' || c == '{') && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

// CountMatches counts matching events (log checks).
func (r *Reader) CountMatches(ctx context.Context, m logs.Matcher, rng logs.Range) (int, error) {
	f, err := r.filter(ctx, m, rng)
	if err != nil {
		return 0, err
	}
	n := 0
	err = r.query(ctx, logsql.Count(f), func(row map[string]string) error {
		c, err := strconv.Atoi(row["hits"])
		if err != nil {
			return fmt.Errorf("logs query: count %q: %w", row["hits"], err)
		}
		n += c
		return nil
	})
	return n, err
}

// Histogram counts matches per interval, buckets at multiples of interval
// since the epoch, every bucket of the range listed (as the embedded
// store's).
func (r *Reader) Histogram(ctx context.Context, m logs.Matcher, rng logs.Range, interval time.Duration) ([]logs.Bucket, int, error) {
	h, err := logs.NewHisto(rng, interval)
	if err != nil {
		return nil, 0, err
	}
	f, err := r.filter(ctx, m, rng)
	if err != nil {
		return nil, 0, err
	}
	q, err := logsql.Histogram(f, interval.Truncate(time.Millisecond), 0)
	if err != nil {
		return nil, 0, err
	}
	err = r.query(ctx, q, func(row map[string]string) error {
		t, err := time.Parse(time.RFC3339Nano, row["_time"])
		if err != nil {
			return fmt.Errorf("logs query: bucket %q: %w", row["_time"], err)
		}
		c, err := strconv.Atoi(row["hits"])
		if err != nil {
			return fmt.Errorf("logs query: bucket count %q: %w", row["hits"], err)
		}
		h.Add(t.UnixMilli(), c)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	out, total := h.Buckets()
	return out, total, nil
}

// Fields is the field sidebar over the newest sample matching events, as
// the embedded store computes it.
func (r *Reader) Fields(ctx context.Context, m logs.Matcher, rng logs.Range, sample, top int) ([]logs.FieldStat, error) {
	res, err := r.Search(ctx, logs.SearchRequest{Match: m, Range: rng, Limit: sample})
	if err != nil {
		return nil, err
	}
	return logs.FieldStats(res.Hits, top), nil
}

// Verify has nothing of obs's to check: the store is VictoriaLogs'.
func (r *Reader) Verify(context.Context) logs.VerifyReport { return logs.VerifyReport{} }
