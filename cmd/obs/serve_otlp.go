package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/ingest/memguard"
	"github.com/obs-dev/obs/ingest/otlp"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/web"
)

// otlpDeps are what the OpenTelemetry receiver writes to and answers by.
type otlpDeps struct {
	spans    otlp.SpanCommitter
	logs     otlp.LogCommitter
	metrics  metrics.Writer
	guard    *memguard.Guard
	inflight *memguard.Inflight
	reg      prometheus.Registerer
	health   *web.Health
	log      *slog.Logger
}

// otlpServer is the receiver's two listeners; an address is "off" for
// one that is.
type otlpServer struct {
	httpAddr, grpcAddr string
	stop               func() error
}

// startOTLP opens --otlp-http and --otlp-grpc. Both stop when ctx ends;
// stop waits for that.
func startOTLP(ctx context.Context, cfg configs.Config, d otlpDeps) (*otlpServer, error) {
	r := otlp.New(otlp.Options{Spans: d.spans, Logs: d.logs, Metrics: metrics.AppendableV2(d.metrics),
		MaxBody: cfg.Zipkin.MaxBody, Inflight: d.inflight, Shed: d.guard.For("otlp_grpc"),
		MaxFuture: cfg.Logs.MaxFuture.D(), MaxPast: cfg.Logs.Retention.D(), MetricsMaxAge: cfg.Metrics.Retention.D(),
		Log: d.log, Registerer: d.reg})
	d.health.Register("otlp", func() (string, string) { return web.StatusOK, otlpDetail(r.Totals()) })
	s := &otlpServer{httpAddr: configs.Off, grpcAddr: configs.Off}
	var waits []func()
	s.stop = func() error {
		for _, w := range waits {
			w()
		}
		return nil
	}
	if cfg.OTLP.HTTP != configs.Off {
		ln, err := net.Listen("tcp", cfg.OTLP.HTTP)
		if err != nil {
			return nil, fmt.Errorf("listen otlp http %s: %w", cfg.OTLP.HTTP, err)
		}
		sec := web.Security{Token: cfg.AuthToken, Loopback: web.IsLoopback(cfg.OTLP.HTTP), AllowedHosts: cfg.AllowedHosts,
			Intake: web.OTLPIntakePaths}
		done := make(chan error, 1)
		go func() { done <- web.Serve(ctx, ln, sec.Wrap(d.guard.HTTP("otlp_http", r.Handler())), d.log) }()
		waits = append(waits, func() { <-done })
		s.httpAddr = ln.Addr().String()
	}
	if cfg.OTLP.GRPC != configs.Off {
		ln, err := net.Listen("tcp", cfg.OTLP.GRPC)
		if err != nil {
			// The HTTP listener, if any, stops with ctx.
			return nil, fmt.Errorf("listen otlp grpc %s: %w", cfg.OTLP.GRPC, err)
		}
		srv := r.GRPCServer(otlp.GRPCOptions{Token: cfg.AuthToken, Loopback: web.IsLoopback(cfg.OTLP.GRPC)})
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				d.log.Error("otlp grpc", "err", err)
			}
		}()
		go func() {
			<-ctx.Done()
			// Calls in flight finish (their data is committed) unless a
			// client holds its stream open past the grace period.
			t := time.AfterFunc(5*time.Second, srv.Stop)
			srv.GracefulStop()
			t.Stop()
		}()
		waits = append(waits, func() { <-done })
		s.grpcAddr = ln.Addr().String()
	}
	return s, nil
}

// otlpDetail is what came in over OTLP, for /health and `obs status`.
func otlpDetail(t map[string]otlp.Totals) string {
	out := ""
	for _, sig := range []struct{ key, items string }{{"traces", "spans"}, {"metrics", "data points"}, {"logs", "log records"}} {
		c := t[sig.key]
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", c.Stored, sig.items)
		if c.Rejected > 0 {
			out += fmt.Sprintf(" (%d rejected)", c.Rejected)
		}
	}
	return out + " received"
}
