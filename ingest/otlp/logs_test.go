package otlp

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/obs-dev/obs/ingest/httpbody"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
)

// oneRecord is a request with one log record, set up by the callback.
func oneRecord(rec func(plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("host.name", "box1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("app.logger")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(123456789)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second)))
	lr.Body().SetStr("payment declined")
	lr.SetSeverityText("ERROR")
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	lr.Attributes().PutStr("order.id", "A-17")
	lr.Attributes().PutInt("amount_cents", 1999)
	if rec != nil {
		rec(lr)
	}
	return ld
}

func eventOf(t *testing.T, ld plog.Logs) (logs.Entry, map[string]any) {
	t.Helper()
	res := entriesOf(ld, t0.Add(time.Minute), 24*time.Hour, 7*24*time.Hour)
	if len(res.Entries) != 1 {
		t.Fatalf("%d entries", len(res.Entries))
	}
	var ev map[string]any
	if err := json.Unmarshal(res.Entries[0].Raw, &ev); err != nil {
		t.Fatalf("%v: %s", err, res.Entries[0].Raw)
	}
	return res.Entries[0], ev
}

func TestLogMapping(t *testing.T) {
	e, ev := eventOf(t, oneRecord(nil))
	want := map[string]any{"@timestamp": "2026-03-01T12:00:00.123456789Z", "message": "payment declined",
		"severity_text": "ERROR", "severity_number": 17.0, "trace_id": "5b8efff798038103d269b633813fc60c",
		"span_id": "eee19b7ec3c1b174", "service.name": "checkout", "host.name": "box1", "order.id": "A-17",
		"amount_cents": 1999.0, "otel.scope.name": "app.logger", "observed_timestamp": "2026-03-01T12:00:01Z"}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("%s = %#v, want %#v", k, ev[k], v)
		}
	}
	if len(ev) != len(want) {
		t.Errorf("fields %v", ev)
	}
	if !e.TS.Equal(t0.Add(123456789)) {
		t.Errorf("TS %v", e.TS)
	}
	// The flattened fields are what KQL reads.
	fields, err := logs.Flatten(e.Raw)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fields {
		found = found || f.Path == "service.name" && f.Str == "checkout"
	}
	if !found {
		t.Errorf("service.name not a field: %+v", fields)
	}
}

func TestLogBodiesAndTimes(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  func(plog.LogRecord)
		want map[string]any // fields checked; nil value: absent
	}{
		{"map body flattened into fields", func(lr plog.LogRecord) {
			m := lr.Body().SetEmptyMap()
			m.PutStr("msg", "hello")
			m.PutStr("message", "from the body")
			m.PutEmptyMap("http").PutInt("status", 502)
		}, map[string]any{"msg": "hello", "body.message": "from the body", "message": nil, "http": map[string]any{"status": 502.0}}},
		{"int body is the message", func(lr plog.LogRecord) { lr.Body().SetInt(42) }, map[string]any{"message": "42"}},
		{"no body", func(lr plog.LogRecord) { lr.Body().SetStr(""); lr.Body().FromRaw(nil) }, map[string]any{"message": nil}},
		{"observed time when no time", func(lr plog.LogRecord) { lr.SetTimestamp(0) },
			map[string]any{"@timestamp": "2026-03-01T12:00:01Z", "observed_timestamp": nil}},
		{"receive time when neither", func(lr plog.LogRecord) { lr.SetTimestamp(0); lr.SetObservedTimestamp(0) },
			map[string]any{"@timestamp": "2026-03-01T12:01:00Z"}},
		{"a clock a year ahead is stored now, tagged", func(lr plog.LogRecord) {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.AddDate(1, 0, 0)))
		}, map[string]any{"@timestamp": "2026-03-01T12:01:00Z", "_@timestamp": "2027-03-01T12:00:00Z", "tags": []any{"_timestampskew"}}},
		{"attributes named like fixed fields are kept aside", func(lr plog.LogRecord) {
			lr.Attributes().PutStr("message", "attr")
			lr.Attributes().PutStr("host.name", "from the record")
		}, map[string]any{"message": "payment declined", "attributes.message": "attr", "host.name": "from the record", "resource.host.name": "box1"}},
		{"a 64-bit trace id in 16 digits, as the span store names its trace", func(lr plog.LogRecord) {
			lr.SetTraceID(pcommon.TraceID{8: 0x42, 15: 0x17})
		}, map[string]any{"trace_id": "4200000000000017"}},
		{"no ids, no severity", func(lr plog.LogRecord) {
			lr.SetTraceID(pcommon.TraceID{})
			lr.SetSpanID(pcommon.SpanID{})
			lr.SetSeverityNumber(0)
			lr.SetSeverityText("")
		}, map[string]any{"trace_id": nil, "span_id": nil, "severity_text": nil, "severity_number": nil}},
		{"odd values", func(lr plog.LogRecord) {
			lr.Attributes().PutDouble("nan", 0)
			v, _ := lr.Attributes().Get("nan")
			v.SetDouble(nanValue())
			lr.Attributes().PutEmptyBytes("raw").FromRaw([]byte{1, 2})
			lr.Attributes().PutEmptySlice("list").FromRaw([]any{"a", int64(1)})
			lr.Attributes().PutStr("quote\"d", "<b>")
		}, map[string]any{"nan": "NaN", "raw": "AQI=", "list": []any{"a", 1.0}, "quote\"d": "<b>"}},
	} {
		_, ev := eventOf(t, oneRecord(c.rec))
		for k, v := range c.want {
			got, ok := ev[k]
			if v == nil {
				if ok {
					t.Errorf("%s: %s = %#v, want none", c.name, k, got)
				}
				continue
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(v)
			if string(gb) != string(wb) {
				t.Errorf("%s: %s = %s, want %s", c.name, k, gb, wb)
			}
		}
	}
}

func nanValue() float64 { z := 0.0; return z / z }

func TestLogManyAttributesCut(t *testing.T) {
	ld := oneRecord(func(lr plog.LogRecord) {
		raw := map[string]any{}
		for i := range 3000 {
			raw["a"+strconv.Itoa(i)] = int64(i)
		}
		lr.Attributes().FromRaw(raw)
	})
	res := entriesOf(ld, t0, 0, 0)
	if res.Cut != 3000+2-MaxFieldsPerRecord {
		t.Errorf("cut %d", res.Cut)
	}
	var ev map[string]any
	if err := json.Unmarshal(res.Entries[0].Raw, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev) > MaxFieldsPerRecord+20 {
		t.Errorf("%d fields", len(ev))
	}
}

// Over HTTP into a real log store, then found by KQL by service.name and
// by trace_id, as the UI's trace page looks for a trace's logs.
func TestHTTPLogs(t *testing.T) {
	st, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := newRig(t, func(o *Options) { o.Logs = st })
	ld := oneRecord(func(lr plog.LogRecord) { lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now())) })
	body, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	code, _, b := g.post(PathLogs, ctJSON, "gzip", httpbody.Gzip(body))
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	resp := plogotlp.NewExportResponse()
	if err := resp.UnmarshalJSON(b); err != nil || resp.PartialSuccess().RejectedLogRecords() != 0 {
		t.Errorf("response %v %s", err, b)
	}
	st.Sync()
	for _, q := range []string{`service.name:checkout`, `trace_id:"5b8efff798038103d269b633813fc60c"`, `severity_text:ERROR and order.id:"A-17"`} {
		m, err := kql.Compile(q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Search(context.Background(), logs.SearchRequest{Match: m, Range: logs.Range{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}})
		if err != nil || len(res.Hits) != 1 || !strings.Contains(string(res.Hits[0].Raw), "payment declined") {
			t.Errorf("%s: %v %d hits", q, err, len(res.Hits))
		}
	}
	if n := g.counter("obs_otlp_items_total", "signal", "logs"); n != 1 {
		t.Errorf("items %v", n)
	}
	// Protobuf too; a truncated body is refused whole.
	pb, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if code, _, _ := g.post(PathLogs, ctProto, "", pb); code != 200 {
		t.Errorf("protobuf: %d", code)
	}
	if code, _, _ := g.post(PathLogs, ctProto, "", pb[:len(pb)/2]); code != 400 {
		t.Errorf("truncated: %d", code)
	}
}
