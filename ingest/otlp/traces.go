package otlp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/openzipkin/zipkin-go/model"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/traces"
)

// Attribute names the mapping reads (OpenTelemetry semantic conventions,
// current and the older net.* ones SDKs still send).
const (
	attrServiceName = "service.name"
	attrPeerService = "peer.service"
)

// serviceFallbacks name a service when a resource has no service.name,
// as the Collector's Zipkin exporter looks for one.
var serviceFallbacks = []string{"faas.name", "k8s.deployment.name", "process.executable.name"}

// unknownService is what OTel SDKs call a service that did not say.
const unknownService = "unknown_service"

// remoteServiceKeys name the remote service of a CLIENT or PRODUCER span
// when peer.service is absent, in the order the OTel Zipkin exporter
// specification ranks them: Zipkin draws a dependency link only to a
// remote endpoint with a name.
var remoteServiceKeys = []string{"server.address", "net.peer.name", "network.peer.address", "net.sock.peer.addr",
	"net.peer.ip", "peer.hostname", "peer.address", "db.name", "db.namespace"}

var (
	remoteIPKeys   = []string{"network.peer.address", "net.sock.peer.addr", "net.peer.ip", "server.address", "net.peer.name"}
	remotePortKeys = []string{"network.peer.port", "net.sock.peer.port", "net.peer.port", "server.port"}
	localIPKeys    = []string{"network.local.address", "net.sock.host.addr", "net.host.ip"}
	localPortKeys  = []string{"network.local.port", "net.sock.host.port", "net.host.port"}
)

// Tags the mapping adds, named as the OTel Zipkin exporter names them so
// that the Collector's Zipkin receiver would read them back.
const (
	tagError             = "error"
	tagStatusCode        = "otel.status_code"
	tagStatusDescription = "otel.status_description"
	tagScopeName         = "otel.scope.name"
	tagScopeVersion      = "otel.scope.version"
	tagTraceState        = "w3c.tracestate"
	tagSpanKind          = "span.kind"
	tagLinkPrefix        = "otlp.link."
)

// spanResult is what mapping one request's spans found.
type spanResult struct {
	Spans    []traces.Span
	Rejected int    // spans refused (ids missing or all zeros)
	Reason   string // why the first one was
	Cut      int    // tags and annotations past zipkin's per-span bounds
}

// spansOf maps OTLP spans to Zipkin spans as the OpenTelemetry Zipkin
// exporter does (opentelemetry-collector-contrib's zipkinv2
// FromTranslator, and the specification's trace/sdk_exporters/zipkin.md):
// service.name is the local endpoint's service; the span kind carries
// over (INTERNAL has none in Zipkin and is kept as the span.kind tag);
// peer.service (or for clients and producers the peer's address)
// becomes the remote endpoint; resource, scope and span attributes become
// tags, span attributes winning; status ERROR sets the error tag to its
// message; events become annotations ("name|{attributes}|dropped" when
// they have attributes) and links otlp.link.N tags. Spans whose trace or
// span id is missing or all zeros are refused one by one; the others are
// kept.
func spansOf(td ptrace.Traces) spanResult {
	var res spanResult
	var b zipkin.Builder
	rss := td.ResourceSpans()
	res.Spans = make([]traces.Span, 0, td.SpanCount())
	for i := range rss.Len() {
		rs := rss.At(i)
		service, resTags := resourceTags(rs.Resource().Attributes())
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			spans := ss.Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				b.Reset()
				if why := idProblem(sp); why != "" {
					res.reject(fmt.Sprintf("span %q (resource %d, scope %d, span %d): %s", sp.Name(), i, j, k, why))
					continue
				}
				for _, kv := range resTags {
					b.PutTag(kv[0], kv[1])
				}
				if n := ss.Scope().Name(); n != "" {
					b.PutTag(tagScopeName, n)
				}
				if v := ss.Scope().Version(); v != "" {
					b.PutTag(tagScopeVersion, v)
				}
				mapSpan(&b, sp, service)
				out, cut, refused := b.Build()
				if refused != "" {
					res.reject(fmt.Sprintf("span %q (resource %d, scope %d, span %d): %s", sp.Name(), i, j, k, refused))
					continue
				}
				res.Cut += cut
				res.Spans = append(res.Spans, out)
			}
		}
	}
	return res
}

func (r *spanResult) reject(why string) {
	if r.Rejected == 0 {
		r.Reason = why
	}
	r.Rejected++
}

func idProblem(sp ptrace.Span) string {
	switch {
	case sp.TraceID().IsEmpty():
		return "trace_id is missing or all zeros"
	case sp.SpanID().IsEmpty():
		return "span_id is missing or all zeros"
	}
	return ""
}

// resourceTags finds the service name and the tags every span of a
// resource carries: its attributes but the one that named the service.
func resourceTags(attrs pcommon.Map) (service string, tags [][2]string) {
	nameKey := ""
	for _, k := range append([]string{attrServiceName}, serviceFallbacks...) {
		if v, ok := attrs.Get(k); ok && v.AsString() != "" {
			service, nameKey = v.AsString(), k
			break
		}
	}
	if service == "" {
		service = unknownService
	}
	tags = make([][2]string, 0, attrs.Len())
	attrs.Range(func(k string, v pcommon.Value) bool {
		if k != nameKey {
			tags = append(tags, [2]string{k, v.AsString()})
		}
		return true
	})
	if nameKey != "" && nameKey != attrServiceName {
		// Say where the name came from, as the Collector's exporter does.
		tags = append(tags, [2]string{"zipkin.service_name_source", nameKey})
	}
	return service, tags
}

var kinds = map[ptrace.SpanKind]model.Kind{ptrace.SpanKindClient: model.Client, ptrace.SpanKindServer: model.Server,
	ptrace.SpanKindProducer: model.Producer, ptrace.SpanKindConsumer: model.Consumer}

func mapSpan(b *zipkin.Builder, sp ptrace.Span, service string) {
	tid := sp.TraceID()
	sid, pid := sp.SpanID(), sp.ParentSpanID()
	b.SetIDs(model.TraceID{High: binary.BigEndian.Uint64(tid[:8]), Low: binary.BigEndian.Uint64(tid[8:])},
		binary.BigEndian.Uint64(sid[:]), binary.BigEndian.Uint64(pid[:]))
	b.SetName(sp.Name())
	kind := kinds[sp.Kind()]
	b.SetKind(kind)
	if sp.Kind() == ptrace.SpanKindInternal {
		b.PutTag(tagSpanKind, "internal")
	}
	start, end := uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp())
	var dur int64
	if end > start {
		// Zipkin counts microseconds; a span shorter than one still took time.
		dur = max(int64((end-start)/1000), 1)
	}
	b.SetTiming(int64(start/1000), dur)
	if ts := sp.TraceState().AsRaw(); ts != "" {
		b.PutTag(tagTraceState, ts)
	}

	attrs := sp.Attributes()
	peer := ""
	attrs.Range(func(k string, v pcommon.Value) bool {
		switch k {
		case attrPeerService:
			peer = v.AsString() // the remote endpoint says it
		case tagError:
			// Set from the status below: an "error" attribute on a span
			// that did not fail would mark it failed in Zipkin.
		default:
			b.PutTag(k, v.AsString())
		}
		return true
	})
	b.SetLocal(service, firstIP(attrs, localIPKeys), port(attrs, localPortKeys))
	if peer == "" && (kind == model.Client || kind == model.Producer) {
		peer = first(attrs, remoteServiceKeys)
	}
	b.SetRemote(peer, firstIP(attrs, remoteIPKeys), port(attrs, remotePortKeys))

	switch st := sp.Status(); st.Code() {
	case ptrace.StatusCodeError:
		msg := st.Message()
		b.PutTag(tagStatusCode, "ERROR")
		if msg != "" {
			b.PutTag(tagStatusDescription, msg)
		} else {
			msg = "true"
		}
		b.PutTag(tagError, msg)
	case ptrace.StatusCodeOk:
		b.PutTag(tagStatusCode, "OK")
	}

	evs := sp.Events()
	for i := range evs.Len() {
		ev := evs.At(i)
		ts := int64(uint64(ev.Timestamp()) / 1000)
		if ts == 0 {
			ts = int64(start / 1000)
		}
		v := ev.Name()
		if ev.Attributes().Len() > 0 || ev.DroppedAttributesCount() > 0 {
			v = ev.Name() + "|" + attrsJSON(ev.Attributes()) + "|" + strconv.FormatUint(uint64(ev.DroppedAttributesCount()), 10)
		}
		b.AddAnnotation(ts, v)
	}
	links := sp.Links()
	for i := range links.Len() {
		l := links.At(i)
		b.PutTag(tagLinkPrefix+strconv.Itoa(i), l.TraceID().String()+"|"+l.SpanID().String()+"|"+l.TraceState().AsRaw()+"|"+
			attrsJSON(l.Attributes())+"|"+strconv.FormatUint(uint64(l.DroppedAttributesCount()), 10))
	}
}

// first is the first of keys with a non-empty value.
func first(attrs pcommon.Map, keys []string) string {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			if s := v.AsString(); s != "" {
				return s
			}
		}
	}
	return ""
}

// firstIP is the first of keys that holds an IP address (server.address
// may hold a host name instead).
func firstIP(attrs pcommon.Map, keys []string) string {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			if a, err := netip.ParseAddr(v.AsString()); err == nil {
				return a.String()
			}
		}
	}
	return ""
}

// port is the first of keys that holds a port number.
func port(attrs pcommon.Map, keys []string) uint16 {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			if p, err := strconv.ParseUint(v.AsString(), 10, 16); err == nil && p > 0 {
				return uint16(p)
			}
		}
	}
	return 0
}

func attrsJSON(m pcommon.Map) string {
	b, err := json.Marshal(m.AsRaw())
	if err != nil {
		// NaN or an infinity in a double: keep what can be said.
		return "{}"
	}
	return string(b)
}
