package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The OpenTelemetry Go SDK, unmodified, exporting traces, metrics and logs
// over OTLP/gRPC to obs; each is then found the ways users look: the
// Zipkin API, PromQL by Prometheus's name, KQL by trace_id.
func TestOTLPGoSDKOverGRPC(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "go-shop"), attribute.String("service.namespace", "shop"),
		attribute.String("service.instance.id", "i-7"), attribute.String("deployment.environment.name", "e2e"))

	// Traces: a server span and its client call, which fails.
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.otlpGRPC), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSyncer(texp))
	tracer := tp.Tracer("e2e/checkout")
	sctx, server := tracer.Start(ctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", 502)))
	cctx, client := tracer.Start(sctx, "charge", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("peer.service", "payments"), attribute.String("server.address", "10.1.2.3")))
	client.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	client.SetStatus(codes.Error, "card declined")
	traceID := client.SpanContext().TraceID().String()

	// Logs, emitted inside the client span: they carry its ids.
	lexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(s.otlpGRPC), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)))
	var rec otellog.Record
	rec.SetTimestamp(time.Now())
	rec.SetBody(attribute.StringValue("payment declined for order A-17"))
	rec.SetSeverity(otellog.SeverityError)
	rec.SetSeverityText("ERROR")
	rec.AddAttributes(attribute.String("order.id", "A-17"))
	lp.Logger("e2e/checkout").Emit(cctx, rec)
	client.End()
	server.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("traces export: %v", err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("logs export: %v", err)
	}

	// Metrics: a counter and a histogram; Shutdown exports them.
	mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(s.otlpGRPC), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)))
	meter := mp.Meter("e2e/checkout")
	orders, _ := meter.Int64Counter("orders.placed", metric.WithUnit("{order}"))
	orders.Add(ctx, 3, metric.WithAttributes(attribute.String("payment.method", "card")))
	dur, _ := meter.Float64Histogram("checkout.duration", metric.WithUnit("s"))
	dur.Record(ctx, 0.25)
	dur.Record(ctx, 1.5)
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("metrics export: %v", err)
	}

	// The trace, through the Zipkin API on the Zipkin port.
	zipkinURL := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	var spans []zspan
	if code := s.getJSON(t, zipkinURL, "/api/v2/trace/"+traceID, &spans); code != 200 || len(spans) != 2 {
		t.Fatalf("trace %s: %d, %d spans", traceID, code, len(spans))
	}
	for _, sp := range spans {
		if sp.svc() != "go-shop" || sp.Tags["deployment.environment.name"] != "e2e" || sp.Tags["otel.scope.name"] != "e2e/checkout" {
			t.Errorf("span %s: service %q tags %v", sp.Name, sp.svc(), sp.Tags)
		}
		switch sp.Kind {
		case "CLIENT":
			if sp.RemoteEndpoint["serviceName"] != "payments" || sp.RemoteEndpoint["ipv4"] != "10.1.2.3" || sp.Tags["error"] != "card declined" || sp.Name != "charge" {
				t.Errorf("client span %+v", sp)
			}
		case "SERVER":
			if sp.Name != "post /checkout" || sp.Tags["http.response.status_code"] != "502" || sp.ParentID != "" {
				t.Errorf("server span %+v", sp)
			}
		default:
			t.Errorf("kind %q", sp.Kind)
		}
	}

	// A Zipkin reporter's span in the same trace: one trace.
	zbody := fmt.Sprintf(`[{"traceId":"%s","id":"00000000000000aa","parentId":"%s","name":"authorize","kind":"SERVER","timestamp":%d,"duration":1000,"localEndpoint":{"serviceName":"payments"}}]`,
		traceID, client.SpanContext().SpanID().String(), time.Now().UnixMicro())
	resp, err := http.Post(zipkinURL+"/api/v2/spans", "application/json", bytes.NewReader([]byte(zbody)))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("zipkin post: %v %v", err, resp)
	}
	resp.Body.Close()
	if code := s.getJSON(t, zipkinURL, "/api/v2/trace/"+traceID, &spans); code != 200 || len(spans) != 3 {
		t.Errorf("mixed trace: %d, %d spans", code, len(spans))
	}
	deps := []map[string]any{}
	s.getJSON(t, zipkinURL, fmt.Sprintf("/api/v2/dependencies?endTs=%d&lookback=3600000", time.Now().Add(time.Minute).UnixMilli()), &deps)
	found := false
	for _, d := range deps {
		found = found || d["parent"] == "go-shop" && d["child"] == "payments"
	}
	if !found {
		t.Errorf("dependency go-shop -> payments missing: %v", deps)
	}

	// The metrics, by the names Prometheus gives them.
	for q, want := range map[string]float64{
		`orders_placed_total{job="shop/go-shop",instance="i-7",payment_method="card"}`: 3,
		`checkout_duration_seconds_count{job="shop/go-shop"}`:                          2,
		`checkout_duration_seconds_bucket{job="shop/go-shop",le="+Inf"}`:               2,
		`target_info{job="shop/go-shop",deployment_environment_name="e2e"}`:            1,
	} {
		r := s.promql(t, q)
		if r.Status != "success" || len(r.Data.Result) != 1 || fmt.Sprint(r.Data.Result[0].Value[1]) != fmt.Sprint(want) {
			t.Errorf("%s: %+v, want %v", q, r, want)
		}
	}

	// The log event, by its trace id as the UI's trace page asks, and by
	// service.name.
	evs := s.waitEvents(fmt.Sprintf(`trace_id:"%s"`, traceID), 1)
	ev := evs[0]
	if ev["message"] != "payment declined for order A-17" || ev["service.name"] != "go-shop" || ev["span_id"] != client.SpanContext().SpanID().String() ||
		ev["severity_text"] != "ERROR" || ev["order.id"] != "A-17" {
		t.Errorf("event %v", ev)
	}
	if n := len(s.searchJSON(`service.name:"go-shop" and severity_number >= 17`)); n != 1 {
		t.Errorf("KQL by service.name and severity: %d", n)
	}

	// Counted per signal and transport, and shown by obs status.
	// Two data points: the counter's and the histogram's.
	for sig, want := range map[string]float64{"traces": 2, "logs": 1, "metrics": 2} {
		if n := s.metric(fmt.Sprintf(`obs_otlp_items_total{signal="%s",transport="grpc"}`, sig)); n != want {
			t.Errorf("%s over gRPC: %v, want %v", sig, n, want)
		}
	}
	out, _ := s.obs("status")
	if !strings.Contains(out, "2 spans") || !strings.Contains(out, "1 log records") {
		t.Errorf("obs status: %s", out)
	}
}

// The OpenTelemetry JS SDK from npm (@opentelemetry/sdk-node with the
// OTLP/HTTP exporters, JSON bodies, the traces gzipped) sends all three
// signals; obs's own APIs find them.
func TestOTLPNodeSDKOverHTTP(t *testing.T) {
	s := newServer(t)
	_, port, _ := strings.Cut(s.otlpHTTP, ":")
	cmd := exec.Command("node", "otel-app.js", port)
	cmd.Dir = nodeModules(t)
	cmd.Env = append(os.Environ(), "OTEL_LOG_LEVEL=warn")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node otel-app.js: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	traceID := lines[len(lines)-1]
	if len(lines) > 1 {
		t.Errorf("the SDK complained:\n%s", out)
	}

	var spans []zspan
	if code := s.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d", s.zipkin), "/api/v2/trace/"+traceID, &spans); code != 200 || len(spans) != 2 {
		t.Fatalf("trace %s: %d, %d spans", traceID, code, len(spans))
	}
	for _, sp := range spans {
		if sp.svc() != "node-shop" {
			t.Errorf("span %s of %q", sp.Name, sp.svc())
		}
		if sp.Kind == "CLIENT" && (sp.RemoteEndpoint["serviceName"] != "menu-db" || sp.Tags["error"] != "timeout" || sp.Name != "load menu") {
			t.Errorf("client span %+v", sp)
		}
		if sp.Kind == "SERVER" && (sp.Name != "get /menu" || sp.Tags["http.route"] != "/menu") {
			t.Errorf("server span %+v", sp)
		}
	}
	// The traces UI lists the service.
	if out, err := s.obs("traces", "search", "--service", "node-shop", "-o", "json"); err != nil || !strings.Contains(out, traceID) {
		t.Errorf("obs traces search: %v %s", err, out)
	}

	for q, want := range map[string]string{
		`menu_views_total{job="shop/node-shop",instance="n-1",menu_section="lunch"}`: "5",
		`menu_render_duration_milliseconds_count{job="shop/node-shop"}`:              "1",
		`menu_render_duration_milliseconds_sum{job="shop/node-shop"}`:                "12",
	} {
		r := s.promql(t, q)
		if r.Status != "success" || len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != want {
			t.Errorf("%s: %+v, want %s", q, r, want)
		}
	}

	evs := s.waitEvents(fmt.Sprintf(`trace_id:"%s"`, traceID), 2)
	byMsg := map[string]map[string]any{}
	for _, ev := range evs {
		m, _ := ev["message"].(string)
		if m == "" {
			m, _ = ev["msg"].(string)
		}
		byMsg[m] = ev
	}
	if ev := byMsg["menu is stale"]; ev == nil || ev["severity_text"] != "WARN" || ev["menu.id"] != "m-1" || ev["service.name"] != "node-shop" {
		t.Errorf("string body: %v", evs)
	}
	if ev := byMsg["structured"]; ev == nil || fmt.Sprint(ev["user"]) != "map[id:7]" {
		t.Errorf("map body: %v", evs)
	}
	if n := len(s.searchJSON(`user.id:7 and service.name:"node-shop"`)); n != 1 {
		t.Errorf("KQL on a map body's field: %d", n)
	}
	for sig, want := range map[string]float64{"traces": 2, "logs": 2, "metrics": 2} {
		if n := s.metric(fmt.Sprintf(`obs_otlp_items_total{signal="%s",transport="http"}`, sig)); n != want {
			t.Errorf("%s over HTTP: %v, want %v", sig, n, want)
		}
	}
}

// waitEvents searches until q finds n events: committed events become
// searchable once the store's writer has taken them.
func (s *server) waitEvents(q string, n int) []map[string]any {
	s.t.Helper()
	var evs []map[string]any
	eventually(s.t, 2*time.Minute, func() error {
		if evs = s.searchJSON(q); len(evs) != n {
			return fmt.Errorf("%s: %d events, want %d", q, len(evs), n)
		}
		return nil
	})
	return evs
}

// Bad input against the real binary: each refused with a clear answer,
// counted, and obs goes on serving.
func TestOTLPBadInput(t *testing.T) {
	s := newServer(t)
	post := func(ct string, body []byte, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+s.otlpHTTP+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if h := hdr["Host"]; h != "" {
			req.Host = h
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good, _ := ptraceotlp.NewExportRequestFromTraces(otlpTrace("bad-input", 3)).MarshalProto()
	if code, body := post("application/x-protobuf", good[:len(good)-5], nil); code != 400 || !strings.Contains(body, "cannot decode OTLP traces request") {
		t.Errorf("truncated protobuf: %d %q", code, body)
	}
	if code, _ := post("text/plain", good, nil); code != 415 {
		t.Errorf("text/plain: %d", code)
	}
	if code, _ := post("application/x-protobuf", good, map[string]string{"Host": "evil.example"}); code != 403 {
		t.Errorf("DNS rebinding Host: %d", code)
	}
	// A declared 2 GB body, answered from the headers.
	conn, err := net.Dial("tcp", s.otlpHTTP)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", int64(2)<<30)
	t0 := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	t.Logf("2GB answered in %v", time.Since(t0))
	if err != nil || resp.StatusCode != 413 {
		t.Errorf("2 GB declared: %v %v", err, resp)
	}
	conn.Close()
	// gRPC: an unknown method.
	cc, err := grpc.NewClient(s.otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Invoke(context.Background(), "/opentelemetry.proto.collector.trace.v1.TraceService/Query", &emptypb.Empty{}, &emptypb.Empty{}); status.Code(err) != grpccodes.Unimplemented {
		t.Errorf("unknown method: %v", err)
	}
	for reason, want := range map[string]float64{"decode": 1, "content_type": 1, "too_large": 1} {
		if n := s.metric(fmt.Sprintf(`obs_otlp_requests_refused_total{reason="%s",signal="traces",transport="http"}`, reason)); n != want {
			t.Errorf("%s: %v", reason, n)
		}
	}
	if n := s.metric(`obs_otlp_requests_refused_total{reason="unimplemented",signal="unknown",transport="grpc"}`); n != 1 {
		t.Errorf("unimplemented: %v", n)
	}
	// Still serving: the good request is stored.
	if code, body := post("application/x-protobuf", good, nil); code != 200 {
		t.Fatalf("good request after: %d %q", code, body)
	}
	if out, err := s.obs("traces", "search", "--service", "bad-input", "-o", "json"); err != nil || !strings.Contains(out, "bad-input") {
		t.Errorf("search: %v %s", err, out)
	}
}

// Off loopback the OTLP listeners need the auth token, as SDKs send it
// (authorization: Bearer …); on loopback they do not.
func TestOTLPTokenOffLoopback(t *testing.T) {
	s := newServer(t, "--otlp-http", "0.0.0.0:0", "--otlp-grpc", "0.0.0.0:0", "--auth-token", "e2e-token")
	_, hport, _ := net.SplitHostPort(s.otlpHTTP)
	_, gport, _ := net.SplitHostPort(s.otlpGRPC)
	body, _ := ptraceotlp.NewExportRequestFromTraces(otlpTrace("tok-otlp", 1)).MarshalProto()
	for _, c := range []struct {
		token string
		code  int
	}{{"", 401}, {"wrong", 401}, {"e2e-token", 200}} {
		req, _ := http.NewRequest("POST", "http://127.0.0.1:"+hport+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("HTTP with token %q: %d, want %d", c.token, resp.StatusCode, c.code)
		}
	}
	ctx := context.Background()
	for _, c := range []struct {
		headers map[string]string
		code    grpccodes.Code
	}{{nil, grpccodes.Unauthenticated}, {map[string]string{"authorization": "Bearer e2e-token"}, grpccodes.OK}} {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint("127.0.0.1:"+gport), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithHeaders(c.headers), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}})
		err = exp.ExportSpans(ctx, []sdktrace.ReadOnlySpan{tracetest.SpanStub{Name: "x", SpanContext: sc}.Snapshot()})
		if status.Code(err) != c.code {
			t.Errorf("gRPC with headers %v: %v, want %v", c.headers, err, c.code)
		}
		exp.Shutdown(ctx)
	}
}

// otlpTrace is n spans of one service in one trace.
func otlpTrace(service string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for i := range n {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{0: 0xab, 15: byte(n)})
		sp.SetSpanID(pcommon.SpanID{7: byte(i + 1)})
		sp.SetName(fmt.Sprintf("op-%d", i))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	}
	return td
}
