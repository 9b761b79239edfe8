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
	"unicode/utf8"

	"github.com/obs-dev/obs/store/logs"
)

// Tags Logstash adds when it had to guess (and ours for a clock far off).
const (
	TagJSONParseFailure      = "_jsonparsefailure"
	TagTimestampParseFailure = "_timestampparsefailure"
	TagTimestampSkew         = "_timestampskew"
)

// Bounds limit how far an event's own timestamp may be from its receive
// time. Events are stored in the day of their timestamp; a client with a
// wrong clock (or epoch seconds read as milliseconds) would otherwise
// create days that never expire, or days older than the retention that are
// removed at once. Zero fields mean no bound.
type Bounds struct {
	MaxFuture time.Duration // ahead of the receive time
	MaxPast   time.Duration // behind it (the retention)
}

func (b Bounds) skewed(ts, recv time.Time) bool {
	return b.MaxFuture > 0 && ts.After(recv.Add(b.MaxFuture)) || b.MaxPast > 0 && ts.Before(recv.Add(-b.MaxPast))
}

// Result says what normalising one payload found.
type Result struct {
	Entries          []logs.Entry
	JSONFailures     int // payloads kept as a message with _jsonparsefailure
	TimestampFailure int // events whose timestamp could not be read
	TimestampSkew    int // events stored at their receive time, out of Bounds
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
	return Bounds{}.Normalize(payload, recv, sender)
}

// Normalize is the package's Normalize with the timestamp bounds applied:
// an event dated outside them is stored at its receive time, tagged
// _timestampskew, its own @timestamp kept as _@timestamp.
func (b Bounds) Normalize(payload []byte, recv time.Time, sender string) Result {
	var res Result
	trimmed := trimJSONSpace(payload)
	p, err := logs.ScanJSON(trimmed)
	if err == nil && p.N < len(trimmed) {
		// Several JSON lines in one datagram: pino-socket and other
		// stream-based UDP senders batch NDJSON this way.
		if bytes.IndexByte(trimmed, '\n') > 0 {
			for _, line := range bytes.Split(trimmed, []byte("\n")) {
				if len(trimJSONSpace(line)) == 0 {
					continue
				}
				sub := b.Normalize(line, recv, sender)
				res.Entries = append(res.Entries, sub.Entries...)
				res.JSONFailures += sub.JSONFailures
				res.TimestampFailure += sub.TimestampFailure
				res.TimestampSkew += sub.TimestampSkew
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
		res.add(b.object(trimmed, p, recv, sender))
	case '[':
		for _, el := range p.Elems {
			if el[0] != '{' {
				res.add(failure(el, recv, sender))
				res.JSONFailures++
				continue
			}
			sub, err := logs.ScanJSON(el)
			if err != nil { // cannot happen: el was validated with its array
				res.add(failure(el, recv, sender))
				res.JSONFailures++
				continue
			}
			res.add(b.object(el, sub, recv, sender))
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

// outcome is what normalising one object had to do about its timestamp.
type outcome int

const (
	tsOK outcome = iota
	tsFailed
	tsSkewed
)

func (r *Result) add(e logs.Entry, o outcome) {
	r.Entries = append(r.Entries, e)
	switch o {
	case tsFailed:
		r.TimestampFailure++
	case tsSkewed:
		r.TimestampSkew++
	}
}

// object normalises one object and applies the bounds.
func (b Bounds) object(raw []byte, p logs.Parsed, recv time.Time, sender string) (logs.Entry, outcome) {
	e, o := normalizeObject(raw, p, recv, sender)
	if o == tsOK && b.skewed(e.TS, recv) {
		return retimed(e.Raw, recv, sender, TagTimestampSkew)
	}
	return e, o
}

// failure keeps an unparseable payload as Logstash does.
func failure(payload []byte, recv time.Time, sender string) (logs.Entry, outcome) {
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
	return logs.Entry{TS: recv.UTC(), Raw: raw}, tsOK
}

func formatTS(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// topValue finds a root key's first leaf value of its own name (an array's
// first element, for one); present is false when the key is absent. A key
// holding an object has no leaf of its own name. Only these few values are
// decoded: the store reads the others when it seals the event's block.
func topValue(p logs.Parsed, key string) (f *logs.Field, present bool) {
	for _, k := range p.Top {
		if k.Key != key {
			continue
		}
		present = true
		if k.Val[0] == '{' {
			continue
		}
		if v := k.Val; v[0] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
			return &logs.Field{Path: key, Kind: logs.KindString, Str: string(v[1 : len(v)-1])}, true
		}
		fields, _ := logs.Flatten(k.Val)
		for i := range fields {
			if fields[i].Path == "" {
				return &fields[i], true
			}
		}
	}
	return nil, present
}

// normalizeObject fills in @timestamp, @version and host. When nothing has to
// change, the event is stored byte for byte as it was sent; added fields are
// appended so that the sender's own field order is kept.
func normalizeObject(raw []byte, p logs.Parsed, recv time.Time, sender string) (logs.Entry, outcome) {
	var add []logs.Field
	ts := recv.UTC()
	if f, present := topValue(p, "@timestamp"); present {
		t, ok := time.Time{}, false
		if f != nil {
			t, ok = parseTS(f)
		}
		if !ok {
			return retimed(raw, recv, sender, TagTimestampParseFailure)
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
	return logs.Entry{TS: ts, Raw: raw}, tsOK
}

// retimed is Logstash's answer to an unreadable @timestamp, and ours to one
// too far from now: keep the original in _@timestamp, tag the event, use
// the receive time. Rare, so it takes the slow generic path.
func retimed(raw []byte, recv time.Time, sender, tag string) (logs.Entry, outcome) {
	o := tsFailed
	if tag == TagTimestampSkew {
		o = tsSkewed
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return failure(raw, recv, sender)
	}
	if v, ok := obj["@timestamp"]; ok {
		obj["_@timestamp"] = v
	}
	obj["@timestamp"] = formatTS(recv)
	obj["tags"] = appendTag(obj["tags"], tag)
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
	return logs.Entry{TS: recv.UTC(), Raw: out}, o
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
