package esread

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/logs"
)

// Answers shaped as the Elasticsearch and OpenSearch references document
// them (our own table; each names the page its shape comes from, the
// values changed to obs's events).
var searchAnswers = []struct {
	doc, body string
	ids       []string
	sorts     []int64
	total     total
}{
	{
		// Elasticsearch reference 7.x/8.x, "Paginate search results"
		// (search_after): hits.total an object, _score null when sorted,
		// sort holding the sort values (here a PIT's tiebreak too).
		"ES 8 Paginate search results",
		`{"pit_id":"46ToAwMDaWR5BXV1aWQyKwZub2RlXzMAAAAAAAAAACoBYwADaWR4BXV1aWQxAgZub2RlXzEAAAAAAAAAAAEBYQADaWR5BXV1aWQyKgZub2RlXzIAAAAAAAAAAAwBYgACBXV1aWQyAAAFdXVpZDEAAQltYXRjaF9hbGw_gAAAAA==",
		  "took":17,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
		  "hits":{"total":{"value":10000,"relation":"gte"},"max_score":null,"hits":[
		    {"_index":"nodejs-2026.11.28","_id":"FaslK3QBySSL_rrj9zM5","_score":null,
		     "_source":{"@timestamp":"2099-11-15T14:12:12.000Z","message":"GET /search HTTP/1.1 200 1070000"},
		     "sort":[4098435132000,4294967298]}]}}`,
		[]string{"FaslK3QBySSL_rrj9zM5"}, []int64{4098435132000}, total{10000, "gte"},
	},
	{
		// Elasticsearch: The Definitive Guide (2.x) and reference up to
		// 6.x, "The empty search": hits.total a number, _type present.
		"ES 6 empty search",
		`{"hits":{"total":14,"hits":[{"_index":"nodejs-2014.09.17","_type":"doc","_id":"7","_score":1,
		   "_source":{"@timestamp":"2014-09-17T00:00:00Z","name":"John Smith","user_id":2},"sort":[1410912000000]}],"max_score":1},
		  "took":4,"_shards":{"failed":0,"successful":10,"total":10},"timed_out":false}`,
		[]string{"7"}, []int64{1410912000000}, total{14, "eq"},
	},
	{
		// OpenSearch documentation, "ID" metadata field: total an object
		// with relation eq.
		"OpenSearch _id field",
		`{"took":10,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
		  "hits":{"total":{"value":2,"relation":"eq"},"max_score":1,"hits":[
		    {"_index":"test-index1","_id":"1","_score":1,"_source":{"text":"Document with ID 1","@timestamp":"2026-11-28T13:00:00.001Z"},"sort":[1795870800001]},
		    {"_index":"test-index1","_id":"2","_score":1,"_source":{"text":"Document with ID 2","@timestamp":"2026-11-28T13:00:00Z"},"sort":[1795870800000]}]}}`,
		[]string{"1", "2"}, []int64{1795870800001, 1795870800000}, total{2, "eq"},
	},
}

func TestDecodeSearch(t *testing.T) {
	for _, c := range searchAnswers {
		r, err := decodeSearch([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.doc, err)
			continue
		}
		if *r.Hits.Total != c.total {
			t.Errorf("%s: total %+v, want %+v", c.doc, *r.Hits.Total, c.total)
		}
		if len(r.Hits.Hits) != len(c.ids) {
			t.Errorf("%s: %d hits", c.doc, len(r.Hits.Hits))
			continue
		}
		for i, h := range r.Hits.Hits {
			v, err := sortValue(h)
			if h.ID != c.ids[i] || err != nil || v != c.sorts[i] {
				t.Errorf("%s: hit %d: %s %d %v", c.doc, i, h.ID, v, err)
			}
		}
	}
}

// TestSearchHits: a documented answer becomes hits whose Raw is _source
// byte for byte and whose time is the event's @timestamp.
func TestSearchHits(t *testing.T) {
	r, _ := newRecorded(t, searchAnswers[2].body)
	res, err := r.Search(context.Background(), logs.SearchRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || string(res.Hits[0].Raw) != `{"text":"Document with ID 1","@timestamp":"2026-11-28T13:00:00.001Z"}` {
		t.Fatalf("hits %+v", res.Hits)
	}
	if want := time.Date(2026, 11, 28, 13, 0, 0, 1e6, time.UTC); !res.Hits[0].TS.Equal(want) || res.Next == "" {
		t.Errorf("ts %v next %q", res.Hits[0].TS, res.Next)
	}
}

// TestHistogramBuckets: a date_histogram answer as the reference's "Date
// histogram aggregation" shows it (key epoch ms, key_as_string, doc_count;
// min_doc_count 0 gives the empty bucket) fills obs's buckets, aligned
// from the first multiple of the interval at or before the range start.
func TestHistogramBuckets(t *testing.T) {
	body := `{"took":2,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
	  "hits":{"total":{"value":5,"relation":"eq"},"max_score":null,"hits":[]},
	  "aggregations":{"histogram":{"buckets":[
	    {"key_as_string":"2026-11-28T13:00:00.000Z","key":1795870800000,"doc_count":3},
	    {"key_as_string":"2026-11-28T13:00:30.000Z","key":1795870830000,"doc_count":0},
	    {"key_as_string":"2026-11-28T13:01:00.000Z","key":1.79587086E12,"doc_count":2}]}}}`
	r, _ := newRecorded(t, body)
	got, total, err := r.Histogram(context.Background(), nil, logs.Range{From: t0, To: t1}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if total != 5 || len(got) != 5 {
		t.Fatalf("total %d, %d buckets", total, len(got))
	}
	want := []int{3, 0, 2, 0, 0}
	for i, b := range got {
		if start := time.Date(2026, 11, 28, 13, 0, 30*i, 0, time.UTC); !b.Start.Equal(start) || b.Count != want[i] {
			t.Errorf("bucket %d: %v %d, want %v %d", i, b.Start, b.Count, start, want[i])
		}
	}
}

// TestCount: the Count API's documented answer.
func TestCount(t *testing.T) {
	// Elasticsearch reference, "Count API" example response.
	n, err := decodeCount([]byte(`{"count":1,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}}`))
	if err != nil || n != 1 {
		t.Errorf("%d %v", n, err)
	}
	if _, err := decodeCount([]byte(`{"_shards":{"total":1,"successful":1,"failed":0}}`)); err == nil {
		t.Error("an answer without count accepted")
	}
}

// TestErrors: error answers and partial answers become errors that say
// what the engine said, wrapped so that errors.As finds an *Error.
func TestErrors(t *testing.T) {
	cases := []struct {
		doc, body string
		status    int
		want      string
	}{
		// Elasticsearch reference, "Query DSL" errors as the REST API
		// returns them: root_cause, type, reason, status.
		{"ES parsing_exception", `{"error":{"root_cause":[{"type":"parsing_exception","reason":"unknown query [foo]","line":1,"col":22}],
		  "type":"parsing_exception","reason":"unknown query [foo]","line":1,"col":22},"status":400}`, 400,
			"HTTP 400: parsing_exception: unknown query [foo]"},
		// Elasticsearch reference, "Index APIs" missing index.
		{"ES index_not_found_exception", `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [nodejs-x]",
		  "resource.type":"index_or_alias","resource.id":"nodejs-x","index_uuid":"_na_","index":"nodejs-x"}],
		  "type":"index_not_found_exception","reason":"no such index [nodejs-x]","index":"nodejs-x"},"status":404}`, 404,
			"HTTP 404: index_not_found_exception: no such index [nodejs-x]"},
		// Every shard failed: the reason that says why is in caused_by
		// (search_phase_execution_exception, "Search API" errors).
		{"ES all shards failed", `{"error":{"root_cause":[{"type":"query_shard_exception","reason":"failed to create query: For input string: \"abc\"","index":"nodejs-2026.11.28"}],
		  "type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,
		  "failed_shards":[{"shard":0,"index":"nodejs-2026.11.28","node":"n1","reason":{"type":"query_shard_exception","reason":"failed to create query"}}],
		  "caused_by":{"type":"number_format_exception","reason":"For input string: \"abc\""}},"status":400}`, 400,
			`HTTP 400: search_phase_execution_exception: all shards failed: number_format_exception: For input string: "abc"`},
		// Too many buckets (search.max_buckets), "Bucket aggregations".
		{"ES too_many_buckets", `{"error":{"root_cause":[],"type":"search_phase_execution_exception","reason":"",
		  "caused_by":{"type":"too_many_buckets_exception","reason":"Trying to create too many buckets. Must be less than or equal to: [65536] but was [65537].","max_buckets":65536}},"status":503}`, 503,
			"HTTP 503: search_phase_execution_exception: : too_many_buckets_exception: Trying to create too many buckets"},
		// Before 5.0 (and the Definitive Guide) error is a string.
		{"ES 1.x string error", `{"error":"IndexMissingException[[nodejs-x] missing]","status":404}`, 404,
			"HTTP 404: IndexMissingException[[nodejs-x] missing]"},
		// OpenSearch security plugin without credentials, and a proxy's page.
		{"OpenSearch 401", `Unauthorized`, 401, "HTTP 401: Unauthorized"},
		{"proxy 502", `<html><body>502 Bad Gateway</body></html>`, 502, "HTTP 502: <html><body>502 Bad Gateway</body></html>"},
	}
	for _, c := range cases {
		if got := parseError(c.status, []byte(c.body)).Error(); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q", c.doc, got, c.want)
		}
	}

	// Through the reader: the error names what failed and the engine,
	// never the password, and unwraps to *Error.
	rd, rc := newRecorded(t, cases[0].body)
	rc.status = 400
	{
		_, err := rd.Search(context.Background(), logs.SearchRequest{Limit: 1})
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || e.Type != "parsing_exception" {
			t.Errorf("search error %v does not unwrap to the engine's", err)
		}
		if !strings.HasPrefix(err.Error(), "logs search http://") || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("search error %q", err)
		}
		if _, err := rd.CountMatches(context.Background(), nil, logs.Range{}); err == nil || !strings.HasPrefix(err.Error(), "logs count ") {
			t.Errorf("count error %v", err)
		}
		if _, _, err := rd.Histogram(context.Background(), nil, logs.Range{From: t0, To: t1}, time.Minute); err == nil || !strings.HasPrefix(err.Error(), "logs histogram ") {
			t.Errorf("histogram error %v", err)
		}
	}
}

// TestPartialAnswers: a 200 answer with failed shards or timed out is an
// error: its hits or counts would be silently short.
func TestPartialAnswers(t *testing.T) {
	// Elasticsearch reference, "Search API" response body (_shards.failures)
	// and "Reading and writing documents", shard failures.
	failed := `{"took":21,"timed_out":false,"_shards":{"total":5,"successful":4,"skipped":0,"failed":1,
	  "failures":[{"shard":2,"index":"nodejs-2026.11.28","node":"n1","reason":{"type":"node_not_connected_exception","reason":"[n1] Node not connected"}}]},
	  "hits":{"total":{"value":0,"relation":"eq"},"max_score":null,"hits":[]}}`
	_, err := decodeSearch([]byte(failed))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "1 of 5 shards failed (index nodejs-2026.11.28 shard 2: node_not_connected_exception: [n1] Node not connected)") {
		t.Errorf("shard failure: %v", err)
	}
	// Before 5.0 a failure's reason is a string.
	old := `{"count":3,"_shards":{"total":5,"successful":4,"failed":1,"failures":[{"index":"acme","shard":1,"status":400,"reason":"SearchParseException[...]"}]}}`
	if _, err := decodeCount([]byte(old)); err == nil || !strings.Contains(err.Error(), "SearchParseException[...]") {
		t.Errorf("old shard failure: %v", err)
	}
	if _, err := decodeSearch([]byte(`{"took":10,"timed_out":true,"_shards":{"total":1,"successful":1,"failed":0},"hits":{"total":0,"hits":[]}}`)); err == nil {
		t.Error("timed out accepted")
	}
	// _source disabled in the mapping: hits without it cannot be events.
	if _, err := decodeSearch([]byte(`{"timed_out":false,"_shards":{"total":1,"successful":1,"failed":0},"hits":{"total":1,"hits":[{"_index":"i","_id":"1","sort":[1]}]}}`)); err == nil {
		t.Error("hit without _source accepted")
	}
}
