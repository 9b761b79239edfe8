package esbulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/remote/endpoint"
)

func TestIndexNames(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -5*3600)) // 08:04 UTC
	for _, c := range []struct{ pattern, want string }{
		{DefaultIndex, "nodejs-2026.01.02"},
		{"logstash-%{+YYYY.MM.dd}", "logstash-2026.01.02"},
		{"logs-%{+yyyy-MM-dd-HH}", "logs-2026-01-02-08"},
		{"w-%{+xxxx.ww}", "w-2026.01"},
		{"app-%{+YY}'s", "app-26's"},
		{"fixed", "fixed"},
		{"a-%{+'q'YYYY}", "a-q2026"},
	} {
		idx, err := ParseIndex(c.pattern)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		if got := idx.Name(at); got != c.want {
			t.Errorf("%s: %q, want %q", c.pattern, got, c.want)
		}
	}
	for _, bad := range []string{"", "x-%{+YYYY", "x-%{[host]}", "x-%{+YYYY.MMM}", "Upper-%{+YYYY}", "_x", "a b"} {
		if _, err := ParseIndex(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// The _bulk answers below have the shapes Elasticsearch documents for the
// bulk API (docs: "Bulk API", response body examples) and VictoriaLogs'.
func TestItems(t *testing.T) {
	for _, c := range []struct {
		name     string
		answer   string
		rejected int64
		retry    bool
	}{
		{"all created", `{"took":30,"errors":false,"items":[{"create":{"_index":"i","_id":"1","status":201}}]}`, 0, false},
		{"VictoriaLogs", `{"took":0,"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, 0, false},
		{"no body", ``, 0, false},
		{"409 is already there", `{"took":3,"errors":true,"items":[{"create":{"_id":"1","status":409,"error":{"type":"version_conflict_engine_exception"}}},{"create":{"status":201}}]}`, 0, false},
		{"mapping conflict refused", `{"took":3,"errors":true,"items":[{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [status]"}}},{"create":{"status":201}}]}`, 1, false},
		{"429 item retries the batch", `{"took":3,"errors":true,"items":[{"create":{"status":429,"error":{"type":"es_rejected_execution_exception"}}},{"create":{"status":400,"error":{}}}]}`, 0, true},
		{"503 item retries", `{"errors":true,"items":[{"index":{"status":503}}]}`, 0, true},
	} {
		n, why, retry := Items([]byte(c.answer))
		if n != c.rejected || (retry != nil) != c.retry {
			t.Errorf("%s: rejected %d retry %v, want %d %v", c.name, n, retry, c.rejected, c.retry)
		}
		if n > 0 && !strings.Contains(why, "mapper_parsing_exception") {
			t.Errorf("%s: why %q does not carry the store's reason", c.name, why)
		}
	}
	if _, _, err := Items([]byte("<html>")); err == nil {
		t.Error("a non-JSON answer was taken as delivered")
	}
}

// Queued events become _bulk NDJSON: a create action with the day's index
// and an id unique to the event, then the event on one line.
func TestEncode(t *testing.T) {
	f, err := Open(t.TempDir(), Options{Endpoint: endpoint.Config{URL: "http://127.0.0.1:1/_bulk"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := time.Date(2026, 11, 28, 23, 59, 59, 0, time.UTC)
	body := f.encode([]logs.Entry{
		{TS: ts, Raw: []byte(`{"@timestamp":"2026-11-28T23:59:59Z","message":"a"}`)},
		{TS: ts.Add(time.Second), Raw: []byte("{\n  \"message\": \"pretty\"\n}")},
		{TS: ts, Raw: []byte(`{"message":"a"}`)},
	})
	sc := bufio.NewScanner(bytes.NewReader(body))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), body)
	}
	ids := map[string]bool{}
	for i, want := range []string{"nodejs-2026.11.28", "nodejs-2026.11.29", "nodejs-2026.11.28"} {
		var action map[string]map[string]string
		if err := json.Unmarshal([]byte(lines[2*i]), &action); err != nil {
			t.Fatalf("action %d: %v", i, err)
		}
		index, id := action["create"]["_index"], action["create"]["_id"]
		if index != want || id == "" || ids[id] {
			t.Errorf("action %d: %s", i, lines[2*i])
		}
		ids[id] = true
		if !json.Valid([]byte(lines[2*i+1])) {
			t.Errorf("source %d is not one JSON line: %s", i, lines[2*i+1])
		}
	}
	if err := f.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}
