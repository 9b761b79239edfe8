package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/query/promql"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/promapi"
	"github.com/obs-dev/obs/store/remote/queue"
	"github.com/obs-dev/obs/store/remote/remotewrite"
	"github.com/obs-dev/obs/web"
)

// metricsBackend is the storage choice for metrics (metrics.storage):
// where intake writes and where the query side reads.
type metricsBackend struct {
	write  metrics.Writer  // StatsD, carbon, check results, obs.self.*
	read   web.MetricStore // Graphite and Prometheus APIs, checks
	prom   web.PromQL      // nil: the embedded engine over read
	values func(ctx context.Context, expr string, window time.Duration) ([][]float64, error)
	local  *metrics.Store // nil with storage remote
	closer []func() error // in opening order
}

// openMetrics opens the embedded TSDB and/or the forwarder and query
// client of a remote engine, as cfg.Metrics says.
func openMetrics(ctx context.Context, cfg configs.Config, reg prometheus.Registerer, health *web.Health, log *slog.Logger) (*metricsBackend, error) {
	mc := cfg.Metrics
	b := &metricsBackend{}
	var tee metrics.Tee
	if mc.Storage != configs.StorageRemote {
		st, err := metrics.Open(filepath.Join(cfg.Data, "metrics"), metrics.Options{
			Retention: mc.Retention.D(), Logger: log.With("component", "tsdb")})
		if err != nil {
			return nil, err
		}
		b.local = st
		b.closer = append(b.closer, st.Close)
		reg.MustRegister(st.Collectors()...)
		health.Register("metrics_store", func() (string, string) {
			if e := st.Err(); e != "" {
				return web.StatusDegraded, e
			}
			return web.StatusOK, ""
		})
		tee = append(tee, st)
		b.read = st
	}
	if configs.Writes(mc.Storage) {
		r := mc.Remote
		ep := endpoint.Config{Username: r.Username, Password: r.Password, BearerToken: r.BearerToken,
			Headers: r.Headers, Timeout: r.Timeout.D()}
		wcfg := ep
		wcfg.URL = r.WriteURL
		fwd, err := remotewrite.Open(filepath.Join(cfg.Data, "remote", "metrics"), remotewrite.Options{
			Endpoint: wcfg, Queue: queue.Options{MaxBytes: int64(r.QueueMaxSize)},
			UserAgent: "obs/" + versionString(), Log: log.With("component", "remote_write")})
		if err != nil {
			b.close()
			return nil, err
		}
		reg.MustRegister(fwd.Collectors()...)
		health.Register("metrics_remote", fwd.Health)
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); fwd.Run(fctx) }()
		// Stopped after intake's last flush (closers run newest first):
		// the in-memory batch goes to the disk queue for the next run.
		b.closer = append(b.closer, func() error { cancel(); <-done; return fwd.Close() })
		tee = append(tee, fwd)

		qcfg := ep
		qcfg.URL = r.QueryURL
		if configs.ReadsRemote(mc.Storage, r) {
			client, err := promapi.New(qcfg)
			if err != nil {
				b.close()
				return nil, err
			}
			b.read, b.prom, b.values = client, client, client.Values
			log.Info("metrics read from the remote engine", "query", client.String())
		}
	}
	if len(tee) == 1 {
		b.write = tee[0]
	} else {
		b.write = tee
	}
	if b.values == nil {
		b.values = promqlValues(b.local)
	}
	return b, nil
}

func (b *metricsBackend) close() error {
	var first error
	for i := len(b.closer) - 1; i >= 0; i-- {
		if err := b.closer[i](); err != nil && first == nil {
			first = fmt.Errorf("close metrics: %w", err)
		}
	}
	return first
}

// promqlValues runs check queries on the embedded engine.
func promqlValues(st *metrics.Store) func(context.Context, string, time.Duration) ([][]float64, error) {
	return promql.New(st.Queryable()).Values
}
