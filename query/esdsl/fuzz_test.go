package esdsl

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/obs-dev/obs/query/kql"
)

// FuzzESDSL: whatever parses compiles without panicking, with and without
// an index pattern, into something that marshals to JSON; what does not
// compile says so with an *Error.
func FuzzESDSL(f *testing.F) {
	for _, c := range golden {
		f.Add(c.kql)
	}
	f.Add(`a:{ b:{ *:* } or c < now-1d/d } and not "x\"y" or z*:(1 and *2)`)
	f.Fuzz(func(t *testing.T, q string) {
		n, err := kql.Parse(q)
		if err != nil {
			return
		}
		for _, opts := range []Options{withPattern, noPattern, {NoLeadingWildcards: true, FiltersInMustClause: true, DateFormatTZ: "Browser"}} {
			out, err := ToQuery(n, opts)
			if err != nil {
				var e *kql.CompileError
				if !errors.As(err, &e) || e.Pos < 0 || e.Pos > len(q) {
					t.Fatalf("%q: bad error %v", q, err)
				}
				continue
			}
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("%q: %v", q, err)
			}
		}
	})
}
