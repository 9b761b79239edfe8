// Package zipkin is the Zipkin collector: v2 JSON, v2 protobuf
// (zipkin.proto3 ListOfSpans) and v1 JSON (what zipkin-js sends by
// default) decoded with Zipkin's leniency and normalisation
// (zipkin2.Span.Builder, V2SpanReader, V1JsonSpanReader, V1SpanConverter,
// Proto3ZipkinFields), and the HTTP handler for POST /api/v2/spans and
// /api/v1/spans. A batch is decoded whole or refused whole, as Zipkin
// does, so nothing of a bad batch is half stored; one field Zipkin would
// drop (an ipv4 that is not an address) never costs the span.
package zipkin

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/traces"
)

// Error is a client error in a batch: which span and what is wrong.
type Error struct {
	Index int // span position in the batch, -1 for the batch itself
	Msg   string
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return e.Msg
	}
	return fmt.Sprintf("span %d: %s", e.Index, e.Msg)
}

// Limits on one span: past them tags and annotations are cut (and
// counted), so that one absurd span costs bounded memory and time.
const (
	MaxTagsPerSpan        = 1000
	MaxAnnotationsPerSpan = 1000
)

func lowerHex[T string | []byte](s T) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// ParseTraceID reads a trace id as Span.normalizeTraceId does: 1 to 32 hex
// characters (any case here; Zipkin wants lower case), short ids padded
// with zeros on the left, a 128-bit id whose high half is zero read as
// 64-bit.
func ParseTraceID(s string) (model.TraceID, error) { return parseTraceID(s) }

func parseTraceID[T string | []byte](s T) (model.TraceID, error) {
	var id model.TraceID
	switch {
	case len(s) == 0:
		return id, fmt.Errorf("traceId is empty")
	case len(s) > 32:
		return id, fmt.Errorf("traceId %q is longer than 32 hex characters", string(s))
	}
	var ok bool
	if len(s) > 16 {
		if id.High, ok = lowerHex(s[:len(s)-16]); !ok {
			return id, fmt.Errorf("traceId %q is not hex", string(s))
		}
		s = s[len(s)-16:]
	}
	if id.Low, ok = lowerHex(s); !ok {
		return id, fmt.Errorf("traceId %q is not hex", string(s))
	}
	if id.Empty() {
		return id, fmt.Errorf("traceId is all zeros")
	}
	return id, nil
}

// parseSpanID reads a span id: 1 to 16 hex characters, padded.
func parseSpanID[T string | []byte](field string, s T) (uint64, error) {
	v, ok := lowerHex(s)
	if !ok {
		if len(s) > 16 {
			return 0, fmt.Errorf("%s %q is longer than 16 hex characters", field, string(s))
		}
		return 0, fmt.Errorf("%s %q is not hex", field, string(s))
	}
	return v, nil
}

// ep is an endpoint being read; nil is "none".
type ep struct {
	service    string
	ipv4, ipv6 netip.Addr
	port       int
}

func (e *ep) empty() bool { return e == nil || *e == ep{} }

// parseIP sets ipv4 or ipv6 from an address literal as
// Endpoint.Builder.parseIp does: an IPv4 address written inside an IPv6
// one ("::1.2.3.4", "::ffff:1.2.3.4") is IPv4; anything that is not an
// address is dropped, not an error.
func (e *ep) parseIP(s string) {
	if strings.Contains(s, ":") && strings.Contains(s, ".") {
		i := strings.LastIndexByte(s, ':')
		v4, err := netip.ParseAddr(s[i+1:])
		if err != nil || !v4.Is4() {
			return
		}
		if i == 1 && s[0] == ':' || i == 6 && strings.HasPrefix(s, "::") && strings.Trim(s[2:6], "fF0") == "" {
			e.ipv4 = v4
		}
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return
	}
	if a.Is4() {
		e.ipv4 = a
	} else {
		e.ipv6 = a
	}
}

// setIPBytes is parseIp(byte[]), for protobuf: 4 bytes IPv4, 16 bytes
// IPv6 unless it is an IPv4-compatible address (::a.b.c.d, not ::1).
func (e *ep) setIPBytes(b []byte) {
	switch len(b) {
	case 4:
		e.ipv4 = netip.AddrFrom4([4]byte(b))
	case 16:
		a := [16]byte(b)
		if [12]byte(a[:12]) == [12]byte{} && a != netip.IPv6Loopback().As16() {
			e.ipv4 = netip.AddrFrom4([4]byte(a[12:]))
			return
		}
		e.ipv6 = netip.AddrFrom16(a)
	}
}

// setPort is Endpoint.Builder.port: over 65535 is an error, negative none.
func (e *ep) setPort(p int64) error {
	if p > 0xffff {
		return fmt.Errorf("invalid port %d", p)
	}
	e.port = int(max(p, 0))
	return nil
}

func (e *ep) model() *model.Endpoint {
	if e.empty() {
		return nil
	}
	m := &model.Endpoint{ServiceName: strings.ToLower(e.service), Port: uint16(e.port)}
	if e.ipv4.IsValid() {
		m.IPv4 = e.ipv4.AsSlice()
	}
	if e.ipv6.IsValid() {
		m.IPv6 = e.ipv6.AsSlice()
	}
	return m
}

type annotation struct {
	ts    int64
	value string
}

// spanBuilder is zipkin2.Span.Builder: what a reader collects for one
// span, normalised when built.
type spanBuilder struct {
	traceID       model.TraceID
	id, parent    uint64
	hasID         bool
	kind          model.Kind
	name          string
	ts, dur       int64
	local, remote *ep
	annos         []annotation
	tags          map[string]string
	debug, shared bool
	cut           int // tags and annotations past the limits
}

func (b *spanBuilder) setTimestamp(v int64) { b.ts = max(v, 0) }
func (b *spanBuilder) setDuration(v int64)  { b.dur = max(v, 0) }

func (b *spanBuilder) putTag(k, v string) {
	if b.tags == nil {
		b.tags = map[string]string{}
	}
	if _, ok := b.tags[k]; !ok && len(b.tags) >= MaxTagsPerSpan {
		b.cut++
		return
	}
	b.tags[k] = v
}

func (b *spanBuilder) addAnnotation(ts int64, v string) {
	if len(b.annos) >= MaxAnnotationsPerSpan {
		b.cut++
		return
	}
	b.annos = append(b.annos, annotation{ts, v})
}

// build applies Span.Builder.build's rules and encodes the span.
func (b *spanBuilder) build() (traces.Span, string) {
	if b.traceID.Empty() || !b.hasID {
		var missing []string
		if b.traceID.Empty() {
			missing = append(missing, "traceId")
		}
		if !b.hasID {
			missing = append(missing, "id")
		}
		return traces.Span{}, "missing " + strings.Join(missing, " and ")
	}
	if b.id == 0 {
		return traces.Span{}, "id is all zeros"
	}
	if b.parent == b.id {
		b.parent = 0 // undo a circular dependency
	}
	if b.shared && b.kind == model.Client {
		b.shared = false // shared is for the server side
	}
	m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: b.traceID, ID: model.ID(b.id), Debug: b.debug},
		Name: strings.ToLower(b.name), Kind: b.kind, Shared: b.shared,
		Duration:      time.Duration(b.dur) * time.Microsecond,
		LocalEndpoint: b.local.model(), RemoteEndpoint: b.remote.model(), Tags: b.tags}
	if b.parent != 0 {
		p := model.ID(b.parent)
		m.ParentID = &p
	}
	if b.ts > 0 {
		m.Timestamp = time.UnixMicro(b.ts)
	}
	// Annotations sorted by time then value, duplicates dropped (Span's
	// sortedList).
	slices.SortStableFunc(b.annos, func(x, y annotation) int {
		if c := cmp.Compare(x.ts, y.ts); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
	b.annos = slices.Compact(b.annos)
	for _, a := range b.annos {
		m.Annotations = append(m.Annotations, model.Annotation{Timestamp: time.UnixMicro(a.ts), Value: a.value})
	}
	return traces.Span{Model: m, JSON: encode(m)}, ""
}

var kinds = map[string]model.Kind{"CLIENT": model.Client, "SERVER": model.Server, "PRODUCER": model.Producer, "CONSUMER": model.Consumer}

func kindOf(s []byte) (model.Kind, error) {
	k, ok := kinds[string(s)]
	if !ok {
		return "", fmt.Errorf("kind %s must be CLIENT, SERVER, PRODUCER or CONSUMER", strconv.Quote(string(s)))
	}
	return k, nil
}
