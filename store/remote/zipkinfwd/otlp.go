package zipkinfwd

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/openzipkin/zipkin-go/model"
)

// OTLP/HTTP with JSON bodies (the OTLP spec's protobuf JSON mapping), for
// engines that take no Zipkin: VictoriaTraces, and Tempo or Jaeger on
// their OTLP port. Zipkin fields become the attributes the OpenTelemetry
// collector's zipkin receiver makes of them (Jaeger v2's zipkin receiver
// is that receiver), so that a span reads back the same whichever way it
// went in: local service -> resource service.name; endpoints ->
// net.host.ip/port, peer.service, net.peer.ip/port; kind -> span kind;
// an error tag -> an error status (the tag kept unless it was "true");
// annotations -> events; no timestamp -> start at the epoch and the
// receiver's otel.zipkin.absentField.startTime attribute.

type otlpRequest struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

type otlpResourceSpans struct {
	Resource   otlpResource     `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpResource struct {
	Attributes []otlpKV `json:"attributes,omitempty"`
}

type otlpScopeSpans struct {
	Scope struct{}   `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpSpan struct {
	TraceID           string      `json:"traceId"`
	SpanID            string      `json:"spanId"`
	ParentSpanID      string      `json:"parentSpanId,omitempty"`
	Name              string      `json:"name"`
	Kind              int         `json:"kind"`
	StartTimeUnixNano string      `json:"startTimeUnixNano"`
	EndTimeUnixNano   string      `json:"endTimeUnixNano"`
	Attributes        []otlpKV    `json:"attributes,omitempty"`
	Events            []otlpEvent `json:"events,omitempty"`
	Status            *otlpStatus `json:"status,omitempty"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

// otlpValue is an AnyValue; int64 is a decimal string in OTLP JSON.
type otlpValue struct {
	String *string `json:"stringValue,omitempty"`
	Int    *string `json:"intValue,omitempty"`
	Bool   *bool   `json:"boolValue,omitempty"`
}

type otlpEvent struct {
	TimeUnixNano string `json:"timeUnixNano"`
	Name         string `json:"name"`
}

type otlpStatus struct {
	Code int `json:"code"` // 2: STATUS_CODE_ERROR
}

func strKV(k, v string) otlpKV { return otlpKV{Key: k, Value: otlpValue{String: &v}} }

func intKV(k string, v int64) otlpKV {
	s := strconv.FormatInt(v, 10)
	return otlpKV{Key: k, Value: otlpValue{Int: &s}}
}

// OTLP span kinds.
var otlpKinds = map[model.Kind]int{model.Server: 2, model.Client: 3, model.Producer: 4, model.Consumer: 5}

// JoinOTLP makes one OTLP ExportTraceServiceRequest, as JSON, of Zipkin
// v2 JSON lists (the queue's records). A span that does not decode (it
// cannot: obs wrote it) is left out.
func JoinOTLP(lists [][]byte) []byte {
	byService := map[string][]otlpSpan{}
	for _, l := range lists {
		var spans []json.RawMessage
		if json.Unmarshal(l, &spans) != nil {
			continue
		}
		for _, raw := range spans {
			var m model.SpanModel
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			svc := ""
			if m.LocalEndpoint != nil {
				svc = m.LocalEndpoint.ServiceName
			}
			byService[svc] = append(byService[svc], otlpOf(&m))
		}
	}
	services := make([]string, 0, len(byService))
	for s := range byService {
		services = append(services, s)
	}
	sort.Strings(services)
	req := otlpRequest{ResourceSpans: make([]otlpResourceSpans, 0, len(services))}
	for _, svc := range services {
		rs := otlpResourceSpans{ScopeSpans: []otlpScopeSpans{{Spans: byService[svc]}}}
		if svc != "" {
			rs.Resource.Attributes = []otlpKV{strKV("service.name", svc)}
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	b, err := json.Marshal(req)
	if err != nil {
		// Plain strings and numbers: cannot happen.
		panic(fmt.Sprintf("encode OTLP: %v", err))
	}
	return b
}

func otlpOf(m *model.SpanModel) otlpSpan {
	var tid [16]byte
	for i := range 8 {
		tid[i] = byte(m.TraceID.High >> (56 - 8*i))
		tid[8+i] = byte(m.TraceID.Low >> (56 - 8*i))
	}
	s := otlpSpan{TraceID: hex.EncodeToString(tid[:]), SpanID: m.ID.String(), Name: m.Name, Kind: otlpKinds[m.Kind]}
	if m.ParentID != nil && *m.ParentID != m.ID {
		s.ParentSpanID = m.ParentID.String()
	}
	var start int64
	if m.Timestamp.IsZero() {
		s.Attributes = append(s.Attributes, otlpKV{Key: "otel.zipkin.absentField.startTime", Value: otlpValue{Bool: ptr(true)}})
	} else {
		start = m.Timestamp.UnixNano()
	}
	s.StartTimeUnixNano = strconv.FormatInt(start, 10)
	s.EndTimeUnixNano = strconv.FormatInt(start+m.Duration.Nanoseconds(), 10)
	keys := make([]string, 0, len(m.Tags))
	for k := range m.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m.Tags[k]
		if k == "error" {
			s.Status = &otlpStatus{Code: 2}
			if v == "true" {
				continue
			}
		}
		s.Attributes = append(s.Attributes, strKV(k, v))
	}
	if e := m.LocalEndpoint; e != nil {
		if ip := ipOf(e); ip != "" {
			s.Attributes = append(s.Attributes, strKV("net.host.ip", ip))
		}
		if e.Port > 0 {
			s.Attributes = append(s.Attributes, intKV("net.host.port", int64(e.Port)))
		}
	}
	if e := m.RemoteEndpoint; e != nil {
		if e.ServiceName != "" {
			s.Attributes = append(s.Attributes, strKV("peer.service", e.ServiceName))
		}
		if ip := ipOf(e); ip != "" {
			s.Attributes = append(s.Attributes, strKV("net.peer.ip", ip))
		}
		if e.Port > 0 {
			s.Attributes = append(s.Attributes, intKV("net.peer.port", int64(e.Port)))
		}
	}
	for _, a := range m.Annotations {
		s.Events = append(s.Events, otlpEvent{TimeUnixNano: strconv.FormatInt(a.Timestamp.UnixNano(), 10), Name: a.Value})
	}
	return s
}

// ipOf is the endpoint's address; IPv6 wins, as in the receiver.
func ipOf(e *model.Endpoint) string {
	switch {
	case e.IPv6 != nil:
		return e.IPv6.String()
	case e.IPv4 != nil:
		return e.IPv4.String()
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
