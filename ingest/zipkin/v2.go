package zipkin

import (
	"fmt"

	"github.com/obs-dev/obs/store/traces"
)

// Decoded is a decoded batch and what was cut from its spans (tags and
// annotations past the per-span limits).
type Decoded struct {
	Spans []traces.Span
	Cut   int
}

// DecodeV2JSON decodes a JSON list of v2 spans.
func DecodeV2JSON(body []byte) ([]traces.Span, error) {
	d, err := decodeV2JSON(body)
	return d.Spans, err
}

func decodeV2JSON(body []byte) (Decoded, error) {
	// One builder for the whole list, reset per span: what build returns
	// keeps nothing of it but the tag map, which the reset lets go.
	var b spanBuilder
	one := []*spanBuilder{&b}
	return decodeList(body, "spans", func(r *jsonReader) ([]*spanBuilder, string) {
		b = spanBuilder{}
		return one, r.v2Span(&b)
	})
}

// decodeList reads a JSON list; each reads one element into the spans it
// makes (a v1 span can make two). A bad element refuses the batch.
func decodeList(body []byte, what string, each func(r *jsonReader) ([]*spanBuilder, string)) (Decoded, error) {
	var d Decoded
	r := &jsonReader{b: body}
	if !r.beginArray() {
		return d, &Error{-1, "body must be a JSON list of " + what + ": " + r.err.Error()}
	}
	for i := 0; r.more(); i++ {
		bs, msg := each(r)
		if msg != "" {
			return Decoded{}, &Error{i, msg}
		}
		for _, b := range bs {
			sp, msg := b.build()
			if msg != "" {
				return Decoded{}, &Error{i, msg}
			}
			d.Spans = append(d.Spans, sp)
			d.Cut += b.cut
		}
	}
	r.endArray()
	if r.err != nil {
		return Decoded{}, &Error{-1, "body must be a JSON list of " + what + ": " + r.err.Error()}
	}
	return d, nil
}

// v2Span reads one span as V2SpanReader does: traceId and id must be
// strings (or numbers), any other field may be null (ignored); unknown
// fields are skipped.
func (r *jsonReader) v2Span(b *spanBuilder) string {
	if !r.beginObject() {
		return r.err.Error()
	}
	for r.more() {
		field := r.field()
		if r.err != nil {
			break
		}
		switch string(field) {
		case "traceId":
			id, err := parseTraceID(r.strBytes())
			if r.err == nil && err != nil {
				return err.Error()
			}
			b.traceID = id
			continue
		case "id":
			id, err := parseSpanID("id", r.strBytes())
			if r.err == nil && err != nil {
				return err.Error()
			}
			b.id, b.hasID = id, true
			continue
		}
		if r.null() {
			continue
		}
		switch string(field) {
		case "parentId":
			p, err := parseSpanID("parentId", r.strBytes())
			if r.err == nil && err != nil {
				return err.Error()
			}
			b.parent = p
		case "kind":
			k, err := kindOf(r.strBytes())
			if r.err == nil && err != nil {
				return err.Error()
			}
			b.kind = k
		case "name":
			b.name = r.str()
		case "timestamp":
			b.setTimestamp(r.long("timestamp"))
		case "duration":
			b.setDuration(r.long("duration"))
		case "localEndpoint", "remoteEndpoint":
			e, msg := r.endpoint()
			if msg != "" {
				return string(field) + ": " + msg
			}
			if string(field) == "localEndpoint" {
				b.local = e
			} else {
				b.remote = e
			}
		case "annotations":
			if !r.beginArray() {
				break
			}
			for r.more() {
				ts, v, ok := r.annotation()
				if r.err != nil {
					break
				}
				if !ok {
					return "incomplete annotation: it needs a timestamp and a value"
				}
				b.addAnnotation(ts, v)
			}
			r.endArray()
		case "tags":
			if !r.beginObject() {
				break
			}
			for r.more() {
				k := r.name()
				if r.null() {
					return fmt.Sprintf("tag %q has no value", k)
				}
				b.putTag(k, r.strOrBool())
			}
			r.endObject()
		case "debug":
			b.debug = r.boolean()
		case "shared":
			b.shared = r.boolean()
		default:
			r.skip()
		}
		if r.err != nil {
			break
		}
	}
	r.endObject()
	if r.err != nil {
		return r.err.Error()
	}
	return ""
}

// endpoint reads an endpoint (V2SpanReader.ENDPOINT_READER): an ipv4 or
// ipv6 that is not an address is dropped, a port may be a string, an
// endpoint with nothing known is none.
func (r *jsonReader) endpoint() (*ep, string) {
	if !r.beginObject() {
		return nil, ""
	}
	var e ep
	for r.more() {
		field := r.field()
		if r.null() {
			continue
		}
		switch string(field) {
		case "serviceName":
			e.service = r.str()
		case "ipv4", "ipv6":
			e.parseIP(r.str())
		case "port":
			if err := e.setPort(r.long("port")); err != nil && r.err == nil {
				return nil, err.Error()
			}
		default:
			r.skip()
		}
	}
	r.endObject()
	if e.empty() {
		return nil, ""
	}
	return &e, ""
}

// annotation reads {"timestamp":…, "value":…}; ok is false when either is
// missing.
func (r *jsonReader) annotation() (ts int64, value string, ok bool) {
	if !r.beginObject() {
		return 0, "", false
	}
	hasTS, hasValue := false, false
	for r.more() {
		switch string(r.field()) {
		case "timestamp":
			ts, hasTS = r.long("annotation timestamp"), true
		case "value":
			value, hasValue = r.str(), true
		default:
			r.skip()
		}
	}
	r.endObject()
	return ts, value, hasTS && hasValue
}
