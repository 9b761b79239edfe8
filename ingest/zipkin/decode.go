// Package zipkin decodes spans as Zipkin collectors accept them: v2 JSON,
// v2 protobuf (zipkin.proto3 ListOfSpans) and v1 JSON (what zipkin-js's HTTP
// transport sends by default), with Zipkin's validation. A batch is decoded
// whole or rejected whole, so nothing of a bad batch is half stored.
package zipkin

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	proto3 "github.com/openzipkin/zipkin-go/proto/zipkin_proto3"

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

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// validateIDs applies Zipkin's id rules to the raw strings.
func validateIDs(traceID, id, parentID string) string {
	switch {
	case len(traceID) != 16 && len(traceID) != 32 || !isHex(traceID):
		return fmt.Sprintf("traceId %q must be 16 or 32 hex characters", traceID)
	case len(id) != 16 || !isHex(id):
		return fmt.Sprintf("id %q must be 16 hex characters", id)
	case parentID != "" && (len(parentID) != 16 || !isHex(parentID)):
		return fmt.Sprintf("parentId %q must be 16 hex characters", parentID)
	}
	return ""
}

// ParseTraceID reads a trace id as the query API takes it: 16 or 32 hex
// characters, any case.
func ParseTraceID(s string) (model.TraceID, error) {
	if (len(s) != 16 && len(s) != 32) || !isHex(s) {
		return model.TraceID{}, fmt.Errorf("traceId %q must be 16 or 32 hex characters", s)
	}
	return model.TraceIDFromHex(strings.ToLower(s))
}

var kinds = map[string]bool{"": true, "CLIENT": true, "SERVER": true, "PRODUCER": true, "CONSUMER": true}

// finish validates a decoded model span and renders its canonical JSON.
func finish(i int, m *model.SpanModel) (traces.Span, error) {
	if !kinds[string(m.Kind)] {
		return traces.Span{}, &Error{i, fmt.Sprintf("kind %q must be CLIENT, SERVER, PRODUCER or CONSUMER", m.Kind)}
	}
	if m.Duration < 0 {
		return traces.Span{}, &Error{i, "duration must not be negative"}
	}
	if m.ParentID != nil && *m.ParentID == 0 {
		m.ParentID = nil
	}
	if m.Timestamp.UnixNano() <= 0 {
		m.Timestamp = time.Time{} // protobuf's 0 means "not set"
	}
	for _, a := range m.Annotations {
		if a.Timestamp.UnixNano() <= 0 {
			return traces.Span{}, &Error{i, "annotations need a timestamp in microseconds"}
		}
	}
	if m.LocalEndpoint.Empty() {
		m.LocalEndpoint = nil
	}
	if m.RemoteEndpoint.Empty() {
		m.RemoteEndpoint = nil
	}
	m.Name = strings.ToLower(m.Name)
	return traces.Span{Model: m, JSON: encode(m)}, nil
}

// DecodeProto decodes zipkin.proto3 ListOfSpans.
func DecodeProto(body []byte) ([]traces.Span, error) {
	ms, err := proto3.ParseSpans(body, false)
	if err != nil {
		return nil, &Error{-1, "protobuf ListOfSpans: " + err.Error()}
	}
	out := make([]traces.Span, 0, len(ms))
	for i, m := range ms {
		if m.TraceID.Empty() || m.ID == 0 {
			return nil, &Error{i, "traceId and id are required"}
		}
		sp, err := finish(i, m)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// v1 JSON model.
type v1Endpoint struct {
	ServiceName string `json:"serviceName"`
	IPv4        string `json:"ipv4"`
	IPv6        string `json:"ipv6"`
	Port        int    `json:"port"`
}

type v1Annotation struct {
	Timestamp int64       `json:"timestamp"`
	Value     string      `json:"value"`
	Endpoint  *v1Endpoint `json:"endpoint"`
}

type v1Binary struct {
	Key      string      `json:"key"`
	Value    any         `json:"value"`
	Endpoint *v1Endpoint `json:"endpoint"`
}

type v1Span struct {
	TraceID           string         `json:"traceId"`
	ID                string         `json:"id"`
	ParentID          string         `json:"parentId"`
	Name              string         `json:"name"`
	Timestamp         int64          `json:"timestamp"`
	Duration          int64          `json:"duration"`
	Debug             bool           `json:"debug"`
	Annotations       []v1Annotation `json:"annotations"`
	BinaryAnnotations []v1Binary     `json:"binaryAnnotations"`
}

func (e *v1Endpoint) model() *model.Endpoint {
	if e == nil {
		return nil
	}
	m := &model.Endpoint{ServiceName: strings.ToLower(e.ServiceName), Port: uint16(e.Port)}
	m.IPv4 = parseIP(e.IPv4)
	m.IPv6 = parseIP(e.IPv6)
	return m
}

func micros(us int64) time.Time {
	if us <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// DecodeV1JSON converts v1 spans to v2 as Zipkin's V1SpanConverter does: the
// cs/cr and sr/ss annotations become CLIENT and SERVER spans (both, when one
// v1 span carries both halves), "sa"/"ca" become the remote endpoint, the
// other binary annotations tags.
func DecodeV1JSON(body []byte) ([]traces.Span, error) {
	var v1 []v1Span
	if err := json.Unmarshal(body, &v1); err != nil {
		return nil, &Error{-1, "body must be a JSON list of v1 spans: " + err.Error()}
	}
	var out []traces.Span
	for i, s := range v1 {
		if msg := validateIDs(s.TraceID, s.ID, s.ParentID); msg != "" {
			return nil, &Error{i, msg}
		}
		tid, _ := model.TraceIDFromHex(strings.ToLower(s.TraceID))
		id, _ := strconv.ParseUint(s.ID, 16, 64)
		base := model.SpanContext{TraceID: tid, ID: model.ID(id), Debug: s.Debug}
		if s.ParentID != "" {
			p, _ := strconv.ParseUint(s.ParentID, 16, 64)
			pid := model.ID(p)
			base.ParentID = &pid
		}
		ann := map[string]v1Annotation{}
		var others []model.Annotation
		var anyEndpoint *v1Endpoint
		for _, a := range s.Annotations {
			switch a.Value {
			case "cs", "cr", "sr", "ss", "ms", "mr":
				ann[a.Value] = a
			default:
				others = append(others, model.Annotation{Timestamp: micros(a.Timestamp), Value: a.Value})
			}
			if anyEndpoint == nil && a.Endpoint != nil {
				anyEndpoint = a.Endpoint
			}
		}
		tags := map[string]string{}
		var sa, ca, ma *v1Endpoint
		for _, b := range s.BinaryAnnotations {
			switch b.Key {
			case "sa":
				sa = b.Endpoint
			case "ca":
				ca = b.Endpoint
			case "ma":
				ma = b.Endpoint
			default:
				switch v := b.Value.(type) {
				case string:
					tags[b.Key] = v
				case bool:
					tags[b.Key] = strconv.FormatBool(v)
				case float64:
					tags[b.Key] = strconv.FormatFloat(v, 'f', -1, 64)
				}
				if anyEndpoint == nil && b.Endpoint != nil {
					anyEndpoint = b.Endpoint
				}
			}
		}
		half := func(kind model.Kind, start, end string, remote *v1Endpoint, shared bool) model.SpanModel {
			m := model.SpanModel{SpanContext: base, Name: strings.ToLower(s.Name), Kind: kind, Shared: shared}
			st, ok := ann[start]
			if ok {
				m.Timestamp = micros(st.Timestamp)
				m.LocalEndpoint = st.Endpoint.model()
			}
			if en, ok2 := ann[end]; ok && ok2 && en.Timestamp >= st.Timestamp {
				m.Duration = time.Duration(en.Timestamp-st.Timestamp) * time.Microsecond
			} else if en, ok2 := ann[end]; !ok && ok2 && m.LocalEndpoint == nil {
				m.LocalEndpoint = en.Endpoint.model()
			}
			m.RemoteEndpoint = remote.model()
			return m
		}
		var spans []model.SpanModel
		_, hasCS := ann["cs"]
		_, hasSR := ann["sr"]
		_, hasCR := ann["cr"]
		_, hasSS := ann["ss"]
		switch {
		case (hasCS || hasCR) && (hasSR || hasSS):
			c := half(model.Client, "cs", "cr", sa, false)
			srv := half(model.Server, "sr", "ss", ca, true)
			c.Tags, c.Annotations = tags, others
			spans = append(spans, c, srv)
		case hasCS || hasCR:
			c := half(model.Client, "cs", "cr", sa, false)
			c.Tags, c.Annotations = tags, others
			spans = append(spans, c)
		case hasSR || hasSS:
			srv := half(model.Server, "sr", "ss", ca, false)
			srv.Tags, srv.Annotations = tags, others
			spans = append(spans, srv)
		case ann["ms"].Value != "":
			p := half(model.Producer, "ms", "", ma, false)
			p.Tags, p.Annotations = tags, others
			spans = append(spans, p)
		case ann["mr"].Value != "":
			c := half(model.Consumer, "mr", "", ma, false)
			c.Tags, c.Annotations = tags, others
			spans = append(spans, c)
		default:
			m := model.SpanModel{SpanContext: base, Name: strings.ToLower(s.Name), Tags: tags, Annotations: others,
				LocalEndpoint: anyEndpoint.model()}
			spans = append(spans, m)
		}
		// The v1 span's own timestamp and duration belong to the first half.
		if s.Timestamp > 0 && spans[0].Timestamp.IsZero() {
			spans[0].Timestamp = micros(s.Timestamp)
		}
		if s.Duration > 0 && spans[0].Duration == 0 {
			spans[0].Duration = time.Duration(s.Duration) * time.Microsecond
		}
		for k := range spans {
			if spans[k].LocalEndpoint == nil && anyEndpoint != nil {
				spans[k].LocalEndpoint = anyEndpoint.model()
			}
			if len(spans[k].Tags) == 0 {
				spans[k].Tags = nil
			}
			sp, err := finish(i, &spans[k])
			if err != nil {
				return nil, err
			}
			out = append(out, sp)
		}
	}
	return out, nil
}
