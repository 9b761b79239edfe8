package logudp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var recv = time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		name, in string
		wantRaw  []string // stored bytes, one per event
		wantTS   []string
		jsonFail int
		tsFail   int
	}{
		{name: "complete event kept byte for byte",
			in:      `{"@timestamp":"2026-11-20T12:00:00.5Z","@version":1,"app":"web-api","host":"h1"}`,
			wantRaw: []string{`{"@timestamp":"2026-11-20T12:00:00.5Z","@version":1,"app":"web-api","host":"h1"}`},
			wantTS:  []string{"2026-11-20T12:00:00.5Z"}},
		{name: "missing fields appended",
			in:      ` {"app": "x"} `,
			wantRaw: []string{`{"app": "x","@timestamp":"2026-11-22T10:00:00.123Z","@version":"1","host":"10.0.0.9"}`},
			wantTS:  []string{"2026-11-22T10:00:00.123Z"}},
		{name: "empty object",
			in:      `{}`,
			wantRaw: []string{`{"@timestamp":"2026-11-22T10:00:00.123Z","@version":"1","host":"10.0.0.9"}`},
			wantTS:  []string{"2026-11-22T10:00:00.123Z"}},
		{name: "pino epoch ms",
			in:     `{"level":30,"time":1795386776570,"msg":"hi","@version":"1","host":"a"}`,
			wantTS: []string{"2026-11-22T22:32:56.57Z"}},
		{name: "epoch seconds with fraction",
			in:     `{"ts":1700000000.25,"@version":"1","host":"a"}`,
			wantTS: []string{"2023-11-14T22:13:20.25Z"}},
		{name: "bunyan ISO time",
			in:     `{"time":"2026-01-02T03:04:05.678Z","@version":"1","host":"a"}`,
			wantTS: []string{"2026-01-02T03:04:05.678Z"}},
		{name: "timestamp with offset",
			in:     `{"timestamp":"2026-01-02T03:04:05+02:00","@version":"1","host":"a"}`,
			wantTS: []string{"2026-01-02T01:04:05Z"}},
		{name: "array is one event per element",
			in:     `[{"a":1,"@version":"1","host":"h"},{"a":2,"@version":"1","host":"h"}]`,
			wantTS: []string{"2026-11-22T10:00:00.123Z", "2026-11-22T10:00:00.123Z"}},
		{name: "ndjson datagram",
			in:     "{\"a\":1}\n{\"a\":2}\nnope\n",
			wantTS: []string{"2026-11-22T10:00:00.123Z", "2026-11-22T10:00:00.123Z", "2026-11-22T10:00:00.123Z"}, jsonFail: 1},
		{name: "invalid json kept",
			in:       `{"a":`,
			wantRaw:  []string{`{"@timestamp":"2026-11-22T10:00:00.123Z","@version":"1","host":"10.0.0.9","message":"{\"a\":","tags":["_jsonparsefailure"]}`},
			jsonFail: 1},
		{name: "root scalar", in: `42`, jsonFail: 1,
			wantRaw: []string{`{"@timestamp":"2026-11-22T10:00:00.123Z","@version":"1","host":"10.0.0.9","message":"42","tags":["_jsonparsefailure"]}`}},
		{name: "array element scalar", in: `[{"a":1},"x"]`, jsonFail: 1,
			wantTS: []string{"2026-11-22T10:00:00.123Z", "2026-11-22T10:00:00.123Z"}},
		{name: "unparseable @timestamp", in: `{"@timestamp":"yesterday","tags":["t1"],"@version":"1","host":"h"}`, tsFail: 1,
			wantRaw: []string{`{"@timestamp":"2026-11-22T10:00:00.123Z","@version":"1","_@timestamp":"yesterday","host":"h","tags":["t1","_timestampparsefailure"]}`}},
		{name: "deep nesting is a parse failure, not a crash", in: strings.Repeat("[", 20000) + strings.Repeat("]", 20000), jsonFail: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := Normalize([]byte(c.in), recv, "10.0.0.9")
			if res.JSONFailures != c.jsonFail || res.TimestampFailure != c.tsFail {
				t.Fatalf("failures json=%d ts=%d, want %d %d", res.JSONFailures, res.TimestampFailure, c.jsonFail, c.tsFail)
			}
			for i, w := range c.wantRaw {
				if string(res.Entries[i].Raw) != w {
					t.Errorf("raw[%d]\n got %s\nwant %s", i, res.Entries[i].Raw, w)
				}
			}
			for i, w := range c.wantTS {
				if got := res.Entries[i].TS.Format(time.RFC3339Nano); got != w {
					t.Errorf("ts[%d] = %s, want %s", i, got, w)
				}
			}
			for _, e := range res.Entries {
				if !json.Valid(e.Raw) {
					t.Errorf("stored invalid JSON %s", e.Raw)
				}
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},2]`, "{\"a\":1}\n{\"b\":2}", `{"@timestamp":"x"}`, `{"time":1e400}`,
		`{"ts":"1700000000"}`, `"s"`, `{"a":"\xff"}`, `{"@timestamp":null,"tags":"one"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := Normalize(b, recv, "127.0.0.1")
		if len(res.Entries) == 0 && !onlyEmptyArrays(b) {
			t.Fatalf("%q produced no event: nothing may vanish", b)
		}
		for _, e := range res.Entries {
			if !json.Valid(e.Raw) {
				t.Fatalf("%q stored as invalid JSON %q", b, e.Raw)
			}
			if e.TS.IsZero() {
				t.Fatalf("%q: zero timestamp", b)
			}
		}
	})
}

// onlyEmptyArrays says whether b holds nothing but empty JSON arrays (one per
// line): the one input that rightly yields no event.
func onlyEmptyArrays(b []byte) bool {
	var whole []any
	if json.Unmarshal(b, &whole) == nil && len(whole) == 0 {
		return true
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v []any
		if json.Unmarshal(line, &v) != nil || len(v) != 0 {
			return false
		}
	}
	return true
}

// A wrong clock must not make days that never expire (or expire at once):
// an event dated past the bounds is stored at its receive time, tagged,
// its own time kept; inside the bounds nothing changes.
func TestTimestampSkew(t *testing.T) {
	b := Bounds{MaxFuture: 24 * time.Hour, MaxPast: 7 * 24 * time.Hour}
	for _, c := range []struct {
		name, in, wantTS, wantOrig string
		skew                       int
	}{
		{"year 3000", `{"@timestamp":"3000-01-01T00:00:00Z","a":1}`, "2026-11-22T10:00:00.123Z", "3000-01-01T00:00:00Z", 1},
		{"epoch seconds read as a far date", `{"time":99999999999,"a":1}`, "2026-11-22T10:00:00.123Z", "5138-11-16T09:46:39.000Z", 1},
		{"older than the retention", `{"@timestamp":"2026-11-01T00:00:00Z"}`, "2026-11-22T10:00:00.123Z", "2026-11-01T00:00:00Z", 1},
		{"a day back is fine", `{"@timestamp":"2026-11-21T09:00:00Z"}`, "2026-11-21T09:00:00Z", "", 0},
		{"an hour ahead is fine", `{"@timestamp":"2026-11-22T11:00:00Z"}`, "2026-11-22T11:00:00Z", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := b.Normalize([]byte(c.in), recv, "10.0.0.9")
			if res.TimestampSkew != c.skew || len(res.Entries) != 1 {
				t.Fatalf("skew %d, entries %d", res.TimestampSkew, len(res.Entries))
			}
			e := res.Entries[0]
			if want, _ := time.Parse(time.RFC3339Nano, c.wantTS); !e.TS.Equal(want) {
				t.Fatalf("stored at %s, want %s", e.TS.Format(time.RFC3339Nano), c.wantTS)
			}
			var ev map[string]any
			json.Unmarshal(e.Raw, &ev)
			if c.wantOrig == "" {
				if _, ok := ev["_@timestamp"]; ok {
					t.Fatalf("retimed an event inside the bounds: %s", e.Raw)
				}
				return
			}
			if ev["_@timestamp"] != c.wantOrig || !strings.Contains(string(e.Raw), TagTimestampSkew) {
				t.Fatalf("original time or tag missing: %s", e.Raw)
			}
		})
	}
}
