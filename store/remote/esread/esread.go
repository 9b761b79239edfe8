// Package esread reads logs back from Elasticsearch or OpenSearch for
// obs's searches, over the indices obs's _bulk forwarder (store/remote/
// esbulk) writes: the KQL obs was asked is compiled to the query DSL as
// Kibana compiles it (query/esdsl) and sent to the _search and _count
// APIs, and the answers are made into what the embedded store answers
// (hits newest first with a cursor, a histogram, the field sidebar, counts
// for log checks), so the CLI, Discover, the HTTP API and log checks work
// over it unchanged. Each hit's _source is the event as obs sent it.
//
// Paging uses search_after on the @timestamp sort value, never from/size
// (which costs every shard all the earlier pages and stops at
// index.max_result_window). A stateless cursor cannot have a unique
// tiebreak in the sort: _id is closed to sorting in Elasticsearch 8 and
// OpenSearch (mapping-id-field), Lucene's _doc differs between replicas
// and shards, and _shard_doc needs a point in time (state kept in the
// cluster, opened by a different API in Elasticsearch and OpenSearch). So
// the cursor keeps the last sort value and the _ids already returned at
// that value, and the next page asks for search_after one unit before it
// (the ties again) with those _ids left out by an ids query: every event
// exactly once, whatever order the shards give equal timestamps in.
//
// The HTTP is obs's own, over store/remote/endpoint (credentials, extra
// headers, timeouts, redaction, as every obs remote reader):
// github.com/elastic/go-elasticsearch was considered and refuses to talk
// to OpenSearch (its product check wants X-Elastic-Product) or to
// Elasticsearch before 7.14; github.com/opensearch-project/opensearch-go
// does not promise Elasticsearch. Both would add a second HTTP stack and
// typed request builders for bodies query/esdsl already builds as JSON.
// The bodies use only what Elasticsearch 6 to 8 and OpenSearch 1 to 3 all
// accept (no track_total_hits: 6.x refuses it, and nothing here reads the
// total of a search).
package esread

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/obs-dev/obs/query/esdsl"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/remote/endpoint"
)

// Options configure a Reader.
type Options struct {
	// Index is the index pattern searched (nodejs-*); see IndexPattern.
	Index string
	// TimeField is the events' time field (default @timestamp).
	TimeField string
}

// Reader queries one Elasticsearch or OpenSearch cluster.
type Reader struct {
	ep    *endpoint.Endpoint
	index string
	tf    string
}

// maxPage is the most hits one request asks for: index.max_result_window's
// default, which bounds size even with search_after.
const maxPage = 10000

// maxBody bounds an answer read into memory.
const maxBody = 512 << 20

// New returns a reader of the cluster at e.URL (its base: http://es:9200).
func New(e endpoint.Config, o Options) (*Reader, error) {
	ep, err := endpoint.New(e)
	if err != nil {
		return nil, fmt.Errorf("logs query url: %w", err)
	}
	if o.Index == "" {
		return nil, fmt.Errorf("logs query index: empty")
	}
	if o.TimeField == "" {
		o.TimeField = "@timestamp"
	}
	return &Reader{ep: ep, index: o.Index, tf: o.TimeField}, nil
}

func (r *Reader) String() string { return r.ep.String() + " index " + r.index }

// dateParts are runs of %{...} parts and wildcards.
var dateParts = regexp.MustCompile(`(%\{[^}]*\}|\*)+`)

// IndexPattern is the pattern that covers every index a Logstash-style
// index name makes (nodejs-%{+YYYY.MM.dd} -> nodejs-*): each %{...} part
// becomes a wildcard, as Kibana's index pattern for Logstash's indices.
func IndexPattern(logstash string) string {
	return dateParts.ReplaceAllString(logstash, "*")
}

// query compiles the matcher obs built from the KQL (a *kql.Query, whose
// String is its source) with the time range as a filter, as Discover's
// buildEsQuery does.
func (r *Reader) query(m logs.Matcher, rng logs.Range) (esdsl.Query, error) {
	src := ""
	if s, ok := m.(fmt.Stringer); ok {
		src = s.String()
	} else if m != nil {
		return nil, fmt.Errorf("logs over Elasticsearch: a %T is not a KQL query", m)
	}
	var filters []esdsl.Query
	switch {
	case !rng.From.IsZero() && !rng.To.IsZero():
		filters = append(filters, esdsl.TimeRange(r.tf, rng.From, rng.To))
	case !rng.From.IsZero() || !rng.To.IsZero():
		// An open end: the same range query with one bound.
		p := esdsl.Query{"format": "strict_date_optional_time"}
		if !rng.From.IsZero() {
			p["gte"] = rng.From.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		if !rng.To.IsZero() {
			p["lte"] = rng.To.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		filters = append(filters, esdsl.Query{"range": esdsl.Query{r.tf: p}})
	}
	return esdsl.SearchQuery(src, esdsl.Options{}, filters...)
}

// post sends body to path under the index pattern and returns a 200
// answer's bytes; another status is an *Error.
func (r *Reader) post(ctx context.Context, path string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	u := r.ep.URL(r.index + "/" + path)
	// The pattern's * and , as written (the reference's form), not %2A.
	u.RawPath = u.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	r.ep.Authorize(req)
	resp, err := r.ep.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, parseError(resp.StatusCode, data)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("answer larger than %d MiB", maxBody>>20)
	}
	return data, nil
}

// cursor is where the next page starts: at the sort value of the last
// hit, leaving out the hits at that value already returned.
type cursor struct {
	After int64    `json:"a"`
	IDs   []string `json:"ids"`
}

// maxTies bounds the _ids a cursor carries: more events than this at one
// timestamp cannot be paged through (the request would grow without end).
const maxTies = 10000

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return "es:" + base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	bad := fmt.Errorf("cursor %q: not one of this store's", s)
	if len(s) < 3 || s[:3] != "es:" {
		return c, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s[3:])
	if err != nil || json.Unmarshal(b, &c) != nil || len(c.IDs) == 0 || len(c.IDs) > maxTies {
		return c, bad
	}
	return c, nil
}

// next moves c past a hit with sort value v and id.
func (c *cursor) next(v int64, id string) {
	if len(c.IDs) > 0 && v == c.After {
		c.IDs = append(c.IDs, id)
		return
	}
	c.After, c.IDs = v, []string{id}
}

// searchBody is one page's request: the query, the ids already returned
// at the cursor's value left out, sorted on the time field, search_after
// one unit before the cursor's value so that its remaining ties come
// (Elasticsearch reference: "Paginate search results", search_after;
// "Sort search results", unmapped_type; "IDs query").
func (r *Reader) searchBody(q esdsl.Query, cur *cursor, size int, oldest bool) esdsl.Query {
	order := "desc"
	if oldest {
		order = "asc"
	}
	body := esdsl.Query{
		"size": size,
		// unmapped_type: an index of the pattern without the field (not
		// one obs wrote) answers no hits rather than failing the search.
		"sort": []any{esdsl.Query{r.tf: esdsl.Query{"order": order, "unmapped_type": "date"}}},
	}
	if cur != nil {
		after := cur.After
		switch {
		case oldest && after > math.MinInt64:
			after--
		case !oldest && after < math.MaxInt64:
			after++
		}
		body["search_after"] = []any{after}
		b := q["bool"].(esdsl.Query)
		b["must_not"] = []any{esdsl.Query{"ids": esdsl.Query{"values": cur.IDs}}}
	}
	body["query"] = q
	return body
}

// Search returns matching events newest first (oldest first with Oldest).
func (r *Reader) Search(ctx context.Context, req logs.SearchRequest) (logs.SearchResult, error) {
	if req.Limit <= 0 {
		req.Limit = 100
	}
	// start is the cursor asked for, cur where the next request starts.
	var start, cur *cursor
	if req.Cursor != "" {
		c, err := parseCursor(req.Cursor)
		if err != nil {
			return logs.SearchResult{}, err
		}
		start = &c
		cur = &cursor{After: c.After, IDs: append([]string(nil), c.IDs...)}
	}
	var hits []logs.Hit
	var ids []string
	var sorts []int64
	// One more than asked says whether there is a next page; more than a
	// request's window takes several requests, each after the last.
	for want := req.Limit + 1; len(hits) < want; {
		size := min(want-len(hits), maxPage)
		q, err := r.query(req.Match, req.Range)
		if err != nil {
			return logs.SearchResult{}, err
		}
		data, err := r.post(ctx, "_search", r.searchBody(q, cur, size, req.Oldest))
		if err != nil {
			return logs.SearchResult{}, r.ep.Errorf("logs search", err)
		}
		resp, err := decodeSearch(data)
		if err != nil {
			return logs.SearchResult{}, r.ep.Errorf("logs search", err)
		}
		for _, h := range resp.Hits.Hits {
			v, err := sortValue(h)
			if err != nil {
				return logs.SearchResult{}, r.ep.Errorf("logs search", err)
			}
			lh, err := r.hit(h, v, len(hits))
			if err != nil {
				return logs.SearchResult{}, r.ep.Errorf("logs search", err)
			}
			hits, ids, sorts = append(hits, lh), append(ids, h.ID), append(sorts, v)
			if cur == nil {
				cur = &cursor{}
			}
			cur.next(v, h.ID)
			if len(cur.IDs) > maxTies {
				return logs.SearchResult{}, fmt.Errorf("logs search %s: more than %d events at one timestamp cannot be paged through", r.ep, maxTies)
			}
		}
		if len(resp.Hits.Hits) < size {
			break
		}
	}
	res := logs.SearchResult{Hits: hits}
	if len(hits) > req.Limit {
		res.Hits = hits[:req.Limit]
		next := cursor{}
		if start != nil {
			next = cursor{After: start.After, IDs: append([]string(nil), start.IDs...)}
		}
		for i := range res.Hits {
			next.next(sorts[i], ids[i])
		}
		res.Next = next.String()
	}
	return res, nil
}

// sortValue is a hit's time sort value: a long (epoch ms for a date
// field, ns for date_nanos), as search_after takes it back.
func sortValue(h hit) (int64, error) {
	v, err := strconv.ParseInt(string(h.Sort[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("hit %s: sort value %s is not a whole number (is the time field a date?)", h.ID, h.Sort[0])
	}
	return v, nil
}

// hit is one event: _source as sent, its time from the time field, else
// from the sort value (epoch ms).
func (r *Reader) hit(h hit, sortV int64, n int) (logs.Hit, error) {
	var src map[string]json.RawMessage
	if err := json.Unmarshal(h.Source, &src); err != nil {
		return logs.Hit{}, fmt.Errorf("hit %s: _source is not a JSON object: %w", h.ID, err)
	}
	ts := time.UnixMilli(sortV)
	var s string
	if raw, ok := src[r.tf]; ok && json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			ts = t
		}
	}
	ts = ts.UTC()
	day := "logs-" + ts.Format("2006.01.02")
	return logs.Hit{ID: logs.ID{Day: day, Row: uint16(n)}, TS: ts, Raw: h.Source}, nil
}

// CountMatches counts matching events (log checks) with the _count API
// (Elasticsearch reference: "Count API"): exact, where a search's
// hits.total stops at 10,000 unless asked otherwise.
func (r *Reader) CountMatches(ctx context.Context, m logs.Matcher, rng logs.Range) (int, error) {
	q, err := r.query(m, rng)
	if err != nil {
		return 0, err
	}
	data, err := r.post(ctx, "_count", esdsl.Query{"query": q})
	if err != nil {
		return 0, r.ep.Errorf("logs count", err)
	}
	n, err := decodeCount(data)
	if err != nil {
		return 0, r.ep.Errorf("logs count", err)
	}
	return int(n), nil
}

// Histogram counts matches per interval with a date_histogram
// (Elasticsearch reference: "Date histogram aggregation"): fixed_interval
// in UTC, whose buckets start at multiples of the interval since the
// epoch as the embedded store's do, min_doc_count 0 and extended_bounds
// over the range so that every bucket of the range comes back.
func (r *Reader) Histogram(ctx context.Context, m logs.Matcher, rng logs.Range, interval time.Duration) ([]logs.Bucket, int, error) {
	h, err := logs.NewHisto(rng, interval)
	if err != nil {
		return nil, 0, err
	}
	q, err := r.query(m, rng)
	if err != nil {
		return nil, 0, err
	}
	agg, err := esdsl.DateHistogram(esdsl.Histogram{Field: r.tf, Interval: interval.Truncate(time.Millisecond),
		From: rng.From, To: rng.To})
	if err != nil {
		return nil, 0, err
	}
	body := esdsl.Query{"size": 0, "query": q, "aggs": esdsl.Query{"histogram": agg}}
	data, err := r.post(ctx, "_search", body)
	if err != nil {
		return nil, 0, r.ep.Errorf("logs histogram", err)
	}
	resp, err := decodeSearch(data)
	if err != nil {
		return nil, 0, r.ep.Errorf("logs histogram", err)
	}
	for _, b := range resp.Aggregations["histogram"].Buckets {
		k, err := b.Key.Float64()
		if err != nil {
			return nil, 0, r.ep.Errorf("logs histogram", fmt.Errorf("bucket key %q: %w", b.Key, err))
		}
		h.Add(int64(k), int(b.DocCount))
	}
	out, total := h.Buckets()
	return out, total, nil
}

// Fields is the field sidebar over the newest sample matching events,
// computed by obs as the embedded store computes it (logs.FieldStats):
// terms aggregations would count only aggregatable (keyword) fields,
// under names like message.keyword, over every match rather than the
// sample, and would answer differently from the embedded store.
func (r *Reader) Fields(ctx context.Context, m logs.Matcher, rng logs.Range, sample, top int) ([]logs.FieldStat, error) {
	res, err := r.Search(ctx, logs.SearchRequest{Match: m, Range: rng, Limit: sample})
	if err != nil {
		return nil, err
	}
	return logs.FieldStats(res.Hits, top), nil
}

// Verify has nothing of obs's to check: the store is the cluster's.
func (r *Reader) Verify(context.Context) logs.VerifyReport { return logs.VerifyReport{} }
