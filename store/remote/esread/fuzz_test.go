package esread

import (
	"testing"
)

// FuzzDecode: any answer body, of any status, is decoded into hits,
// buckets, a count or an error, and never panics.
func FuzzDecode(f *testing.F) {
	for _, c := range searchAnswers {
		f.Add([]byte(c.body), 200)
	}
	f.Add([]byte(`{"aggregations":{"histogram":{"buckets":[{"key":1.79587086E12,"doc_count":2},{"key":"x"}]}}}`), 200)
	f.Add([]byte(`{"count":3,"_shards":{"total":5,"successful":4,"failed":1,"failures":[{"reason":"x"}]}}`), 200)
	f.Add([]byte(`{"error":{"type":"t","reason":"r","caused_by":{"type":"c","reason":"d"}},"status":400}`), 400)
	f.Add([]byte(`{"error":"IndexMissingException","status":404}`), 404)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		if status != 200 {
			if parseError(status, body).Error() == "" && len(body) > 0 {
				t.Fatalf("empty error for %q", body)
			}
			return
		}
		decodeCount(body)
		r, err := decodeSearch(body)
		if err != nil {
			return
		}
		rd := &Reader{tf: "@timestamp"}
		for i, h := range r.Hits.Hits {
			v, err := sortValue(h)
			if err != nil {
				continue
			}
			rd.hit(h, v, i)
		}
		for _, a := range r.Aggregations {
			for _, b := range a.Buckets {
				b.Key.Float64()
			}
		}
	})
}
