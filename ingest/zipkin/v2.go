package zipkin

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/traces"
)

// wireSpan is a v2 span as sent. One decode into it validates and builds
// the model; decoding through model.SpanModel's own methods decoded every
// span three times and was most of the collector's CPU.
type wireSpan struct {
	TraceID        string            `json:"traceId"`
	ID             string            `json:"id"`
	ParentID       string            `json:"parentId"`
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Timestamp      json.Number       `json:"timestamp"`
	Duration       json.Number       `json:"duration"`
	Debug          bool              `json:"debug"`
	Shared         bool              `json:"shared"`
	LocalEndpoint  *wireEndpoint     `json:"localEndpoint"`
	RemoteEndpoint *wireEndpoint     `json:"remoteEndpoint"`
	Annotations    []wireAnnotation  `json:"annotations"`
	Tags           map[string]string `json:"tags"`
}

type wireEndpoint struct {
	ServiceName string `json:"serviceName"`
	IPv4        string `json:"ipv4"`
	IPv6        string `json:"ipv6"`
	Port        int    `json:"port"`
}

type wireAnnotation struct {
	Timestamp json.Number `json:"timestamp"`
	Value     string      `json:"value"`
}

func micro(name string, n json.Number) (int64, string) {
	if n == "" {
		return 0, ""
	}
	v, err := strconv.ParseUint(string(n), 10, 63)
	if err != nil {
		return 0, name + " " + string(n) + " must be a whole number of microseconds"
	}
	return int64(v), ""
}

func (e *wireEndpoint) model() (*model.Endpoint, string) {
	if e == nil || (e.ServiceName == "" && e.IPv4 == "" && e.IPv6 == "" && e.Port == 0) {
		return nil, ""
	}
	m := &model.Endpoint{ServiceName: strings.ToLower(e.ServiceName)}
	if e.Port < 0 || e.Port > 65535 {
		return nil, "endpoint port " + strconv.Itoa(e.Port) + " out of range"
	}
	m.Port = uint16(e.Port)
	if e.IPv4 != "" {
		if m.IPv4 = net.ParseIP(e.IPv4).To4(); m.IPv4 == nil {
			return nil, "ipv4 " + strconv.Quote(e.IPv4) + " is not an IPv4 address"
		}
	}
	if e.IPv6 != "" {
		if m.IPv6 = net.ParseIP(e.IPv6); m.IPv6 == nil {
			return nil, "ipv6 " + strconv.Quote(e.IPv6) + " is not an IP address"
		}
	}
	return m, ""
}

func hexID(s string) uint64 { v, _ := strconv.ParseUint(s, 16, 64); return v }

// toModel validates a wire span and returns its model.
func (w *wireSpan) toModel() (*model.SpanModel, string) {
	if msg := validateIDs(w.TraceID, w.ID, w.ParentID); msg != "" {
		return nil, msg
	}
	if !kinds[w.Kind] {
		return nil, "kind " + strconv.Quote(w.Kind) + " must be CLIENT, SERVER, PRODUCER or CONSUMER"
	}
	ts, msg := micro("timestamp", w.Timestamp)
	if msg != "" {
		return nil, msg
	}
	dur, msg := micro("duration", w.Duration)
	if msg != "" {
		return nil, msg
	}
	tid, _ := model.TraceIDFromHex(strings.ToLower(w.TraceID))
	m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: tid, ID: model.ID(hexID(w.ID)), Debug: w.Debug},
		Name: strings.ToLower(w.Name), Kind: model.Kind(w.Kind), Shared: w.Shared, Tags: w.Tags,
		Duration: time.Duration(dur) * time.Microsecond}
	if m.ID == 0 {
		return nil, "id must not be zero"
	}
	if p := hexID(w.ParentID); p != 0 {
		pid := model.ID(p)
		m.ParentID = &pid
	}
	if ts > 0 {
		m.Timestamp = time.UnixMicro(ts)
	}
	if m.LocalEndpoint, msg = w.LocalEndpoint.model(); msg != "" {
		return nil, "localEndpoint: " + msg
	}
	if m.RemoteEndpoint, msg = w.RemoteEndpoint.model(); msg != "" {
		return nil, "remoteEndpoint: " + msg
	}
	for _, a := range w.Annotations {
		at, msg := micro("annotation timestamp", a.Timestamp)
		if msg != "" || at == 0 {
			return nil, "annotations need a timestamp in microseconds"
		}
		m.Annotations = append(m.Annotations, model.Annotation{Timestamp: time.UnixMicro(at), Value: a.Value})
	}
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	return m, ""
}

// encode writes the span's canonical v2 JSON by hand (the model's
// MarshalJSON goes through reflection twice per span).
func encode(m *model.SpanModel) []byte {
	b := make([]byte, 0, 384)
	b = append(b, `{"traceId":"`...)
	b = append(b, m.TraceID.String()...)
	b = append(b, `","id":"`...)
	b = append(b, m.ID.String()...)
	b = append(b, '"')
	if m.ParentID != nil {
		b = append(b, `,"parentId":"`...)
		b = append(b, m.ParentID.String()...)
		b = append(b, '"')
	}
	if m.Kind != "" {
		b = append(b, `,"kind":"`...)
		b = append(b, m.Kind...)
		b = append(b, '"')
	}
	if m.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, m.Name)
	}
	if !m.Timestamp.IsZero() {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, m.Timestamp.UnixMicro(), 10)
	}
	if m.Duration > 0 {
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, m.Duration.Microseconds(), 10)
	}
	if m.Debug {
		b = append(b, `,"debug":true`...)
	}
	if m.Shared {
		b = append(b, `,"shared":true`...)
	}
	b = appendEndpoint(b, "localEndpoint", m.LocalEndpoint)
	b = appendEndpoint(b, "remoteEndpoint", m.RemoteEndpoint)
	if len(m.Annotations) > 0 {
		b = append(b, `,"annotations":[`...)
		for i, a := range m.Annotations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendInt(b, a.Timestamp.UnixMicro(), 10)
			b = append(b, `,"value":`...)
			b = appendString(b, a.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(m.Tags) > 0 {
		keys := make([]string, 0, len(m.Tags))
		for k := range m.Tags {
			keys = append(keys, k)
		}
		sortStrings(keys)
		b = append(b, `,"tags":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, m.Tags[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendEndpoint(b []byte, name string, e *model.Endpoint) []byte {
	if e.Empty() {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":{`...)
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if e.ServiceName != "" {
		sep()
		b = append(b, `"serviceName":`...)
		b = appendString(b, e.ServiceName)
	}
	if len(e.IPv4) > 0 {
		sep()
		b = append(b, `"ipv4":"`...)
		b = append(b, e.IPv4.String()...)
		b = append(b, '"')
	}
	if len(e.IPv6) > 0 {
		sep()
		b = append(b, `"ipv6":"`...)
		b = append(b, e.IPv6.String()...)
		b = append(b, '"')
	}
	if e.Port > 0 {
		sep()
		b = append(b, `"port":`...)
		b = strconv.AppendUint(b, uint64(e.Port), 10)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// DecodeV2JSON decodes a JSON list of v2 spans.
func DecodeV2JSON(body []byte) ([]traces.Span, error) {
	var wire []wireSpan
	if err := json.Unmarshal(body, &wire); err != nil {
		return nil, &Error{-1, "body must be a JSON list of spans: " + err.Error()}
	}
	out := make([]traces.Span, 0, len(wire))
	for i := range wire {
		m, msg := wire[i].toModel()
		if msg != "" {
			return nil, &Error{i, msg}
		}
		out = append(out, traces.Span{Model: m, JSON: encode(m)})
	}
	return out, nil
}
