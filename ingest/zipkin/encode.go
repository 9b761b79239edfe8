package zipkin

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openzipkin/zipkin-go/model"
)

// encode writes the span's canonical v2 JSON by hand (the model's
// MarshalJSON goes through reflection twice per span).
func encode(m *model.SpanModel) []byte {
	// Tags sorted by key, taken from the map once (up to 16 without an
	// allocation).
	var arr [16][2]string
	tags := arr[:0]
	for k, v := range m.Tags {
		tags = append(tags, [2]string{k, v})
	}
	slices.SortFunc(tags, func(x, y [2]string) int { return strings.Compare(x[0], y[0]) })
	b := make([]byte, 0, encodedSize(m, tags))
	b = append(b, `{"traceId":"`...)
	if m.TraceID.High != 0 {
		b = appendHex16(b, m.TraceID.High)
	}
	b = appendHex16(b, m.TraceID.Low)
	b = append(b, `","id":"`...)
	b = appendHex16(b, uint64(m.ID))
	b = append(b, '"')
	if m.ParentID != nil {
		b = append(b, `,"parentId":"`...)
		b = appendHex16(b, uint64(*m.ParentID))
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
	if len(tags) > 0 {
		b = append(b, `,"tags":{`...)
		for i, kv := range tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, kv[0])
			b = append(b, ':')
			b = appendString(b, kv[1])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// encodedSize is about the length of the span's JSON (exact unless a
// string needs escapes), so that encode allocates once.
func encodedSize(m *model.SpanModel, tags [][2]string) int {
	n := 200 + len(m.Name)
	for _, e := range [...]*model.Endpoint{m.LocalEndpoint, m.RemoteEndpoint} {
		if e != nil {
			n += 80 + len(e.ServiceName)
		}
	}
	for _, a := range m.Annotations {
		n += 40 + len(a.Value)
	}
	for _, kv := range tags {
		n += 6 + len(kv[0]) + len(kv[1])
	}
	return n
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
	for _, f := range [...]struct {
		key string
		ip  []byte
	}{{`"ipv4":"`, e.IPv4}, {`"ipv6":"`, e.IPv6}} {
		if a, ok := netip.AddrFromSlice(f.ip); ok {
			sep()
			b = append(b, f.key...)
			if f.key == `"ipv4":"` {
				a = a.Unmap()
			}
			b = a.AppendTo(b)
			b = append(b, '"')
		}
	}
	if e.Port > 0 {
		sep()
		b = append(b, `"port":`...)
		b = strconv.AppendUint(b, uint64(e.Port), 10)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendHex16 writes v as 16 lower-case hex digits (model.ID.String goes
// through fmt).
func appendHex16(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[v>>uint(shift)&0xf])
	}
	return b
}

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Most strings need no escape: the plain prefix is copied whole.
	i := 0
	for i < len(s) {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	b = append(b, s[:i]...)
	for i < len(s) {
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
