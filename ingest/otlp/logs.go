package otlp

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/obs-dev/obs/store/logs"
)

// MaxFieldsPerRecord bounds the attributes (resource, scope and record
// together) one log record keeps, as Zipkin's bound does for spans: past
// it the rest are cut and counted.
const MaxFieldsPerRecord = 1000

// The fields a record always has when set. Attributes of the same name are
// kept under attributes.<name> (resource.<name>, body.<name>), never lost.
const (
	fieldTimestamp      = "@timestamp"
	fieldMessage        = "message"
	fieldSeverityText   = "severity_text"
	fieldSeverityNumber = "severity_number"
	fieldTraceID        = "trace_id" // the UI links a log to its trace by this name
	fieldSpanID         = "span_id"
	fieldEventName      = "event_name"
	fieldObserved       = "observed_timestamp"
	fieldScopeName      = "otel.scope.name"
	fieldScopeVersion   = "otel.scope.version"
	fieldTags           = "tags"
	fieldOrigTimestamp  = "_@timestamp"
	tagTimestampSkew    = "_timestampskew" // as the other log intakes tag it
)

var fixedFields = map[string]bool{fieldTimestamp: true, fieldMessage: true, fieldSeverityText: true,
	fieldSeverityNumber: true, fieldTraceID: true, fieldSpanID: true, fieldEventName: true, fieldObserved: true,
	fieldScopeName: true, fieldScopeVersion: true, fieldTags: true, fieldOrigTimestamp: true}

// logResult is what mapping one request's log records found.
type logResult struct {
	Entries []logs.Entry
	Cut     int // attributes past MaxFieldsPerRecord
	Skewed  int // records stored at their receive time, out of bounds
}

// entriesOf maps OTLP log records to log events, one flat JSON object
// each, as KQL and the UI read the other intakes' events: @timestamp from
// time_unix_nano (else observed_time_unix_nano, else the receive time);
// message from a string body (a map body's keys become fields, another
// body's text the message); severity_text and severity_number; trace_id
// and span_id in hex; then the record's attributes and its resource's
// (service.name, host.name...) under their own dotted names. A record
// dated outside [recv-maxPast, recv+maxFuture] is stored at recv, tagged
// _timestampskew, its own time kept in _@timestamp, as other log intakes
// do: one client's wrong clock must not open days that never expire.
func entriesOf(ld plog.Logs, recv time.Time, maxFuture, maxPast time.Duration) logResult {
	var res logResult
	res.Entries = make([]logs.Entry, 0, ld.LogRecordCount())
	var w eventWriter
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		for j := range rl.ScopeLogs().Len() {
			sl := rl.ScopeLogs().At(j)
			recs := sl.LogRecords()
			for k := range recs.Len() {
				lr := recs.At(k)
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				t := recv.UTC()
				if ts != 0 {
					t = ts.AsTime().UTC()
				}
				skewed := maxFuture > 0 && t.After(recv.Add(maxFuture)) || maxPast > 0 && t.Before(recv.Add(-maxPast))
				if skewed {
					res.Skewed++
					t = recv.UTC()
				}
				w.reset()
				w.str(fieldTimestamp, t.Format(time.RFC3339Nano))
				if skewed {
					w.str(fieldOrigTimestamp, ts.AsTime().UTC().Format(time.RFC3339Nano))
					w.key(fieldTags)
					w.b = append(w.b, `["`+tagTimestampSkew+`"]`...)
				}
				body := lr.Body()
				switch body.Type() {
				case pcommon.ValueTypeEmpty:
				case pcommon.ValueTypeMap:
					w.attrs(body.Map(), "body.")
				default:
					w.str(fieldMessage, body.AsString())
				}
				if s := lr.SeverityText(); s != "" {
					w.str(fieldSeverityText, s)
				}
				if n := lr.SeverityNumber(); n != plog.SeverityNumberUnspecified {
					w.key(fieldSeverityNumber)
					w.b = strconv.AppendInt(w.b, int64(n), 10)
				}
				if id := lr.TraceID(); !id.IsEmpty() {
					w.str(fieldTraceID, traceIDHex(id))
				}
				if id := lr.SpanID(); !id.IsEmpty() {
					w.str(fieldSpanID, id.String())
				}
				if n := lr.EventName(); n != "" {
					w.str(fieldEventName, n)
				}
				if ot := lr.ObservedTimestamp(); ot != 0 && lr.Timestamp() != 0 && ot != lr.Timestamp() {
					w.str(fieldObserved, ot.AsTime().UTC().Format(time.RFC3339Nano))
				}
				if n := sl.Scope().Name(); n != "" {
					w.str(fieldScopeName, n)
				}
				if v := sl.Scope().Version(); v != "" {
					w.str(fieldScopeVersion, v)
				}
				w.attrs(lr.Attributes(), "attributes.")
				w.attrs(sl.Scope().Attributes(), "scope.")
				w.attrs(rl.Resource().Attributes(), "resource.")
				res.Cut += w.cut
				res.Entries = append(res.Entries, logs.Entry{TS: t, Raw: w.done()})
			}
		}
	}
	return res
}

// traceIDHex is a trace id as the span store names its trace: a 64-bit id
// (B3 from a Zipkin-instrumented caller, which an OTel SDK pads with
// zeros) in 16 digits, as Zipkin writes it, so that the trace's page and
// `obs traces show --logs` find the record by the id they show.
func traceIDHex(id pcommon.TraceID) string {
	if [8]byte(id[:8]) == [8]byte{} {
		return hex.EncodeToString(id[8:])
	}
	return hex.EncodeToString(id[:])
}

// eventWriter writes one event's JSON object, each key once.
type eventWriter struct {
	b    []byte
	seen map[string]bool
	n    int // attributes written
	cut  int
}

func (w *eventWriter) reset() {
	w.b = append(make([]byte, 0, 512), '{')
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	clear(w.seen)
	w.n, w.cut = 0, 0
}

func (w *eventWriter) key(k string) {
	if len(w.b) > 1 {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.seen[k] = true
}

func (w *eventWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

// attrs writes a map's entries as fields; a name already written (a fixed
// field, or the same attribute at a more specific level) is kept under
// prefix+name instead, and past MaxFieldsPerRecord entries are cut.
func (w *eventWriter) attrs(m pcommon.Map, prefix string) {
	m.Range(func(k string, v pcommon.Value) bool {
		if w.n >= MaxFieldsPerRecord {
			w.cut++
			return true
		}
		if w.seen[k] || fixedFields[k] {
			k = prefix + k
			if w.seen[k] {
				return true // the same name twice at one level: pdata keeps the first too
			}
		}
		w.n++
		w.key(k)
		w.b = appendValue(w.b, v)
		return true
	})
}

func (w *eventWriter) done() []byte {
	w.b = append(w.b, '}')
	return w.b
}

// appendValue writes an attribute value as JSON of its own type: numbers
// as numbers, maps as objects (the store flattens them into dotted
// paths), bytes as base64 as OTLP/JSON writes them.
func appendValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(b, v.AsString()) // JSON has no NaN
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case pcommon.ValueTypeEmpty:
		return append(b, "null"...)
	}
	raw, err := json.Marshal(v.AsRaw())
	if err != nil {
		// A NaN deep in a slice or map: its text form says what was sent.
		return appendJSONString(b, v.AsString())
	}
	return append(b, raw...)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes (invalid UTF-8 becomes U+FFFD)
	return append(b, q...)
}
