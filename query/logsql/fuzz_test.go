package logsql

import (
	"errors"
	"testing"

	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/query/kql/kqltest"
)

// FuzzLogsQL: whatever parses compiles without panicking, into LogsQL whose
// quoted tokens unquote and whose groups balance (VictoriaLogs' own parser
// is not at hand offline); what does not compile says so with a
// *kql.CompileError.
func FuzzLogsQL(f *testing.F) {
	for _, c := range kqltest.Cases {
		f.Add(c.Q)
	}
	for _, q := range moreQueries {
		f.Add(q)
	}
	f.Add(`a:{ b:{ *:* } or c < now-1d/d } and not "x\"y" or z*:(1 and *2)`)
	f.Add(`@timestamp:"2026-01-02" or x >= "\u00ff" or message:"a\tb" or n < -Inf`)
	fields := []string{"@timestamp", "message", "app", "a.b", `we"ird`, "_time", "_msg", "_stream", "_stream_id"}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := kql.Parse(q)
		if err != nil {
			return
		}
		for _, opts := range []Options{{Now: now}, {Now: now, Fields: fields}} {
			out, err := Filter(n, opts)
			if err != nil {
				var ce *kql.CompileError
				if !errors.As(err, &ce) || ce.Pos < 0 || ce.Pos > len(q) {
					t.Fatalf("%q: bad error %v", q, err)
				}
				continue
			}
			if err := wellFormed(out); err != nil {
				t.Fatalf("%q compiled to %s: %v", q, out, err)
			}
		}
	})
}
