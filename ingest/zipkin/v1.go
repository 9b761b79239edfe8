package zipkin

import (
	"cmp"
	"slices"
	"strings"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/traces"
)

// v1Span is a v1 span as read (zipkin2.v1.V1Span): annotations sorted by
// time then value and binary annotations by key, adjacent duplicates
// dropped.
type v1Span struct {
	traceHi, traceLo, id, parent uint64
	name                         string
	ts, dur                      int64
	annos                        []v1Annotation
	bins                         []v1Binary
	debug                        bool
}

type v1Annotation struct {
	ts    int64
	value string
	ep    *ep
}

// v1Binary is a tag (value set) or an address annotation (sa, ca, ma:
// endpoint only).
type v1Binary struct {
	key, value string
	address    bool
	ep         *ep
}

// DecodeV1JSON decodes a JSON list of v1 spans into v2 spans.
func DecodeV1JSON(body []byte) ([]traces.Span, error) {
	d, err := decodeV1JSON(body)
	return d.Spans, err
}

func decodeV1JSON(body []byte) (Decoded, error) {
	return decodeList(body, "v1 spans", func(r *jsonReader) ([]*spanBuilder, string) {
		s, msg := r.v1Span()
		if msg != "" {
			return nil, msg
		}
		var c v1Converter
		return c.convert(s), ""
	})
}

func sameEP(a, b *ep) bool {
	if a.empty() || b.empty() {
		return a.empty() && b.empty()
	}
	return *a == *b
}

// v1Span reads one span as V1JsonSpanReader does.
func (r *jsonReader) v1Span() (*v1Span, string) {
	s := &v1Span{}
	if !r.beginObject() {
		return nil, r.err.Error()
	}
	hasTrace, hasID := false, false
	for r.more() {
		field := r.field()
		if r.err != nil {
			break
		}
		switch string(field) {
		case "traceId":
			t := r.str()
			if r.err != nil {
				break
			}
			// V1Span.Builder.traceId: the high half only from 32
			// characters, the low half from the last 16.
			id, err := ParseTraceID(t)
			if err != nil {
				return nil, err.Error()
			}
			if len(t) == 32 {
				s.traceHi = id.High
			}
			s.traceLo, hasTrace = id.Low, true
			continue
		case "id":
			id, err := parseSpanID("id", lastHex16(r.str()))
			if r.err == nil && err != nil {
				return nil, err.Error()
			}
			s.id, hasID = id, true
			continue
		}
		if r.null() {
			continue
		}
		switch string(field) {
		case "name":
			s.name = r.str()
		case "parentId":
			p, err := parseSpanID("parentId", lastHex16(r.str()))
			if r.err == nil && err != nil {
				return nil, err.Error()
			}
			s.parent = p
		case "timestamp":
			s.ts = r.long("timestamp")
		case "duration":
			s.dur = r.long("duration")
		case "annotations":
			if !r.beginArray() {
				break
			}
			for r.more() {
				a, ok := r.v1Annotation()
				if r.err != nil {
					break
				}
				if !ok {
					return nil, "incomplete annotation: it needs a timestamp and a value"
				}
				s.annos = append(s.annos, a)
			}
			r.endArray()
		case "binaryAnnotations":
			if !r.beginArray() {
				break
			}
			for r.more() {
				b, keep, msg := r.v1Binary()
				if msg != "" {
					return nil, msg
				}
				if keep {
					s.bins = append(s.bins, b)
				}
			}
			r.endArray()
		case "debug":
			s.debug = r.boolean()
		default:
			r.skip()
		}
		if r.err != nil {
			break
		}
	}
	r.endObject()
	if r.err != nil {
		return nil, r.err.Error()
	}
	switch {
	case !hasTrace || s.traceLo == 0:
		return nil, "traceId is missing or zero"
	case !hasID || s.id == 0:
		return nil, "id is missing or zero"
	}
	slices.SortStableFunc(s.annos, func(a, b v1Annotation) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	s.annos = slices.CompactFunc(s.annos, func(a, b v1Annotation) bool {
		return a.ts == b.ts && a.value == b.value && sameEP(a.ep, b.ep)
	})
	slices.SortStableFunc(s.bins, func(a, b v1Binary) int { return strings.Compare(a.key, b.key) })
	s.bins = slices.CompactFunc(s.bins, func(a, b v1Binary) bool {
		return a.key == b.key && a.value == b.value && a.address == b.address && sameEP(a.ep, b.ep)
	})
	return s, ""
}

// lastHex16 keeps the last 16 characters, as lowerHexToUnsignedLong does
// for v1 span ids.
func lastHex16(s string) string {
	if len(s) > 16 && len(s) <= 32 {
		return s[len(s)-16:]
	}
	return s
}

func (r *jsonReader) v1Annotation() (v1Annotation, bool) {
	var a v1Annotation
	if !r.beginObject() {
		return a, false
	}
	hasTS, hasValue := false, false
	for r.more() {
		switch string(r.field()) {
		case "timestamp":
			a.ts, hasTS = r.long("annotation timestamp"), true
		case "value":
			a.value, hasValue = r.str(), true
		case "endpoint":
			if r.null() {
				continue
			}
			e, msg := r.endpoint()
			if msg != "" && r.err == nil {
				r.fail("annotation endpoint: %s", msg)
			}
			a.ep = e
		default:
			r.skip()
		}
	}
	r.endObject()
	return a, hasTS && hasValue
}

// v1Binary reads a binary annotation: a string value is a tag, a true
// value with an endpoint under sa, ca or ma an address; any other boolean
// is dropped, as Zipkin does. A number, which Zipkin's reader skips, is
// kept as its text.
func (r *jsonReader) v1Binary() (v1Binary, bool, string) {
	var b v1Binary
	if !r.beginObject() {
		return b, false, r.err.Error()
	}
	hasKey, hasValue, boolValue := false, false, false
	for r.more() {
		field := r.field()
		if r.null() {
			continue
		}
		switch string(field) {
		case "key":
			b.key, hasKey = r.str(), true
		case "value":
			switch c := r.peek(); {
			case c == '"' || c == '-' || c >= '0' && c <= '9':
				b.value, hasValue = r.str(), true
			case c == 't' || c == 'f':
				boolValue = r.boolean()
			default:
				r.skip()
			}
		case "endpoint":
			e, msg := r.endpoint()
			if msg != "" {
				return b, false, "binary annotation endpoint: " + msg
			}
			b.ep = e
		default:
			r.skip()
		}
	}
	r.endObject()
	if r.err != nil {
		return b, false, r.err.Error()
	}
	if !hasKey {
		return b, false, "binary annotation without a key"
	}
	if hasValue {
		return b, true, ""
	}
	if boolValue && !b.ep.empty() && (b.key == "sa" || b.key == "ca" || b.key == "ma") {
		b.address = true
		return b, true, ""
	}
	return b, false, ""
}

// v1Converter is V1SpanConverter: a v1 span becomes one v2 span per
// endpoint that reported it, the core annotations (cs, sr, ss, cr, ms, mr,
// ws, wr) giving each its kind, timestamp and duration, the address
// annotations its remote endpoint, and each binary annotation a tag of the
// span of the endpoint that logged it.
type v1Converter struct {
	first                          *spanBuilder
	spans                          []*spanBuilder
	cs, sr, ss, cr, ms, mr, ws, wr *v1Annotation
}

func newFrom(s *v1Span) *spanBuilder {
	return &spanBuilder{traceID: model.TraceID{High: s.traceHi, Low: s.traceLo}, id: s.id, hasID: true,
		parent: s.parent, name: s.name, debug: s.debug}
}

func (c *v1Converter) convert(s *v1Span) []*spanBuilder {
	c.first = newFrom(s)
	c.processAnnotations(s)
	c.processBinaryAnnotations(s)
	return append([]*spanBuilder{c.first}, c.spans...)
}

func sameService(a, b *ep) bool {
	var x, y string
	if a != nil {
		x = strings.ToLower(a.service)
	}
	if b != nil {
		y = strings.ToLower(b.service)
	}
	return x == y
}

// closeEnough claims a builder without a local endpoint for e, or says
// whether its local endpoint has e's service.
func closeEnough(b *spanBuilder, e *ep) bool {
	if b.local.empty() {
		b.local = e
		return true
	}
	return sameService(b.local, e)
}

func (c *v1Converter) forEndpoint(s *v1Span, e *ep) *spanBuilder {
	if e.empty() {
		return c.first // data without an endpoint goes to the first span
	}
	if closeEnough(c.first, e) {
		return c.first
	}
	for _, b := range c.spans {
		if closeEnough(b, e) {
			return b
		}
	}
	return c.newSpan(s, e)
}

func (c *v1Converter) newSpan(s *v1Span, e *ep) *spanBuilder {
	b := newFrom(s)
	b.local = e
	c.spans = append(c.spans, b)
	return b
}

type core struct {
	kind model.Kind // of the span of the annotation's endpoint; "" for ws and wr
	at   **v1Annotation
}

// core says what a core annotation (cs, sr, ss, cr, ms, mr, ws, wr) makes
// of the span of its endpoint, and where the converter keeps it.
func (c *v1Converter) core(value string) (core, bool) {
	switch value {
	case "cs":
		return core{model.Client, &c.cs}, true
	case "cr":
		return core{model.Client, &c.cr}, true
	case "sr":
		return core{model.Server, &c.sr}, true
	case "ss":
		return core{model.Server, &c.ss}, true
	case "ms":
		return core{model.Producer, &c.ms}, true
	case "mr":
		return core{model.Consumer, &c.mr}, true
	case "ws":
		return core{"", &c.ws}, true
	case "wr":
		return core{"", &c.wr}, true
	}
	return core{}, false
}

func (c *v1Converter) processAnnotations(s *v1Span) {
	for i := range s.annos {
		a := &s.annos[i]
		b := c.forEndpoint(s, a.ep)
		// Core annotations need an endpoint; without one they are plain.
		if core, ok := c.core(a.value); ok && !a.ep.empty() {
			*core.at = a
			if core.kind != "" {
				b.kind = core.kind
			}
			continue
		}
		b.addAnnotation(a.ts, a.value)
	}
	// Bridging from the event model can lose a start annotation.
	if c.cs == nil && endReflectsDuration(c.cr, s) {
		c.cs = &v1Annotation{ts: s.ts, value: "cs", ep: c.cr.ep}
	}
	if c.sr == nil && endReflectsDuration(c.ss, s) {
		c.sr = &v1Annotation{ts: s.ts, value: "sr", ep: c.ss.ep}
	}
	switch {
	case c.cs != nil && c.sr != nil:
		// In a shared span the client owns the span's timestamp and duration.
		c.timestampDuration(s, c.cs, c.cr)
		client := c.forEndpoint(s, c.cs.ep)
		var server *spanBuilder
		if sameService(c.cs.ep, c.sr.ep) {
			client.kind = model.Client
			server = c.newSpan(s, c.sr.ep) // loopback: two spans
			server.kind = model.Server
		} else {
			server = c.forEndpoint(s, c.sr.ep)
		}
		server.shared = true
		server.setTimestamp(c.sr.ts)
		if c.ss != nil {
			server.setDuration(c.ss.ts - c.sr.ts)
		}
		if c.cr == nil && s.dur == 0 {
			client.dur = 0 // one-way: no duration
		}
	case c.cs != nil && c.cr != nil:
		c.timestampDuration(s, c.cs, c.cr)
	case c.sr != nil && c.ss != nil:
		c.timestampDuration(s, c.sr, c.ss)
	default:
		c.incompleteRPC(s)
	}
	// v1 had no shared flag: a server side without the span's timestamp
	// was shared by convention.
	if c.cs == nil && c.sr != nil && (s.ts == 0 || (c.ss != nil && s.dur == 0)) {
		c.forEndpoint(s, c.sr.ep).shared = true
	}
	switch {
	case c.ms != nil && c.mr != nil:
		producer := c.forEndpoint(s, c.ms.ep)
		var consumer *spanBuilder
		if sameService(c.ms.ep, c.mr.ep) {
			producer.kind = model.Producer
			consumer = c.newSpan(s, c.mr.ep)
			consumer.kind = model.Consumer
		} else {
			consumer = c.forEndpoint(s, c.mr.ep)
		}
		consumer.shared = true
		if c.wr != nil {
			consumer.setTimestamp(c.wr.ts)
			consumer.setDuration(c.mr.ts - c.wr.ts)
		} else {
			consumer.setTimestamp(c.mr.ts)
		}
		producer.setTimestamp(c.ms.ts)
		producer.dur = 0
		if c.ws != nil {
			producer.setDuration(c.ws.ts - c.ms.ts)
		}
	case c.ms != nil:
		c.timestampDuration(s, c.ms, c.ws)
	case c.mr != nil:
		if c.wr != nil {
			c.timestampDuration(s, c.wr, c.mr)
		} else {
			c.timestampDuration(s, c.mr, nil)
		}
	default:
		if c.ws != nil {
			c.forEndpoint(s, c.ws.ep).addAnnotation(c.ws.ts, c.ws.value)
		}
		if c.wr != nil {
			c.forEndpoint(s, c.wr.ep).addAnnotation(c.wr.ts, c.wr.value)
		}
	}
}

func endReflectsDuration(end *v1Annotation, s *v1Span) bool {
	return end != nil && s.ts != 0 && s.dur != 0 && s.ts+s.dur == end.ts
}

func (c *v1Converter) timestampDuration(s *v1Span, begin, end *v1Annotation) {
	b := c.forEndpoint(s, begin.ep)
	if s.ts != 0 && s.dur != 0 {
		b.setTimestamp(s.ts)
		b.setDuration(s.dur)
		return
	}
	b.setTimestamp(begin.ts)
	if end != nil {
		b.setDuration(end.ts - begin.ts)
	}
}

// incompleteRPC undoes the special treatment of a lone core annotation.
func (c *v1Converter) incompleteRPC(s *v1Span) {
	for _, b := range append([]*spanBuilder{c.first}, c.spans...) {
		switch b.kind {
		case model.Client:
			if c.cs != nil {
				b.setTimestamp(c.cs.ts)
			}
			if c.cr != nil {
				b.addAnnotation(c.cr.ts, c.cr.value)
			}
		case model.Server:
			if c.sr != nil {
				b.setTimestamp(c.sr.ts)
			}
			if c.ss != nil {
				b.addAnnotation(c.ss.ts, c.ss.value)
			}
		}
	}
	if s.ts != 0 {
		c.first.setTimestamp(s.ts)
		c.first.setDuration(s.dur)
	}
}

func (c *v1Converter) processBinaryAnnotations(s *v1Span) {
	var ca, sa, ma *ep
	for i := range s.bins {
		b := &s.bins[i]
		// An address annotation is known by its key: old zipkin-ruby
		// wrote "1" instead of true.
		switch b.key {
		case "ca":
			ca = b.ep
			continue
		case "sa":
			sa = b.ep
			continue
		case "ma":
			ma = b.ep
			continue
		}
		span := c.forEndpoint(s, b.ep)
		if b.key == "lc" && b.value == "" {
			continue // a marker, not a tag
		}
		span.putTag(b.key, b.value)
	}
	noCore := c.cs == nil && c.cr == nil && c.ss == nil && c.sr == nil
	if noCore && (ca != nil || sa != nil) {
		switch {
		case ca != nil && sa != nil:
			c.forEndpoint(s, ca).remote = sa
		case sa != nil:
			// "sa" is a default remote address: not a client span.
			c.forEndpoint(s, nil).remote = sa
		default:
			b := c.forEndpoint(s, nil)
			b.kind = model.Server
			b.remote = ca
		}
		return
	}
	server := c.sr
	if server == nil {
		server = c.ss
	}
	if ca != nil && server != nil && !sameEP(ca, server.ep) {
		// Finagle puts the client's socket in "ca" with the server's
		// service name: without the name it is no loopback link.
		if sameService(ca, server.ep) {
			cp := *ca
			cp.service = ""
			ca = &cp
		}
		c.forEndpoint(s, server.ep).remote = ca
	}
	if sa != nil {
		if c.cs != nil {
			c.forEndpoint(s, c.cs.ep).remote = sa
		} else if c.cr != nil {
			c.forEndpoint(s, c.cr.ep).remote = sa
		}
	}
	if ma != nil {
		if c.ms != nil {
			c.forEndpoint(s, c.ms.ep).remote = ma
		}
		if c.mr != nil {
			c.forEndpoint(s, c.mr.ep).remote = ma
		}
	}
}
