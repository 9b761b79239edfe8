package jaegerapi

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"
)

// The Jaeger UI's JSON model (jaeger's internal/uimodel), as /api/traces
// answers it.
type jTrace struct {
	TraceID   string              `json:"traceID"`
	Spans     []jSpan             `json:"spans"`
	Processes map[string]jProcess `json:"processes"`
}

type jSpan struct {
	TraceID       string       `json:"traceID"`
	SpanID        string       `json:"spanID"`
	OperationName string       `json:"operationName"`
	References    []jReference `json:"references"`
	StartTime     int64        `json:"startTime"` // µs since the epoch
	Duration      int64        `json:"duration"`  // µs
	Tags          []jKeyValue  `json:"tags"`
	Logs          []jLog       `json:"logs"`
	ProcessID     string       `json:"processID"`
	Process       *jProcess    `json:"process"`
}

type jReference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jKeyValue `json:"tags"`
}

type jLog struct {
	Timestamp int64       `json:"timestamp"`
	Fields    []jKeyValue `json:"fields"`
}

type jKeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

func (kv jKeyValue) str() string {
	switch v := kv.Value.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64: // JSON numbers: int64 tags come back as numbers
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case nil:
		return ""
	}
	return fmt.Sprint(kv.Value)
}

// What the OpenTelemetry Zipkin receiver (the one in Jaeger v2) turns
// Zipkin fields into, and Jaeger shows as tags: undone here so that obs
// answers with the spans it was sent.
const (
	tagKind        = "span.kind"
	tagPeerService = "peer.service"
	tagPeerIP      = "net.peer.ip"
	tagPeerPort    = "net.peer.port"
	tagHostIP      = "net.host.ip"
	tagHostPort    = "net.host.port"
	tagStatusCode  = "otel.status_code"
	tagStatusDesc  = "otel.status_description"
	tagError       = "error"
	// The receiver marks a span that had no timestamp, whose start it
	// sets to the epoch.
	tagNoTimestamp = "otel.zipkin.absentField.startTime"
)

// Tags the receiver or Jaeger add that a Zipkin span never had.
var addedTags = map[string]bool{
	"otel.scope.name": true, "otel.scope.version": true, "otel.library.name": true, "otel.library.version": true,
	"internal.span.format": true, tagStatusDesc: true, "w3c.tracestate": true,
}

// toZipkin turns one Jaeger trace into Zipkin v2 spans. Zipkin's shared
// flag does not survive the receiver (OpenTelemetry has no such field), so
// it is restored where Zipkin would have set it: a server span with the
// same id as a client span of the trace is the server half of a span
// shared between two hosts.
func toZipkin(t jTrace) ([]*model.SpanModel, error) {
	out := make([]*model.SpanModel, 0, len(t.Spans))
	clientIDs := map[model.ID]bool{}
	// Forwarding is at least once: a span sent twice (obs restarted
	// before its queue cursor was saved) is stored twice by Jaeger and
	// shown once here, as Zipkin's own storage would merge it.
	type key struct {
		id      model.ID
		kind    model.Kind
		service string
		ts      int64
	}
	seen := map[key]bool{}
	for _, s := range t.Spans {
		p := s.Process
		if p == nil {
			if pp, ok := t.Processes[s.ProcessID]; ok {
				p = &pp
			}
		}
		m, err := spanOf(s, p)
		if err != nil {
			return nil, err
		}
		k := key{m.ID, m.Kind, "", m.Timestamp.UnixMicro()}
		if m.LocalEndpoint != nil {
			k.service = m.LocalEndpoint.ServiceName
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		if m.Kind == model.Client {
			clientIDs[m.ID] = true
		}
		out = append(out, m)
	}
	for _, m := range out {
		if m.Kind == model.Server && clientIDs[m.ID] {
			m.Shared = true
		}
	}
	// Zipkin's order: by timestamp, then id, so that answers are stable.
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Timestamp.Equal(out[j].Timestamp) {
			return out[i].Timestamp.Before(out[j].Timestamp)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// minMicros is the first time zipkin-go encodes: one second after the epoch.
const minMicros = 1_000_000

func spanOf(s jSpan, p *jProcess) (*model.SpanModel, error) {
	tid, err := model.TraceIDFromHex(s.TraceID)
	if err != nil {
		return nil, fmt.Errorf("jaeger span %q: trace id: %w", s.SpanID, err)
	}
	id, err := strconv.ParseUint(s.SpanID, 16, 64)
	if err != nil {
		return nil, fmt.Errorf("jaeger span %q: span id: %w", s.SpanID, err)
	}
	// Zipkin has no span without ids (zipkin-go refuses to encode one):
	// an engine answering zeros answered garbage.
	if tid.Empty() || id == 0 {
		return nil, fmt.Errorf("jaeger span %q of trace %q: zero id", s.SpanID, s.TraceID)
	}
	m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: tid, ID: model.ID(id)},
		Name: s.OperationName, Duration: time.Duration(max(s.Duration, 0)) * time.Microsecond}
	for _, r := range s.References {
		if pid, err := strconv.ParseUint(r.SpanID, 16, 64); err == nil && pid != id {
			parent := model.ID(pid)
			m.ParentID = &parent
			break
		}
	}
	local := &model.Endpoint{}
	remote := &model.Endpoint{}
	if p != nil {
		local.ServiceName = p.ServiceName
	}
	tags := map[string]string{}
	var errTag, statusErr bool
	noTimestamp := false
	// Resource attributes (process tags) came from span tags too: the
	// receiver moves well-known ones (host.name, service.version, ...)
	// to the resource.
	var all []jKeyValue
	if p != nil {
		all = append(all, p.Tags...)
	}
	all = append(all, s.Tags...)
	for _, kv := range all {
		v := kv.str()
		switch kv.Key {
		case tagKind:
			m.Kind = kindOf(v)
		case tagPeerService:
			remote.ServiceName = v
		case tagPeerIP:
			setIP(remote, v)
		case tagPeerPort:
			remote.Port = port(v)
		case tagHostIP:
			setIP(local, v)
		case tagHostPort:
			local.Port = port(v)
		case tagStatusCode:
			statusErr = v == "ERROR"
		case tagNoTimestamp:
			noTimestamp = v == "true"
		case tagError:
			// error=true is the receiver's (from status); any other
			// value is the span's own error tag, kept as sent.
			if v == "true" {
				errTag = true
			} else {
				tags[tagError] = v
			}
		default:
			if !addedTags[kv.Key] {
				tags[kv.Key] = v
			}
		}
	}
	// A Zipkin error tag "true" became an error status; the tag's value
	// when it was something else is kept above.
	if (errTag || statusErr) && tags[tagError] == "" {
		tags[tagError] = "true"
	}
	if len(tags) > 0 {
		m.Tags = tags
	}
	// zipkin-go encodes no time before the epoch's first second (Zipkin
	// refuses them): such a time from the engine is absent, not an error.
	if !noTimestamp && s.StartTime >= minMicros {
		m.Timestamp = time.UnixMicro(s.StartTime)
	}
	if !empty(local) {
		m.LocalEndpoint = local
	}
	if !empty(remote) {
		m.RemoteEndpoint = remote
	}
	for _, l := range s.Logs {
		if l.Timestamp < minMicros {
			continue // an annotation is a time and a value: no time, nothing to show
		}
		a := model.Annotation{Timestamp: time.UnixMicro(l.Timestamp)}
		for _, f := range l.Fields {
			if f.Key == "event" {
				a.Value = f.str()
			}
		}
		if a.Value == "" && len(l.Fields) > 0 {
			a.Value = l.Fields[0].str()
		}
		m.Annotations = append(m.Annotations, a)
	}
	sort.SliceStable(m.Annotations, func(i, j int) bool { return m.Annotations[i].Timestamp.Before(m.Annotations[j].Timestamp) })
	return m, nil
}

func kindOf(v string) model.Kind {
	switch strings.ToLower(v) {
	case "client":
		return model.Client
	case "server":
		return model.Server
	case "producer":
		return model.Producer
	case "consumer":
		return model.Consumer
	}
	return model.Undetermined // internal: Zipkin has no kind for it
}

func empty(e *model.Endpoint) bool {
	return e.ServiceName == "" && e.IPv4 == nil && e.IPv6 == nil && e.Port == 0
}

func setIP(e *model.Endpoint, v string) {
	ip := net.ParseIP(v)
	if ip == nil {
		return
	}
	if v4 := ip.To4(); v4 != nil {
		e.IPv4 = v4
	} else {
		e.IPv6 = ip
	}
}

func port(v string) uint16 {
	n, _ := strconv.ParseUint(v, 10, 16)
	return uint16(n)
}
