package otlp

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/metrics"
)

// serveGRPC serves g's receiver over gRPC on a real socket and returns a
// connection to it.
func serveGRPC(t *testing.T, g *rig, o GRPCOptions) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := g.r.GRPCServer(o)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestGRPCExports(t *testing.T) {
	ls, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	ms, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	g := newRig(t, func(o *Options) { o.Logs, o.Metrics = ls, metrics.AppendableV2(ms) })
	conn := serveGRPC(t, g, GRPCOptions{Loopback: true})
	ctx := context.Background()

	td := oneSpan(nil, nil)
	bad := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	bad.SetSpanID(spanID) // no trace id
	resp, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td), grpc.UseCompressor("gzip"))
	if err != nil || resp.PartialSuccess().RejectedSpans() != 1 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "trace_id") {
		t.Fatalf("traces: %v %d %q", err, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	}
	if n := g.stored(zipkinTraceID); n != 1 {
		t.Errorf("%d spans stored", n)
	}

	md, mslice := newMetrics()
	gauge(mslice, "temp", "Cel", 21, t0.AddDate(1, 0, 0)) // a year ahead: dropped
	sum(mslice, "temp.delta", "", true, pmetric.AggregationTemporalityDelta, 1, t0)
	mresp, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
	if err != nil || mresp.PartialSuccess().RejectedDataPoints() != 2 {
		t.Errorf("metrics: %v %d %q", err, mresp.PartialSuccess().RejectedDataPoints(), mresp.PartialSuccess().ErrorMessage())
	}

	if _, err := plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(oneRecord(nil))); err != nil {
		t.Errorf("logs: %v", err)
	}
	for sig, want := range map[string]float64{sigTraces: 1, sigMetrics: 0, sigLogs: 1} {
		if n := g.counter("obs_otlp_items_total", "signal", sig, "transport", "grpc"); n != want {
			t.Errorf("%s items over gRPC: %v, want %v", sig, n, want)
		}
	}
}

// An unknown method is Unimplemented, counted, and the server goes on.
func TestGRPCUnknownMethod(t *testing.T) {
	g := newRig(t, nil)
	conn := serveGRPC(t, g, GRPCOptions{Loopback: true})
	for _, m := range []string{"/opentelemetry.proto.collector.trace.v1.TraceService/Query", "/grpc.health.v1.Health/Check"} {
		err := conn.Invoke(context.Background(), m, &emptypb.Empty{}, &emptypb.Empty{})
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("%s: %v", m, err)
		}
	}
	if n := g.counter("obs_otlp_requests_refused_total", "transport", "grpc", "reason", "unimplemented"); n != 2 {
		t.Errorf("unimplemented counted %v", n)
	}
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(oneSpan(nil, nil))); err != nil {
		t.Errorf("after: %v", err)
	}
}

// A message that is not an ExportTraceServiceRequest (here a string in
// field 1, where resource_spans is a message) is refused and counted.
func TestGRPCMalformed(t *testing.T) {
	g := newRig(t, nil)
	conn := serveGRPC(t, g, GRPCOptions{Loopback: true})
	err := conn.Invoke(context.Background(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		wrapperspb.Int64(-1), &emptypb.Empty{})
	if code := status.Code(err); code == codes.OK || code == codes.Unavailable {
		t.Fatalf("malformed: %v", err)
	}
	if n := g.refusedByEnd(1, "signal", "traces"); n != 1 {
		t.Errorf("counted %v", n)
	}
}

// refusedByEnd reads a gRPC refusal count, waiting up to 5 s for it to
// reach want: a call gRPC refuses itself is counted by the stats handler
// at the call's end, which runs after the status is on its way to the
// client, so the client may see the error first (a CI run under -race did).
func (g *rig) refusedByEnd(want float64, labels ...string) float64 {
	labels = append([]string{"transport", "grpc"}, labels...)
	var n float64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if n = g.counter("obs_otlp_requests_refused_total", labels...); n >= want {
			break
		}
	}
	return n
}

func TestGRPCRefusals(t *testing.T) {
	var shed atomic.Bool
	g := newRig(t, func(o *Options) { o.Shed = shed.Load; o.MaxBody = 64 << 10 })
	conn := serveGRPC(t, g, GRPCOptions{Token: "s3cret", Loopback: false})
	client := ptraceotlp.NewGRPCClient(conn)
	req := ptraceotlp.NewExportRequestFromTraces(oneSpan(nil, nil))
	ctx := context.Background()
	if _, err := client.Export(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v", err)
	}
	bad := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer nope")
	if _, err := client.Export(bad, req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong token: %v", err)
	}
	auth := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer s3cret")
	if _, err := client.Export(auth, req); err != nil {
		t.Errorf("token: %v", err)
	}
	shed.Store(true)
	_, err := client.Export(auth, req)
	st, _ := status.FromError(err)
	retry := false
	for _, d := range st.Details() {
		_, retry = d.(*errdetails.RetryInfo)
	}
	if st.Code() != codes.ResourceExhausted || !retry {
		t.Errorf("shedding: %v, RetryInfo %v", err, retry)
	}
	shed.Store(false)
	big := oneSpan(nil, nil)
	big.ResourceSpans().At(0).Resource().Attributes().PutStr("padding", strings.Repeat("x", 100<<10))
	if _, err := client.Export(auth, ptraceotlp.NewExportRequestFromTraces(big)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("over the limit: %v", err)
	}
	for reason, want := range map[string]float64{"auth": 2, "shed": 1, "too_large": 1} {
		if n := g.refusedByEnd(want, "reason", reason); n != want {
			t.Errorf("%s counted %v, want %v", reason, n, want)
		}
	}
	// A store that is behind: UNAVAILABLE, which SDKs retry.
	g = newRig(t, func(o *Options) { o.Spans = busyStore{} })
	conn = serveGRPC(t, g, GRPCOptions{Loopback: true})
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, req); status.Code(err) != codes.Unavailable {
		t.Errorf("busy: %v", err)
	}
}
