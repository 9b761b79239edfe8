package otlp

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	traceID = pcommon.TraceID{0x5b, 0x8e, 0xfF, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	spanID  = pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	parent  = pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73}
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// oneSpan is a request with one resource, one scope and one span, set up
// by the callbacks.
func oneSpan(res func(pcommon.Map), span func(ptrace.Span)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "Checkout")
	if res != nil {
		res(rs.Resource().Attributes())
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("io.opentelemetry.http")
	ss.Scope().SetVersion("1.2.0")
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(traceID)
	sp.SetSpanID(spanID)
	sp.SetName("GET /cart")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(1500 * time.Microsecond)))
	if span != nil {
		span(sp)
	}
	return td
}

// zspan is the stored Zipkin v2 JSON, decoded.
type zspan struct {
	TraceID, ID, ParentID, Kind, Name string
	Timestamp, Duration               int64
	LocalEndpoint, RemoteEndpoint     *struct {
		ServiceName, IPv4, IPv6 string
		Port                    int
	}
	Annotations []struct {
		Timestamp int64
		Value     string
	}
	Tags map[string]string
}

func mapOne(t *testing.T, td ptrace.Traces) zspan {
	t.Helper()
	res := spansOf(td)
	if len(res.Spans) != 1 || res.Rejected != 0 {
		t.Fatalf("spans %d, rejected %d (%s)", len(res.Spans), res.Rejected, res.Reason)
	}
	var z zspan
	if err := json.Unmarshal(res.Spans[0].JSON, &z); err != nil {
		t.Fatal(err)
	}
	return z
}

func TestSpanMapping(t *testing.T) {
	z := mapOne(t, oneSpan(func(m pcommon.Map) { m.PutStr("host.name", "box1") }, func(sp ptrace.Span) {
		sp.SetParentSpanID(parent)
		sp.SetKind(ptrace.SpanKindServer)
		sp.Attributes().PutStr("http.request.method", "GET")
		sp.Attributes().PutInt("http.response.status_code", 200)
		sp.Attributes().PutBool("cached", true)
		sp.Attributes().PutDouble("ratio", 0.25)
		sp.Attributes().PutEmptySlice("ids").AppendEmpty().SetInt(7)
		sp.Attributes().PutStr("host.name", "span-wins")
		sp.TraceState().FromRaw("vendor=1")
	}))
	want := zspan{TraceID: "5b8efff798038103d269b633813fc60c", ID: "eee19b7ec3c1b174", ParentID: "eee19b7ec3c1b173",
		Kind: "SERVER", Name: "get /cart", Timestamp: t0.UnixMicro(), Duration: 1500}
	if z.TraceID != want.TraceID || z.ID != want.ID || z.ParentID != want.ParentID || z.Kind != want.Kind ||
		z.Name != want.Name || z.Timestamp != want.Timestamp || z.Duration != want.Duration {
		t.Errorf("got %+v\nwant %+v", z, want)
	}
	if z.LocalEndpoint == nil || z.LocalEndpoint.ServiceName != "checkout" {
		t.Errorf("local endpoint %+v, want service checkout (Zipkin lower-cases names)", z.LocalEndpoint)
	}
	if z.RemoteEndpoint != nil {
		t.Errorf("remote endpoint %+v for a server span without peer attributes", z.RemoteEndpoint)
	}
	for k, v := range map[string]string{"http.request.method": "GET", "http.response.status_code": "200", "cached": "true",
		"ratio": "0.25", "ids": "[7]", "host.name": "span-wins", "otel.scope.name": "io.opentelemetry.http",
		"otel.scope.version": "1.2.0", "w3c.tracestate": "vendor=1"} {
		if z.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, z.Tags[k], v)
		}
	}
	for _, k := range []string{"service.name", "error", "otel.status_code"} {
		if _, ok := z.Tags[k]; ok {
			t.Errorf("tag %s should not be there: %v", k, z.Tags)
		}
	}
}

func TestSpanKinds(t *testing.T) {
	for kind, want := range map[ptrace.SpanKind]string{ptrace.SpanKindClient: "CLIENT", ptrace.SpanKindServer: "SERVER",
		ptrace.SpanKindProducer: "PRODUCER", ptrace.SpanKindConsumer: "CONSUMER", ptrace.SpanKindInternal: "",
		ptrace.SpanKindUnspecified: ""} {
		z := mapOne(t, oneSpan(nil, func(sp ptrace.Span) { sp.SetKind(kind) }))
		if z.Kind != want {
			t.Errorf("%v: kind %q, want %q", kind, z.Kind, want)
		}
		if (kind == ptrace.SpanKindInternal) != (z.Tags["span.kind"] == "internal") {
			t.Errorf("%v: span.kind tag %q", kind, z.Tags["span.kind"])
		}
	}
}

func TestRemoteEndpoint(t *testing.T) {
	type ep struct {
		service, ipv4, ipv6 string
		port                int
	}
	for _, c := range []struct {
		name  string
		kind  ptrace.SpanKind
		attrs map[string]any
		want  *ep
	}{
		{"peer.service names it for any kind", ptrace.SpanKindServer, map[string]any{"peer.service": "Billing"}, &ep{service: "billing"}},
		{"server.address for a client", ptrace.SpanKindClient, map[string]any{"server.address": "recipes.internal", "server.port": 8080}, &ep{service: "recipes.internal", port: 8080}},
		{"peer.service beats server.address", ptrace.SpanKindClient, map[string]any{"server.address": "10.0.0.7", "peer.service": "recipes"}, &ep{service: "recipes", ipv4: "10.0.0.7"}},
		{"old net.peer.* names", ptrace.SpanKindProducer, map[string]any{"net.peer.name": "queue", "net.peer.ip": "192.0.2.1", "net.peer.port": "5672"}, &ep{service: "queue", ipv4: "192.0.2.1", port: 5672}},
		{"network.peer.address v6", ptrace.SpanKindClient, map[string]any{"network.peer.address": "2001:db8::1", "network.peer.port": 443}, &ep{service: "2001:db8::1", ipv6: "2001:db8::1", port: 443}},
		{"a server's peer address is not a service", ptrace.SpanKindServer, map[string]any{"network.peer.address": "192.0.2.9"}, &ep{ipv4: "192.0.2.9"}},
		{"db.name for a client", ptrace.SpanKindClient, map[string]any{"db.system": "postgresql", "db.name": "orders"}, &ep{service: "orders"}},
		{"nothing", ptrace.SpanKindClient, map[string]any{"http.url": "x"}, nil},
	} {
		z := mapOne(t, oneSpan(nil, func(sp ptrace.Span) {
			sp.SetKind(c.kind)
			sp.Attributes().FromRaw(c.attrs)
		}))
		var got *ep
		if r := z.RemoteEndpoint; r != nil {
			got = &ep{r.ServiceName, r.IPv4, r.IPv6, r.Port}
		}
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%s: remote %+v, want %+v", c.name, got, c.want)
		}
		if _, ok := z.Tags["peer.service"]; ok {
			t.Errorf("%s: peer.service kept as a tag besides the endpoint", c.name)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		name       string
		code       ptrace.StatusCode
		msg        string
		errAttr    bool
		wantErr    string // "" absent
		wantStatus string
	}{
		{"error with a message", ptrace.StatusCodeError, "connection refused", false, "connection refused", "ERROR"},
		{"error without one", ptrace.StatusCodeError, "", false, "true", "ERROR"},
		{"ok drops an error attribute", ptrace.StatusCodeOk, "", true, "", "OK"},
		{"unset drops it too", ptrace.StatusCodeUnset, "", true, "", ""},
	} {
		z := mapOne(t, oneSpan(nil, func(sp ptrace.Span) {
			sp.Status().SetCode(c.code)
			sp.Status().SetMessage(c.msg)
			if c.errAttr {
				sp.Attributes().PutBool("error", false)
			}
		}))
		if got, ok := z.Tags["error"]; got != c.wantErr || ok != (c.wantErr != "") {
			t.Errorf("%s: error tag %q (%v), want %q", c.name, got, ok, c.wantErr)
		}
		if z.Tags["otel.status_code"] != c.wantStatus {
			t.Errorf("%s: otel.status_code %q", c.name, z.Tags["otel.status_code"])
		}
		if c.msg != "" && z.Tags["otel.status_description"] != c.msg {
			t.Errorf("%s: otel.status_description %q", c.name, z.Tags["otel.status_description"])
		}
	}
}

func TestEventsAndLinks(t *testing.T) {
	z := mapOne(t, oneSpan(nil, func(sp ptrace.Span) {
		e := sp.Events().AppendEmpty()
		e.SetName("cache miss")
		e.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Millisecond)))
		e = sp.Events().AppendEmpty()
		e.SetName("exception")
		e.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(2 * time.Millisecond)))
		e.Attributes().PutStr("exception.message", "boom")
		e.SetDroppedAttributesCount(2)
		e = sp.Events().AppendEmpty()
		e.SetName("no time") // at the span's start
		l := sp.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID{15: 1})
		l.SetSpanID(pcommon.SpanID{7: 2})
		l.Attributes().PutStr("why", "batch")
	}))
	want := []struct {
		ts int64
		v  string
	}{{t0.UnixMicro(), "no time"}, {t0.UnixMicro() + 1000, "cache miss"}, {t0.UnixMicro() + 2000, `exception|{"exception.message":"boom"}|2`}}
	if len(z.Annotations) != len(want) {
		t.Fatalf("annotations %+v", z.Annotations)
	}
	for i, a := range z.Annotations {
		if a.Timestamp != want[i].ts || a.Value != want[i].v {
			t.Errorf("annotation %d: %+v, want %+v", i, a, want[i])
		}
	}
	if got := z.Tags["otlp.link.0"]; got != `00000000000000000000000000000001|0000000000000002||{"why":"batch"}|0` {
		t.Errorf("link tag %q", got)
	}
}

func TestServiceName(t *testing.T) {
	td := oneSpan(func(m pcommon.Map) { m.Remove("service.name"); m.PutStr("faas.name", "resize") }, nil)
	z := mapOne(t, td)
	if z.LocalEndpoint.ServiceName != "resize" || z.Tags["zipkin.service_name_source"] != "faas.name" {
		t.Errorf("faas.name: %+v %v", z.LocalEndpoint, z.Tags)
	}
	td = oneSpan(func(m pcommon.Map) { m.Remove("service.name") }, nil)
	if z := mapOne(t, td); z.LocalEndpoint.ServiceName != "unknown_service" {
		t.Errorf("no name: %+v", z.LocalEndpoint)
	}
}

func TestTiming(t *testing.T) {
	z := mapOne(t, oneSpan(nil, func(sp ptrace.Span) { sp.SetEndTimestamp(sp.StartTimestamp() + 300) }))
	if z.Duration != 1 {
		t.Errorf("a 300ns span lasts %dµs, want 1 (Zipkin has no shorter)", z.Duration)
	}
	z = mapOne(t, oneSpan(nil, func(sp ptrace.Span) { sp.SetStartTimestamp(0); sp.SetEndTimestamp(0) }))
	if z.Timestamp != 0 || z.Duration != 0 {
		t.Errorf("no times: %d %d", z.Timestamp, z.Duration)
	}
}

// Spans with ids Zipkin cannot store are refused one by one; the rest of
// the request is kept.
func TestInvalidIDs(t *testing.T) {
	td := oneSpan(nil, nil)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	bad := spans.AppendEmpty()
	bad.SetName("zero trace")
	bad.SetSpanID(spanID)
	bad2 := spans.AppendEmpty()
	bad2.SetName("zero span")
	bad2.SetTraceID(traceID)
	res := spansOf(td)
	if len(res.Spans) != 1 || res.Rejected != 2 || !strings.Contains(res.Reason, `"zero trace"`) ||
		!strings.Contains(res.Reason, "trace_id is missing or all zeros") {
		t.Fatalf("%d kept, %d rejected: %s", len(res.Spans), res.Rejected, res.Reason)
	}
}

// A span with more attributes than Zipkin's per-span bound keeps the
// bound and counts the rest.
func TestManyAttributesCut(t *testing.T) {
	td := oneSpan(nil, func(sp ptrace.Span) {
		for i := range 5000 {
			sp.Attributes().PutInt("k"+strconv.Itoa(i), int64(i))
		}
	})
	res := spansOf(td)
	if len(res.Spans) != 1 || res.Cut == 0 {
		t.Fatalf("spans %d, cut %d", len(res.Spans), res.Cut)
	}
	var z zspan
	json.Unmarshal(res.Spans[0].JSON, &z)
	if len(z.Tags) > 1000 {
		t.Errorf("%d tags stored", len(z.Tags))
	}
}
