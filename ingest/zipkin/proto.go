package zipkin

import (
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/openzipkin/zipkin-go/model"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/obs-dev/obs/store/traces"
)

// DecodeProto decodes zipkin.proto3 ListOfSpans.
//
// zipkin-go's decoder insists on 16-byte trace ids, but Brave and
// zipkin-reporter-java write 8 bytes for a 64-bit trace id, so the fields
// are read here with protowire, as Proto3ZipkinFields reads them: unknown
// fields skipped, an unknown kind ignored, an annotation without a
// timestamp or value dropped, a tag without a key dropped.
func DecodeProto(body []byte) ([]traces.Span, error) {
	d, err := decodeProto(body)
	return d.Spans, err
}

// Field numbers of zipkin.proto3.
const (
	pbListSpans = 1

	pbTraceID    = 1
	pbParentID   = 2
	pbID         = 3
	pbKind       = 4
	pbName       = 5
	pbTimestamp  = 6
	pbDuration   = 7
	pbLocal      = 8
	pbRemote     = 9
	pbAnnotation = 10
	pbTag        = 11
	pbDebug      = 12
	pbShared     = 13

	pbEPService = 1
	pbEPIPv4    = 2
	pbEPIPv6    = 3
	pbEPPort    = 4
)

var pbKinds = [...]model.Kind{"", model.Client, model.Server, model.Producer, model.Consumer}

func decodeProto(body []byte) (Decoded, error) {
	var d Decoded
	for i := 0; len(body) > 0; {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return Decoded{}, &Error{-1, "protobuf ListOfSpans: " + protowire.ParseError(n).Error()}
		}
		body = body[n:]
		if num != pbListSpans || typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, body)
			if m < 0 {
				return Decoded{}, &Error{-1, "protobuf ListOfSpans: " + protowire.ParseError(m).Error()}
			}
			body = body[m:]
			continue
		}
		msg, m := protowire.ConsumeBytes(body)
		if m < 0 {
			return Decoded{}, &Error{i, "protobuf span: " + protowire.ParseError(m).Error()}
		}
		body = body[m:]
		var b spanBuilder
		if err := protoSpan(msg, &b); err != nil {
			return Decoded{}, &Error{i, err.Error()}
		}
		sp, errMsg := b.build()
		if errMsg != "" {
			return Decoded{}, &Error{i, errMsg}
		}
		d.Spans = append(d.Spans, sp)
		d.Cut += b.cut
		i++
	}
	return d, nil
}

// fields calls fn for each field of a message; fn consumes the value and
// returns its length (negative: a protowire error).
func fields(msg []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) int) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		m := fn(num, typ, msg)
		if m == 0 {
			m = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if m < 0 {
			return protowire.ParseError(m)
		}
		msg = msg[m:]
	}
	return nil
}

func str(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string([]rune(string(b))) // invalid bytes become U+FFFD
}

func protoSpan(msg []byte, b *spanBuilder) error {
	var bad error
	err := fields(msg, func(num protowire.Number, typ protowire.Type, v []byte) int {
		switch {
		case typ == protowire.BytesType && (num == pbTraceID || num == pbParentID || num == pbID):
			raw, n := protowire.ConsumeBytes(v)
			if n < 0 {
				return n
			}
			if bad == nil {
				bad = b.setProtoID(num, raw)
			}
			return n
		case typ == protowire.VarintType && num == pbKind:
			k, n := protowire.ConsumeVarint(v)
			if n >= 0 && k < uint64(len(pbKinds)) {
				b.kind = pbKinds[k]
			}
			return n
		case typ == protowire.BytesType && num == pbName:
			s, n := protowire.ConsumeBytes(v)
			b.name = str(s)
			return n
		case typ == protowire.Fixed64Type && num == pbTimestamp:
			t, n := protowire.ConsumeFixed64(v)
			b.setTimestamp(int64(t))
			return n
		case typ == protowire.VarintType && num == pbDuration:
			t, n := protowire.ConsumeVarint(v)
			b.setDuration(int64(t))
			return n
		case typ == protowire.BytesType && (num == pbLocal || num == pbRemote):
			raw, n := protowire.ConsumeBytes(v)
			if n < 0 {
				return n
			}
			e, err := protoEndpoint(raw)
			if err != nil && bad == nil {
				bad = err
			}
			if num == pbLocal {
				b.local = e
			} else {
				b.remote = e
			}
			return n
		case typ == protowire.BytesType && (num == pbAnnotation || num == pbTag):
			raw, n := protowire.ConsumeBytes(v)
			if n < 0 {
				return n
			}
			if err := protoPair(raw, num, b); err != nil && bad == nil {
				bad = err
			}
			return n
		case typ == protowire.VarintType && (num == pbDebug || num == pbShared):
			x, n := protowire.ConsumeVarint(v)
			if x != 0 {
				if num == pbDebug {
					b.debug = true
				} else {
					b.shared = true
				}
			}
			return n
		}
		return 0
	})
	if err != nil {
		return fmt.Errorf("protobuf span: %w", err)
	}
	return bad
}

// setProtoID reads an id field: 8 bytes (or 16 for a trace id), as
// Proto3Fields.HexField does.
func (b *spanBuilder) setProtoID(num protowire.Number, raw []byte) error {
	switch num {
	case pbTraceID:
		if len(raw) != 8 && len(raw) != 16 {
			return fmt.Errorf("trace_id is %d bytes: want 8 or 16", len(raw))
		}
		id, err := ParseTraceID(hex.EncodeToString(raw))
		b.traceID = id
		return err
	case pbID:
		if len(raw) != 8 {
			return fmt.Errorf("id is %d bytes: want 8", len(raw))
		}
		b.id, _ = lowerHex(hex.EncodeToString(raw))
		b.hasID = true
	case pbParentID:
		if len(raw) != 8 {
			return fmt.Errorf("parent_id is %d bytes: want 8", len(raw))
		}
		b.parent, _ = lowerHex(hex.EncodeToString(raw))
	}
	return nil
}

func protoEndpoint(msg []byte) (*ep, error) {
	var e ep
	var bad error
	err := fields(msg, func(num protowire.Number, typ protowire.Type, v []byte) int {
		switch {
		case typ == protowire.BytesType && num == pbEPService:
			s, n := protowire.ConsumeBytes(v)
			e.service = str(s)
			return n
		case typ == protowire.BytesType && (num == pbEPIPv4 || num == pbEPIPv6):
			s, n := protowire.ConsumeBytes(v)
			e.setIPBytes(s)
			return n
		case typ == protowire.VarintType && num == pbEPPort:
			p, n := protowire.ConsumeVarint(v)
			if err := e.setPort(int64(int32(p))); err != nil && bad == nil {
				bad = err
			}
			return n
		}
		return 0
	})
	if err != nil {
		return nil, fmt.Errorf("protobuf endpoint: %w", err)
	}
	if e.empty() {
		return nil, bad
	}
	return &e, bad
}

// protoPair reads an Annotation {fixed64 timestamp = 1; string value = 2}
// or a tags map entry {string key = 1; string value = 2}.
func protoPair(msg []byte, num protowire.Number, b *spanBuilder) error {
	var ts uint64
	var key, value string
	hasKey, hasValue := false, false
	err := fields(msg, func(f protowire.Number, typ protowire.Type, v []byte) int {
		switch {
		case f == 1 && typ == protowire.Fixed64Type && num == pbAnnotation:
			t, n := protowire.ConsumeFixed64(v)
			ts = t
			return n
		case f == 1 && typ == protowire.BytesType && num == pbTag:
			s, n := protowire.ConsumeBytes(v)
			key, hasKey = str(s), true
			return n
		case f == 2 && typ == protowire.BytesType:
			s, n := protowire.ConsumeBytes(v)
			value, hasValue = str(s), true
			return n
		}
		return 0
	})
	if err != nil {
		return fmt.Errorf("protobuf %s: %w", map[protowire.Number]string{pbAnnotation: "annotation", pbTag: "tag"}[num], err)
	}
	switch {
	case num == pbAnnotation && ts != 0 && hasValue:
		b.addAnnotation(int64(ts), value)
	case num == pbTag && hasKey:
		b.putTag(key, value)
	}
	return nil
}
