package jaegerapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTrace feeds arbitrary trace JSON, as a misbehaving or hostile engine
// might answer, through the conversion to Zipkin spans: it must never
// panic, and whatever it accepts must encode as Zipkin JSON that reads
// back to the same number of spans.
func FuzzTrace(f *testing.F) {
	for _, name := range []string{"trace.json", "trace_notimestamp.json", "search.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"traceID":"1","spans":[{"traceID":"1","spanID":"2","references":[{"refType":"CHILD_OF","traceID":"1","spanID":"1"}],"startTime":-1,"duration":-5,"processID":"p9","tags":[{"key":"span.kind","type":"int64","value":7}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tr jTrace
		if json.Unmarshal(data, &tr) != nil {
			return
		}
		spans, err := toZipkin(tr)
		if err != nil {
			return
		}
		raw := encode(spans)
		if len(raw) != len(spans) {
			t.Fatalf("%d spans encoded as %d", len(spans), len(raw))
		}
		for _, r := range raw {
			var v map[string]any
			if err := json.Unmarshal(r, &v); err != nil {
				t.Fatalf("encoded span is not JSON: %v: %s", err, r)
			}
		}
	})
}
