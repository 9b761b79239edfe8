package esread

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/remote/endpoint"
)

// recorded is one request as the server saw it.
type recorded struct {
	Method, Path, ContentType, Auth, Tenant string
	Body                                    string
}

// recorder is a plain HTTP server that keeps every request and answers
// each with the next canned body (the last one again when they run out):
// it checks what obs sends, it evaluates nothing.
type recorder struct {
	mu      sync.Mutex
	reqs    []recorded
	answers []string
	status  int // 0: 200
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{Method: r.Method, Path: r.URL.EscapedPath(), ContentType: r.Header.Get("Content-Type"),
		Auth: r.Header.Get("Authorization"), Tenant: r.Header.Get("X-Tenant"), Body: string(b)})
	a := rc.answers[min(len(rc.reqs)-1, len(rc.answers)-1)]
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if rc.status != 0 {
		w.WriteHeader(rc.status)
	}
	io.WriteString(w, a)
}

func newRecorded(t *testing.T, answers ...string) (*Reader, *recorder) {
	t.Helper()
	rc := &recorder{answers: answers}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	r, err := New(endpoint.Config{URL: srv.URL, Username: "obs", Password: "pw-secret", Headers: map[string]string{"X-Tenant": "t1"}},
		Options{Index: IndexPattern("nodejs-%{+YYYY.MM.dd}")})
	if err != nil {
		t.Fatal(err)
	}
	return r, rc
}

// canonical is JSON with object keys sorted, for comparing bodies.
func canonical(t *testing.T, s string) string {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func mustKQL(t *testing.T, q string) logs.Matcher {
	t.Helper()
	m, err := kql.Compile(q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	t0 = time.Date(2026, 11, 28, 13, 0, 0, 250e6, time.UTC)
	t1 = time.Date(2026, 11, 28, 13, 2, 0, 0, time.UTC)
)

const emptySearch = `{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":0,"relation":"eq"},"max_score":null,"hits":[]}}`

// TestRequestBodies: for each KQL query, range and page, the exact
// request obs sends. The shapes are the Elasticsearch reference's:
//   - "Search API" (POST /<target>/_search; query, size, sort) and
//     "Paginate search results" (search_after takes the sort values of
//     the last hit; from is not used with it);
//   - "Sort search results" (order, unmapped_type);
//   - "Range query" (gte/lte with format) and "IDs query" (values);
//   - "Count API" (POST /<target>/_count with only a query);
//   - "Date histogram aggregation" (fixed_interval, time_zone,
//     min_doc_count, extended_bounds min/max in epoch ms) with size 0.
//
// The query part is query/esdsl's, whose own golden tests hold Kibana's
// output; here it is checked to arrive whole, with the time range and the
// cursor's exclusions beside it.
func TestRequestBodies(t *testing.T) {
	cur := cursor{After: 1795870920250, IDs: []string{"a1", "a2"}}.String()
	cases := []struct {
		name string
		call func(r *Reader) error
		path string
		body string
	}{
		{"search newest, and of two fields, closed range",
			func(r *Reader) error {
				_, err := r.Search(context.Background(), logs.SearchRequest{Match: mustKQL(t, "app:web-api and severity:error"), Range: logs.Range{From: t0, To: t1}, Limit: 2})
				return err
			}, "/nodejs-*/_search",
			`{"size":3,"sort":[{"@timestamp":{"order":"desc","unmapped_type":"date"}}],
			 "query":{"bool":{"must":[],"should":[],"must_not":[],"filter":[
			   {"bool":{"filter":[
			     {"bool":{"should":[{"match":{"app":"web-api"}}],"minimum_should_match":1}},
			     {"bool":{"should":[{"match":{"severity":"error"}}],"minimum_should_match":1}}]}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","lte":"2026-11-28T13:02:00.000Z","format":"strict_date_optional_time"}}}]}}}`},
		{"search, next page newest first: search_after one ms later, the ties already seen left out",
			func(r *Reader) error {
				_, err := r.Search(context.Background(), logs.SearchRequest{Match: mustKQL(t, `"connection refused"`), Range: logs.Range{From: t0, To: t1}, Limit: 50, Cursor: cur})
				return err
			}, "/nodejs-*/_search",
			`{"size":51,"sort":[{"@timestamp":{"order":"desc","unmapped_type":"date"}}],"search_after":[1795870920251],
			 "query":{"bool":{"must":[],"should":[],"must_not":[{"ids":{"values":["a1","a2"]}}],"filter":[
			   {"multi_match":{"type":"phrase","query":"connection refused","lenient":true}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","lte":"2026-11-28T13:02:00.000Z","format":"strict_date_optional_time"}}}]}}}`},
		{"search, next page oldest first: ascending, search_after one ms earlier",
			func(r *Reader) error {
				_, err := r.Search(context.Background(), logs.SearchRequest{Match: mustKQL(t, "path:/recipes/*"), Range: logs.Range{From: t0}, Limit: 10, Cursor: cur, Oldest: true})
				return err
			}, "/nodejs-*/_search",
			`{"size":11,"sort":[{"@timestamp":{"order":"asc","unmapped_type":"date"}}],"search_after":[1795870920249],
			 "query":{"bool":{"must":[],"should":[],"must_not":[{"ids":{"values":["a1","a2"]}}],"filter":[
			   {"bool":{"should":[{"query_string":{"fields":["path"],"query":"\\/recipes\\/*"}}],"minimum_should_match":1}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","format":"strict_date_optional_time"}}}]}}}`},
		{"search, no query and no range: match_all, no range filter",
			func(r *Reader) error {
				_, err := r.Search(context.Background(), logs.SearchRequest{Limit: 100})
				return err
			}, "/nodejs-*/_search",
			`{"size":101,"sort":[{"@timestamp":{"order":"desc","unmapped_type":"date"}}],
			 "query":{"bool":{"must":[],"should":[],"must_not":[],"filter":[{"match_all":{}}]}}}`},
		{"count: not, range with date math left to the engine",
			func(r *Reader) error {
				_, err := r.CountMatches(context.Background(), mustKQL(t, "not status:200 and latency_ms >= 250"), logs.Range{From: t0, To: t1})
				return err
			}, "/nodejs-*/_count",
			`{"query":{"bool":{"must":[],"should":[],"must_not":[],"filter":[
			   {"bool":{"filter":[
			     {"bool":{"must_not":{"bool":{"should":[{"match":{"status":"200"}}],"minimum_should_match":1}}}},
			     {"bool":{"should":[{"range":{"latency_ms":{"gte":"250"}}}],"minimum_should_match":1}}]}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","lte":"2026-11-28T13:02:00.000Z","format":"strict_date_optional_time"}}}]}}}`},
		{"histogram 30s: fixed_interval, UTC, empty buckets across the range",
			func(r *Reader) error {
				_, _, err := r.Histogram(context.Background(), mustKQL(t, "app:web-api"), logs.Range{From: t0, To: t1}, 30*time.Second)
				return err
			}, "/nodejs-*/_search",
			`{"size":0,
			 "query":{"bool":{"must":[],"should":[],"must_not":[],"filter":[
			   {"bool":{"should":[{"match":{"app":"web-api"}}],"minimum_should_match":1}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","lte":"2026-11-28T13:02:00.000Z","format":"strict_date_optional_time"}}}]}},
			 "aggs":{"histogram":{"date_histogram":{"field":"@timestamp","fixed_interval":"30s","time_zone":"UTC","min_doc_count":0,
			   "extended_bounds":{"min":1795870800250,"max":1795870920000}}}}}`},
		{"histogram 1h: the largest whole unit",
			func(r *Reader) error {
				_, _, err := r.Histogram(context.Background(), nil, logs.Range{From: t0, To: t0.Add(5 * time.Hour)}, time.Hour)
				return err
			}, "/nodejs-*/_search",
			`{"size":0,
			 "query":{"bool":{"must":[],"should":[],"must_not":[],"filter":[{"match_all":{}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","lte":"2026-11-28T18:00:00.250Z","format":"strict_date_optional_time"}}}]}},
			 "aggs":{"histogram":{"date_histogram":{"field":"@timestamp","fixed_interval":"1h","time_zone":"UTC","min_doc_count":0,
			   "extended_bounds":{"min":1795870800250,"max":1795888800250}}}}}`},
		{"fields: a search of the sample, newest first",
			func(r *Reader) error {
				_, err := r.Fields(context.Background(), mustKQL(t, "error"), logs.Range{From: t0, To: t1}, 500, 5)
				return err
			}, "/nodejs-*/_search",
			`{"size":501,"sort":[{"@timestamp":{"order":"desc","unmapped_type":"date"}}],
			 "query":{"bool":{"must":[],"should":[],"must_not":[],"filter":[
			   {"multi_match":{"type":"best_fields","query":"error","lenient":true}},
			   {"range":{"@timestamp":{"gte":"2026-11-28T13:00:00.250Z","lte":"2026-11-28T13:02:00.000Z","format":"strict_date_optional_time"}}}]}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			answer := emptySearch
			if strings.HasSuffix(c.path, "_count") {
				answer = `{"count":0,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}}`
			}
			r, rc := newRecorded(t, answer)
			if err := c.call(r); err != nil {
				t.Fatal(err)
			}
			if len(rc.reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(rc.reqs))
			}
			got := rc.reqs[0]
			if got.Method != http.MethodPost || got.Path != c.path || got.ContentType != "application/json" {
				t.Errorf("sent %s %s (%s), want POST %s (application/json)", got.Method, got.Path, got.ContentType, c.path)
			}
			if got.Auth != "Basic b2JzOnB3LXNlY3JldA==" || got.Tenant != "t1" {
				t.Errorf("credentials and headers not sent: %q %q", got.Auth, got.Tenant)
			}
			if g, w := canonical(t, got.Body), canonical(t, c.body); g != w {
				t.Errorf("body\n %s\nwant\n %s", g, w)
			}
		})
	}
}

// hitJSON is a hit as the reference's search_after example shows one:
// _index, _id, _source and its sort values.
func hitJSON(id string, ms int64) string {
	ts := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
	return `{"_index":"nodejs-2026.11.28","_id":"` + id + `","_score":null,"_source":{"@timestamp":"` + ts + `","message":"m ` + id + `"},"sort":[` + jsonInt(ms) + `]}`
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func searchAnswer(hits ...string) string {
	return `{"took":3,"timed_out":false,"_shards":{"total":2,"successful":2,"skipped":0,"failed":0},"hits":{"total":{"value":` +
		jsonInt(int64(len(hits))) + `,"relation":"eq"},"max_score":null,"hits":[` + strings.Join(hits, ",") + `]}}`
}

// TestCursor: the cursor carries the last sort value and every _id
// returned at it, across pages; the next request asks for those ties
// again without them.
func TestCursor(t *testing.T) {
	const ms = 1795870920250
	r, rc := newRecorded(t,
		searchAnswer(hitJSON("a", ms), hitJSON("b", ms), hitJSON("c", ms)),
		searchAnswer(hitJSON("c", ms), hitJSON("d", ms-1), hitJSON("e", ms-1)),
		searchAnswer(hitJSON("e", ms-1)))
	ctx := context.Background()
	p1, err := r.Search(ctx, logs.SearchRequest{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Hits) != 2 || string(p1.Hits[1].Raw) != `{"@timestamp":"2026-11-28T13:02:00.250Z","message":"m b"}` {
		t.Fatalf("page 1: %+v", p1.Hits)
	}
	if !p1.Hits[0].TS.Equal(time.UnixMilli(ms)) {
		t.Errorf("hit time %v", p1.Hits[0].TS)
	}
	if c, _ := parseCursor(p1.Next); c.After != ms || strings.Join(c.IDs, ",") != "a,b" {
		t.Errorf("page 1 cursor %+v", c)
	}
	p2, err := r.Search(ctx, logs.SearchRequest{Limit: 2, Cursor: p1.Next})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rc.reqs[1].Body, `"search_after":[1795870920251]`) || !strings.Contains(rc.reqs[1].Body, `{"ids":{"values":["a","b"]}}`) {
		t.Errorf("page 2 request %s", rc.reqs[1].Body)
	}
	if c, _ := parseCursor(p2.Next); c.After != ms-1 || strings.Join(c.IDs, ",") != "d" {
		t.Errorf("page 2 cursor %+v", c)
	}
	p3, err := r.Search(ctx, logs.SearchRequest{Limit: 2, Cursor: p2.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(p3.Hits) != 1 || p3.Next != "" {
		t.Errorf("last page: %d hits, next %q", len(p3.Hits), p3.Next)
	}
	for _, bad := range []string{"", "vl:1:2", "es:!!", "es:" + "e30"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSearchBeyondWindow: a page larger than index.max_result_window
// (10,000) is several requests, each search_after the last hit.
func TestSearchBeyondWindow(t *testing.T) {
	const ms = 1795870920250
	var big []string
	for i := 0; i < maxPage; i++ {
		big = append(big, hitJSON("h"+jsonInt(int64(i)), ms-int64(i)))
	}
	r, rc := newRecorded(t, searchAnswer(big...), searchAnswer(hitJSON("last", ms-maxPage)))
	res, err := r.Search(context.Background(), logs.SearchRequest{Limit: maxPage + 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != maxPage+1 || res.Next != "" || len(rc.reqs) != 2 {
		t.Fatalf("%d hits, next %q, %d requests", len(res.Hits), res.Next, len(rc.reqs))
	}
	var first, second map[string]any
	json.Unmarshal([]byte(rc.reqs[0].Body), &first)
	d := json.NewDecoder(bytes.NewReader([]byte(rc.reqs[1].Body)))
	d.UseNumber()
	d.Decode(&second)
	if first["size"] != float64(maxPage) || second["size"] != json.Number("6") {
		t.Errorf("sizes %v, %v", first["size"], second["size"])
	}
	if sa := second["search_after"].([]any); sa[0] != json.Number(jsonInt(ms-maxPage+1+1)) {
		t.Errorf("second request search_after %v", sa)
	}
}

func TestIndexPattern(t *testing.T) {
	for in, want := range map[string]string{
		"nodejs-%{+YYYY.MM.dd}":       "nodejs-*",
		"logs-%{+YYYY}.%{+MM}.%{+dd}": "logs-*.*.*",
		"logs-%{+YYYY}%{+MM}":         "logs-*",
		"app-%{+xxxx.ww}-*":           "app-*-*",
		"fixed":                       "fixed",
	} {
		if got := IndexPattern(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
