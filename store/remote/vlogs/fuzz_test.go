package vlogs

import (
	"encoding/json"
	"testing"
)

// FuzzRebuild: any row of text fields VictoriaLogs could answer rebuilds
// into valid JSON, never panics.
func FuzzRebuild(f *testing.F) {
	f.Add("fields.status", "503", "tags", `["a","t2"]`, "a.b.c", "x")
	f.Add("a", "1e400", "a.b", "{", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		row := map[string]string{"_time": "2026-11-28T00:00:00Z", k1: v1, k2: v2, k3: v3}
		raw, err := Rebuild(row, "message", "@timestamp")
		if err != nil {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("not JSON: %s", raw)
		}
	})
}
