package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/esbulk"
	"github.com/obs-dev/obs/store/remote/esread"
	"github.com/obs-dev/obs/store/remote/queue"
	"github.com/obs-dev/obs/store/remote/vlogs"
	"github.com/obs-dev/obs/web"
)

// logSink is what every log intake writes to: the store, or the store and
// the _bulk forwarder (logs.storage both).
type logSink interface {
	TryAppend([]logs.Entry) bool
	Append(context.Context, []logs.Entry) error
	Commit(context.Context, []logs.Entry) error
}

// openLogsForward starts the _bulk forwarder when logs.storage is both and
// returns the sink the intakes use and the forwarder's closer (a no-op
// when nothing is forwarded).
func openLogsForward(ctx context.Context, cfg configs.Config, store *logs.Store, reg prometheus.Registerer, health *web.Health, log *slog.Logger) (logSink, func() error, error) {
	if cfg.Logs.Storage != configs.StorageBoth {
		return store, func() error { return nil }, nil
	}
	r := cfg.Logs.Remote
	fwd, err := esbulk.Open(filepath.Join(cfg.Data, "remote", "logs"), esbulk.Options{
		Endpoint: endpoint.Config{URL: r.WriteURL, Username: r.Username, Password: r.Password, BearerToken: r.BearerToken,
			Headers: r.Headers, Timeout: r.Timeout.D()},
		Index: cfg.Logs.Index, Queue: queue.Options{MaxBytes: int64(r.QueueMaxSize)},
		UserAgent: "obs/" + versionString(), Log: log.With("component", "logs_remote")})
	if err != nil {
		return nil, nil, fmt.Errorf("logs.remote: %w", err)
	}
	reg.MustRegister(fwd.Collectors()...)
	health.Register("logs_remote", fwd.Health)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fwd.Run(fctx) }()
	return teeLogs{store, fwd}, func() error { cancel(); <-done; return fwd.Close() }, nil
}

// teeLogs stores first: when the store refuses (busy), nothing is
// forwarded and the sender's retry (HTTP 503, TCP backpressure) sends the
// events once to both. UDP events the store drops are not forwarded
// either, so both hold the same events.
type teeLogs struct {
	store *logs.Store
	fwd   *esbulk.Forwarder
}

func (t teeLogs) TryAppend(entries []logs.Entry) bool {
	if !t.store.TryAppend(entries) {
		return false
	}
	t.fwd.TryAppend(entries) // a queue failure is counted by the forwarder
	return true
}

func (t teeLogs) Append(ctx context.Context, entries []logs.Entry) error {
	if err := t.store.Append(ctx, entries); err != nil {
		return err
	}
	return t.fwd.Append(ctx, entries)
}

func (t teeLogs) Commit(ctx context.Context, entries []logs.Entry) error {
	if err := t.store.Commit(ctx, entries); err != nil {
		return err
	}
	return t.fwd.Commit(ctx, entries)
}

// logReader is what searches, Discover and log checks read.
type logReader interface {
	web.LogStore
	CountMatches(context.Context, logs.Matcher, logs.Range) (int, error)
}

// openLogsReader is the store searches read: VictoriaLogs, or
// Elasticsearch/OpenSearch with query_kind elasticsearch, when
// logs.remote.query_url is set (and read is not embedded), else obs's own.
func openLogsReader(cfg configs.Config, store *logs.Store, log *slog.Logger) (logReader, error) {
	r := cfg.Logs.Remote
	if cfg.Logs.Storage != configs.StorageBoth || r.QueryURL == "" || r.Read == configs.StorageEmbedded {
		return store, nil
	}
	ep := endpoint.Config{URL: r.QueryURL, Username: r.Username, Password: r.Password,
		BearerToken: r.BearerToken, Headers: r.Headers, Timeout: r.Timeout.D()}
	if r.QueryKind == configs.QueryElasticsearch {
		index := r.QueryIndex
		if index == "" {
			index = esread.IndexPattern(cfg.Logs.Index)
		}
		es, err := esread.New(ep, esread.Options{Index: index})
		if err != nil {
			return nil, fmt.Errorf("logs.remote.query_url: %w", err)
		}
		log.Info("logs read from Elasticsearch/OpenSearch", "query", es.String())
		return es, nil
	}
	vl, err := vlogs.New(ep)
	if err != nil {
		return nil, fmt.Errorf("logs.remote.query_url: %w", err)
	}
	log.Info("logs read from VictoriaLogs", "query", vl.String())
	return vl, nil
}
