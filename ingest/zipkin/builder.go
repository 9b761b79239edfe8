package zipkin

import (
	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/store/traces"
)

// Builder builds one span that arrived over another protocol (OTLP) with
// the rules Zipkin's own spans get here: lower-cased names, annotations
// sorted and deduplicated, tags and annotations bounded, the same
// canonical JSON. A trace whose spans come partly over Zipkin and partly
// over another protocol is then stored and shown as one.
type Builder struct{ b spanBuilder }

// Reset starts a new span.
func (x *Builder) Reset() { x.b = spanBuilder{} }

// SetIDs sets the trace id, span id and parent (0: a root span).
func (x *Builder) SetIDs(trace model.TraceID, id, parent uint64) {
	x.b.traceID, x.b.id, x.b.parent, x.b.hasID = trace, id, parent, true
}

// SetKind sets CLIENT, SERVER, PRODUCER, CONSUMER or "" (none).
func (x *Builder) SetKind(k model.Kind) { x.b.kind = k }

// SetName sets the span name.
func (x *Builder) SetName(n string) { x.b.name = n }

// SetTiming sets the start (epoch microseconds, 0: none) and duration
// (microseconds).
func (x *Builder) SetTiming(ts, dur int64) { x.b.setTimestamp(ts); x.b.setDuration(dur) }

// SetLocal sets the local endpoint: a service name, an IP literal ("" or
// not an address: none) and a port (0: none).
func (x *Builder) SetLocal(service, ip string, port uint16) {
	x.b.local = endpointOf(service, ip, port)
}

// SetRemote sets the remote endpoint, as SetLocal.
func (x *Builder) SetRemote(service, ip string, port uint16) {
	x.b.remote = endpointOf(service, ip, port)
}

func endpointOf(service, ip string, port uint16) *ep {
	e := &ep{service: service, port: int(port)}
	if ip != "" {
		e.parseIP(ip)
	}
	if e.empty() {
		return nil
	}
	return e
}

// PutTag sets a tag; past MaxTagsPerSpan new keys are cut (Build counts them).
func (x *Builder) PutTag(k, v string) { x.b.putTag(k, v) }

// AddAnnotation adds an annotation at ts (epoch microseconds); past
// MaxAnnotationsPerSpan they are cut.
func (x *Builder) AddAnnotation(ts int64, v string) { x.b.addAnnotation(ts, v) }

// Build returns the span and how many tags and annotations were cut, or
// why the span is refused (missing or all-zero ids).
func (x *Builder) Build() (sp traces.Span, cut int, refused string) {
	sp, refused = x.b.build()
	return sp, x.b.cut, refused
}
