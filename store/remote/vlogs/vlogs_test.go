package vlogs

import (
	"encoding/json"
	"testing"
)

// Rows as VictoriaLogs answers /select/logsql/query for an event obs
// forwarded (every value text, objects flattened to dotted names).
func TestRebuild(t *testing.T) {
	row := map[string]string{
		"_time": "2026-11-28T13:24:55.123Z", "_stream_id": "000", "_stream": "{}",
		"_msg": "connection refused", "app": "web-api", "fields.status": "503", "fields.latency_ms": "12.5",
		"fields.ok": "true", "fields.path": "/recipes/42", "fields.nested.deep.x": "3", "tags": `["a","t2"]`,
		"zip": "007", "big": "1e400", "neg": "-4", "obj": `{"k":1}`, "text": "[not json",
	}
	raw, err := Rebuild(row, "message", "@timestamp")
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	json.Unmarshal(raw, &got)
	json.Unmarshal([]byte(`{"@timestamp":"2026-11-28T13:24:55.123Z","message":"connection refused","app":"web-api",
		"fields":{"status":503,"latency_ms":12.5,"ok":true,"path":"/recipes/42","nested":{"deep":{"x":3}}},
		"tags":["a","t2"],"zip":"007","big":"1e400","neg":-4,"obj":{"k":1},"text":"[not json"}`), &want)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("rebuilt\n %s\nwant\n %s", gb, wb)
	}
	// A name both a value and a parent keeps the rest as one dotted name.
	raw, _ = Rebuild(map[string]string{"_time": "2026-01-01T00:00:00Z", "a": "x", "a.b": "y"}, "message", "@timestamp")
	if string(raw) != `{"@timestamp":"2026-01-01T00:00:00Z","a":"x","a.b":"y"}` {
		t.Errorf("a and a.b: %s", raw)
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []cursor{{ts: 1795873552564676568}, {ts: 1795873552564676568, skip: 300, inside: true}} {
		got, err := parseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("%v: %v %v", c, got, err)
		}
	}
	for _, bad := range []string{"", "vl:x:1", "vl:1:-2", "B1:2", "vlt:1", "vlt:1:-1"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
