package otlp

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTEL_EXPORTER_OTLP_COMPRESSION=gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"
)

// GRPCOptions configure the OTLP/gRPC server.
type GRPCOptions struct {
	// Token, when set and Loopback is false, must come with every call as
	// "authorization: Bearer <token>" metadata, which OTel SDKs send from
	// OTEL_EXPORTER_OTLP_HEADERS. A loopback listener takes local apps'
	// telemetry without it, as the HTTP intakes do.
	Token    string
	Loopback bool
}

// GRPCServer is OTLP/gRPC: the trace, metrics and logs Export services
// (any other method is Unimplemented, as gRPC answers). Calls are refused
// RESOURCE_EXHAUSTED with a RetryInfo while obs sheds (SDKs retry that,
// and only with RetryInfo), UNAVAILABLE while a store is behind.
func (r *Receiver) GRPCServer(o GRPCOptions) *grpc.Server {
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(min(r.o.MaxBody, 1<<31-1))),
		grpc.InTapHandle(r.tap(o)), // before the message is read or decoded
		grpc.StatsHandler(grpcCounter{r}),
		grpc.UnknownServiceHandler(r.unknownMethod),
	)
	ptraceotlp.RegisterGRPCServer(s, &traceService{r: r})
	pmetricotlp.RegisterGRPCServer(s, &metricsService{r: r})
	plogotlp.RegisterGRPCServer(s, &logsService{r: r})
	return s
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s traceService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	resp, err := s.r.exportTraces(ctx, req, transportGRPC)
	return resp, grpcError(err)
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s metricsService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	resp, err := s.r.exportMetrics(ctx, req, transportGRPC)
	return resp, grpcError(err)
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s logsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	resp, err := s.r.exportLogs(ctx, req, transportGRPC)
	return resp, grpcError(err)
}

// grpcError is a store's refusal as a gRPC status: behind is UNAVAILABLE
// (retryable), anything else INTERNAL.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	var f *failure
	if errors.As(err, &f) && f.reason == "busy" {
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// retryLater is the memory guard's answer: RESOURCE_EXHAUSTED with the
// RetryInfo OTLP clients need to retry it.
func retryLater() error {
	st := status.New(codes.ResourceExhausted, "obs is shedding input at its memory bound, retry")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}); err == nil {
		st = d
	}
	return st.Err()
}

// tap checks a call before its message is read: the token off loopback,
// then the memory guard.
func (r *Receiver) tap(o GRPCOptions) tap.ServerInHandle {
	return func(ctx context.Context, h *tap.Info) (context.Context, error) {
		// Refusals here end no call the stats handler sees: counted here.
		if o.Token != "" && !o.Loopback && !bearerOK(h.Header, o.Token) {
			r.refuse(signalOf(h.FullMethodName), transportGRPC, "auth")
			return ctx, status.Error(codes.Unauthenticated, "this obs needs its auth token: send authorization: Bearer <token> (OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>)")
		}
		if r.o.Shed != nil && r.o.Shed() {
			r.refuse(signalOf(h.FullMethodName), transportGRPC, "shed")
			return ctx, retryLater()
		}
		return ctx, nil
	}
}

// unknownMethod answers any other method, as gRPC would, and counts it.
func (r *Receiver) unknownMethod(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	r.refuse("unknown", transportGRPC, "unimplemented")
	return status.Errorf(codes.Unimplemented, "unknown method %s: obs serves the OTLP trace, metrics and logs Export services", method)
}

func bearerOK(md metadata.MD, token string) bool {
	for _, v := range md.Get("authorization") {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok && subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return true
		}
	}
	return false
}

// grpcCounter counts refused gRPC calls: gRPC itself refuses some before
// any of the receiver's code runs (a message that does not decode, one
// over the size limit, an unknown method), so they are counted from the
// call's end, by the status code.
type grpcCounter struct{ r *Receiver }

type methodKey struct{}

func (grpcCounter) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, methodKey{}, info.FullMethodName)
}

func (c grpcCounter) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok || end.Error == nil {
		return
	}
	method, _ := ctx.Value(methodKey{}).(string)
	st, _ := status.FromError(end.Error)
	if st.Code() != codes.Unimplemented { // unknownMethod counted it
		c.r.refuse(signalOf(method), transportGRPC, grpcReason(st))
	}
}

func (grpcCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (grpcCounter) HandleConn(context.Context, stats.ConnStats)                       {}

func signalOf(method string) string {
	switch method {
	case "/opentelemetry.proto.collector.trace.v1.TraceService/Export":
		return sigTraces
	case "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export":
		return sigMetrics
	case "/opentelemetry.proto.collector.logs.v1.LogsService/Export":
		return sigLogs
	}
	return "unknown"
}

// grpcReason names a refusal as the HTTP side's counters do.
func grpcReason(st *status.Status) string {
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		return "busy"
	case codes.ResourceExhausted:
		if strings.Contains(msg, "larger than max") {
			return "too_large"
		}
		return "shed"
	case codes.Unauthenticated:
		return "auth"
	case codes.Internal:
		if strings.Contains(msg, "unmarshal") || strings.Contains(msg, "decompress") {
			return "decode"
		}
		return "store"
	case codes.Canceled, codes.DeadlineExceeded:
		return "canceled"
	}
	return "decode"
}
