// Package logudp receives Logstash-style log events: one JSON object (or an
// array of them) per UDP datagram, or newline-delimited JSON over TCP on the
// same port, as Logstash's udp input with codec json and its tcp input with
// codec json_lines do. It normalises each event the way Logstash would and
// hands it to the logs store.
package logudp

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/obs-dev/obs/store/logs"
)

// Tags Logstash adds when it had to guess.
const (
	TagJSONParseFailure      = "_jsonparsefailure"
	TagTimestampParseFailure = "_timestampparsefailure"
)

// Result says what normalising one payload found.
type Result struct {
	Entries          []logs.Entry
	JSONFailures     int // payloads kept as a message with _jsonparsefailure
	TimestampFailure int // events whose timestamp could not be read
}

// Normalize turns one payload (a datagram or a line) into events:
// an object is one event, an array of objects one event per element, several
// JSON lines one event each, and anything else is kept whole as the message
// of a _jsonparsefailure event. recv is the receive time and sender the
// peer's IP (for "host").
//
// The entries may point into payload (an event that needs no change is
// stored byte for byte), so payload must not be reused afterwards.
func Normalize(payload []byte, recv time.Time, sender string) Result {
	var res Result
	trimmed := trimJSONSpace(payload)
	p, err := logs.ParseJSON(trimmed)
	if err == nil && p.N < len(trimmed) {
		// Several JSON lines in one datagram: pino-socket and other
		// stream-based UDP senders batch NDJSON this way.
		if bytes.IndexByte(trimmed, '\n') > 0 {
			for _, line := range bytes.Split(trimmed, []byte("\n")) {
				if len(trimJSONSpace(line)) == 0 {
					continue
				}
				sub := Normalize(line, recv, sender)
				res.Entries = append(res.Entries, sub.Entries...)
				res.JSONFailures += sub.JSONFailures
				res.TimestampFailure += sub.TimestampFailure
			}
			return res
		}
		err = errTrailing
	}
	if err != nil {
		res.add(failure(payload, recv, sender))
		res.JSONFailures++
		return res
	}
	switch p.Root {
	case '{':
		res.add(normalizeObject(trimmed, p, recv, sender))
	case '[':
		for _, el := range p.Elems {
			if el[0] != '{' {
				res.add(failure(el, recv, sender))
				res.JSONFailures++
				continue
			}
			sub, err := logs.ParseJSON(el)
			if err != nil { // cannot happen: el was validated with its array
				res.add(failure(el, recv, sender))
				res.JSONFailures++
				continue
			}
			res.add(normalizeObject(el, sub, recv, sender))
		}
	default:
		res.add(failure(payload, recv, sender))
		res.JSONFailures++
	}
	return res
}

// trimJSONSpace trims the four characters JSON calls whitespace; anything
// else (a vertical tab, say) makes the payload not JSON.
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

type errString string

func (e errString) Error() string { return string(e) }

const errTrailing = errString("data after the JSON value")

func (r *Result) add(e logs.Entry, tsFailed bool) {
	r.Entries = append(r.Entries, e)
	if tsFailed {
		r.TimestampFailure++
	}
}

// failure keeps an unparseable payload as Logstash does.
func failure(payload []byte, recv time.Time, sender string) (logs.Entry, bool) {
	msg := strings.ToValidUTF8(string(payload), "\uFFFD")
	obj := map[string]any{
		"message":    msg,
		"tags":       []any{TagJSONParseFailure},
		"@timestamp": formatTS(recv),
		"@version":   "1",
	}
	if sender != "" {
		obj["host"] = sender
	}
	raw, _ := json.Marshal(obj)
	return logs.Entry{TS: recv.UTC(), Raw: raw}, false
}

func formatTS(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// topValue finds a root key's leaf value; ok is false when the key is absent.
// A key holding an object or array has no leaf of its own name.
func topValue(p logs.Parsed, key string) (f *logs.Field, present bool) {
	for _, k := range p.Top {
		if k.Key == key {
			present = true
		}
	}
	if !present {
		return nil, false
	}
	for i := range p.Fields {
		if p.Fields[i].Path == key {
			return &p.Fields[i], true
		}
	}
	return nil, true
}

// normalizeObject fills in @timestamp, @version and host. When nothing has to
// change, the event is stored byte for byte as it was sent; added fields are
// appended so that the sender's own field order is kept.
func normalizeObject(raw []byte, p logs.Parsed, recv time.Time, sender string) (logs.Entry, bool) {
	var add []logs.Field
	ts := recv.UTC()
	if f, present := topValue(p, "@timestamp"); present {
		t, ok := time.Time{}, false
		if f != nil {
			t, ok = parseTS(f)
		}
		if !ok {
			return timestampFailure(raw, recv, sender)
		}
		ts = t
	} else {
		for _, k := range []string{"timestamp", "time", "ts"} {
			if f, _ := topValue(p, k); f != nil {
				if t, ok := parseTS(f); ok {
					ts = t
					break
				}
			}
		}
		add = append(add, logs.Field{Path: "@timestamp", Kind: logs.KindString, Str: formatTS(ts)})
	}
	if _, present := topValue(p, "@version"); !present {
		add = append(add, logs.Field{Path: "@version", Kind: logs.KindString, Str: "1"})
	}
	if _, present := topValue(p, "host"); !present && sender != "" {
		add = append(add, logs.Field{Path: "host", Kind: logs.KindString, Str: sender})
	}
	if len(add) > 0 {
		raw = appendKeys(raw, add)
	}
	return logs.Entry{TS: ts, Raw: raw, Fields: append(p.Fields, add...)}, false
}

// timestampFailure is Logstash's answer to an unreadable @timestamp: keep
// the original in _@timestamp, tag the event, use the receive time. Rare, so
// it takes the slow generic path.
func timestampFailure(raw []byte, recv time.Time, sender string) (logs.Entry, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return failure(raw, recv, sender)
	}
	obj["_@timestamp"] = obj["@timestamp"]
	obj["@timestamp"] = formatTS(recv)
	obj["tags"] = appendTag(obj["tags"], TagTimestampParseFailure)
	if _, ok := obj["@version"]; !ok {
		obj["@version"] = "1"
	}
	if _, ok := obj["host"]; !ok && sender != "" {
		obj["host"] = sender
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return failure(raw, recv, sender)
	}
	return logs.Entry{TS: recv.UTC(), Raw: out}, true
}

// appendKeys inserts string-valued keys before the object's closing brace.
func appendKeys(raw []byte, kvs []logs.Field) []byte {
	end := bytes.LastIndexByte(raw, '}')
	body := trimJSONSpace(raw[1:end])
	out := make([]byte, 0, len(raw)+64)
	out = append(out, '{')
	out = append(out, body...)
	for i, kv := range kvs {
		if len(body) > 0 || i > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(kv.Path)
		v, _ := json.Marshal(kv.Str)
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}')
}

func appendTag(tags any, tag string) any {
	switch t := tags.(type) {
	case []any:
		return append(t, tag)
	case nil:
		return []any{tag}
	default:
		return []any{t, tag}
	}
}

// parseTS reads ISO 8601 strings and epoch seconds or milliseconds (numbers
// or numeric strings), as pino ("time": 1700000000000) and bunyan send them.
func parseTS(f *logs.Field) (time.Time, bool) {
	switch f.Kind {
	case logs.KindString:
		t := f.Str
		for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05,999"} {
			if ts, err := time.Parse(l, t); err == nil {
				return ts.UTC(), true
			}
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return epoch(f)
		}
	case logs.KindNumber:
		return epoch(f.Num)
	}
	return time.Time{}, false
}

// epoch treats values above 1e11 as milliseconds (1e11 s is the year 5138).
func epoch(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e15 {
		return time.Time{}, false
	}
	if f > 1e11 {
		sec, frac := math.Modf(f / 1000)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC().Round(time.Millisecond), true
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Round(time.Microsecond), true
}
