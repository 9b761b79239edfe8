package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/jaegerapi"
	"github.com/obs-dev/obs/store/remote/queue"
	"github.com/obs-dev/obs/store/remote/zipkinfwd"
	"github.com/obs-dev/obs/store/traces"
	"github.com/obs-dev/obs/web"
)

// tracesBackend is the storage choice for spans (zipkin.storage): where
// the Zipkin collector commits and where the Zipkin API reads.
type tracesBackend struct {
	sink   zipkin.Committer
	read   web.TraceReader
	local  *traces.Store  // nil with storage remote
	closer []func() error // in opening order
}

// openTraces opens the embedded span store and/or the forwarder and
// query client of a remote engine, as cfg.Zipkin says.
func openTraces(ctx context.Context, cfg configs.Config, reg prometheus.Registerer, health *web.Health, log *slog.Logger) (*tracesBackend, error) {
	zc := cfg.Zipkin
	b := &tracesBackend{}
	if zc.Storage != configs.StorageRemote {
		st, err := traces.Open(filepath.Join(cfg.Data, "traces"), traces.Options{Retention: zc.Retention.D(),
			RetentionEvery: cfg.RetentionCheck.D(), Logger: log.With("component", "traces"),
			CacheBytes: int(cfg.MemoryShare(128, 4<<20, 16<<20))})
		if err != nil {
			return nil, fmt.Errorf("open traces store: %w", err)
		}
		b.local = st
		b.closer = append(b.closer, st.Close)
		reg.MustRegister(st.Collectors()...)
		health.Register("traces_store", func() (string, string) {
			if e := st.Err(); e != "" {
				return web.StatusDegraded, e
			}
			return web.StatusOK, ""
		})
		b.sink, b.read = st, web.EmbeddedTraces(st)
	}
	if !configs.Writes(zc.Storage) {
		return b, nil
	}
	r := zc.Remote
	ep := endpoint.Config{Username: r.Username, Password: r.Password, BearerToken: r.BearerToken,
		Headers: r.Headers, Timeout: r.Timeout.D()}
	wcfg := ep
	wcfg.URL = r.WriteURL
	fwd, err := zipkinfwd.Open(filepath.Join(cfg.Data, "remote", "traces"), zipkinfwd.Options{
		Endpoint: wcfg, Queue: queue.Options{MaxBytes: int64(r.QueueMaxSize)},
		UserAgent: "obs/" + versionString(), Log: log.With("component", "traces_remote")})
	if err != nil {
		b.close()
		return nil, err
	}
	reg.MustRegister(fwd.Collectors()...)
	health.Register("traces_remote", fwd.Health)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fwd.Run(fctx) }()
	// Stopped after the Zipkin listener (closers run newest first).
	b.closer = append(b.closer, func() error { cancel(); <-done; return fwd.Close() })
	if b.sink == nil {
		b.sink = fwd
	} else {
		b.sink = teeSpans{b.local, fwd}
	}
	if configs.ReadsRemote(zc.Storage, r) {
		qcfg := ep
		qcfg.URL = r.QueryURL
		client, err := jaegerapi.New(qcfg)
		if err != nil {
			b.close()
			return nil, err
		}
		b.read = client
		log.Info("traces read from the remote engine", "query", client.String())
	}
	return b, nil
}

// teeSpans commits to the embedded store first: when it refuses (busy),
// nothing is forwarded and the client's retry sends the spans once to
// both.
type teeSpans struct {
	local *traces.Store
	fwd   *zipkinfwd.Forwarder
}

func (t teeSpans) Commit(ctx context.Context, spans []traces.Span) error {
	if err := t.local.Commit(ctx, spans); err != nil {
		return err
	}
	return t.fwd.Commit(ctx, spans)
}

func (b *tracesBackend) close() error {
	var first error
	for i := len(b.closer) - 1; i >= 0; i-- {
		if err := b.closer[i](); err != nil && first == nil {
			first = fmt.Errorf("close traces: %w", err)
		}
	}
	return first
}
