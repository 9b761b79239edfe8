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
// an object is one event, an array of objects one event per element, and
// anything else is kept whole as the message of a _jsonparsefailure event.
// recv is the receive time and sender the peer's IP (for "host").
func Normalize(payload []byte, recv time.Time, sender string) Result {
	var res Result
	trimmed := bytes.TrimSpace(payload)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil && dec.More() {
		// Several JSON lines in one datagram: pino-socket and other
		// stream-based UDP senders batch NDJSON this way.
		if bytes.IndexByte(trimmed, '\n') > 0 {
			for _, line := range bytes.Split(trimmed, []byte("\n")) {
				if len(bytes.TrimSpace(line)) == 0 {
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
	switch t := v.(type) {
	case map[string]any:
		res.add(normalizeObject(trimmed, t, recv, sender))
	case []any:
		for _, el := range t {
			obj, ok := el.(map[string]any)
			if !ok {
				b, _ := json.Marshal(el)
				res.add(failure(b, recv, sender))
				res.JSONFailures++
				continue
			}
			b, err := json.Marshal(obj)
			if err != nil {
				continue
			}
			res.add(normalizeObject(b, obj, recv, sender))
		}
	default:
		res.add(failure(payload, recv, sender))
		res.JSONFailures++
	}
	return res
}

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

// normalizeObject fills in @timestamp, @version and host. When nothing has to
// change, the event is stored byte for byte as it was sent; added fields are
// appended so that the sender's own field order is kept.
func normalizeObject(raw []byte, obj map[string]any, recv time.Time, sender string) (logs.Entry, bool) {
	var add [][2]string // key, JSON value
	ts := recv.UTC()
	tsFailed := false
	if v, ok := obj["@timestamp"]; ok {
		if t, ok := parseTS(v); ok {
			ts = t
		} else {
			// Logstash: keep the original in _@timestamp, tag, use now.
			tsFailed = true
			obj["_@timestamp"] = v
			obj["@timestamp"] = formatTS(recv)
			obj["tags"] = appendTag(obj["tags"], TagTimestampParseFailure)
		}
	} else {
		for _, k := range []string{"timestamp", "time", "ts"} {
			if v, ok := obj[k]; ok {
				if t, ok := parseTS(v); ok {
					ts = t
					break
				}
			}
		}
		add = append(add, [2]string{"@timestamp", strconv.Quote(formatTS(ts))})
	}
	if _, ok := obj["@version"]; !ok {
		add = append(add, [2]string{"@version", `"1"`})
	}
	if _, ok := obj["host"]; !ok && sender != "" {
		add = append(add, [2]string{"host", strconv.Quote(sender)})
	}
	if tsFailed {
		for _, kv := range add {
			var v any
			json.Unmarshal([]byte(kv[1]), &v)
			obj[kv[0]] = v
		}
		b, err := json.Marshal(obj)
		if err == nil {
			raw = b
		}
	} else if len(add) > 0 {
		raw = appendKeys(raw, add)
	}
	if !isCompact(raw) {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			raw = buf.Bytes()
		}
	}
	fields := logs.FlattenValue(obj)
	if !tsFailed {
		for _, kv := range add {
			var v any
			dec := json.NewDecoder(strings.NewReader(kv[1]))
			dec.UseNumber()
			dec.Decode(&v)
			fields = append(fields, logs.FlattenValue(map[string]any{kv[0]: v})...)
		}
	}
	return logs.Entry{TS: ts, Raw: raw, Fields: fields}, tsFailed
}

func isCompact(b []byte) bool {
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ' ' || c == '\n' || c == '\t' || c == '\r'):
			return false
		}
	}
	return true
}

// appendKeys inserts "k":v pairs before the object's closing brace.
func appendKeys(raw []byte, kvs [][2]string) []byte {
	end := bytes.LastIndexByte(raw, '}')
	body := bytes.TrimSpace(raw[1:end])
	out := make([]byte, 0, len(raw)+64)
	out = append(out, '{')
	out = append(out, body...)
	for i, kv := range kvs {
		if len(body) > 0 || i > 0 {
			out = append(out, ',')
		}
		out = append(out, strconv.Quote(kv[0])...)
		out = append(out, ':')
		out = append(out, kv[1]...)
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
func parseTS(v any) (time.Time, bool) {
	switch t := v.(type) {
	case string:
		for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05,999"} {
			if ts, err := time.Parse(l, t); err == nil {
				return ts.UTC(), true
			}
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return epoch(f)
		}
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return epoch(f)
		}
	case float64:
		return epoch(t)
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
