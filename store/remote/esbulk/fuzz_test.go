package esbulk

import (
	"testing"
	"time"
)

// FuzzItems: whatever a store answers to _bulk, reading it never panics,
// never counts more refusals than items, and a retry is an error.
func FuzzItems(f *testing.F) {
	for _, s := range []string{``, `{"errors":false,"items":[]}`,
		`{"took":3,"errors":true,"items":[{"create":{"status":400,"error":{"type":"mapper_parsing_exception"}}},{"create":{"status":201}}]}`,
		`{"errors":true,"items":[{"index":{"status":503}}]}`, `<html>`, `{"errors":true,"items":[{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, why, retry := Items(b)
		if n < 0 || (n > 0 && why == "") || (retry != nil && n != 0) {
			t.Fatalf("rejected %d, why %q, retry %v", n, why, retry)
		}
	})
}

// FuzzIndex: a pattern either parses into names Elasticsearch takes or is
// refused with an error; it never panics.
func FuzzIndex(f *testing.F) {
	for _, s := range []string{DefaultIndex, "x-%{+xxxx.ww}", "%{", "a-%{+'q", "%{+}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		idx, err := ParseIndex(p)
		if err != nil {
			return
		}
		if idx.Name(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)) == "" {
			t.Fatalf("%q: empty name", p)
		}
	})
}
