package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/dashboards"
	"github.com/obs-dev/obs/demo"
	"github.com/obs-dev/obs/ingest/logudp"
	"github.com/obs-dev/obs/ingest/memguard"
	"github.com/obs-dev/obs/ingest/statsd"
	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/query/graphite"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/budget"
	"github.com/obs-dev/obs/store/datadir"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/web"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the obs server: every listener, the stores and the UI",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "YAML config file (see configs/obs.example.yaml)", EnvVars: []string{"OBS_CONFIG"}},
			&cli.StringFlag{Name: "data", Usage: "data directory (default ./obs-data)", EnvVars: []string{"OBS_DATA"}},
			&cli.StringFlag{Name: "http", Usage: "UI and HTTP API address (default 127.0.0.1:8000)", EnvVars: []string{"OBS_HTTP"}},
			&cli.StringFlag{Name: "logs-udp", Usage: "Logstash JSON over UDP, json_lines over TCP (default 127.0.0.1:7777)", EnvVars: []string{"OBS_LOGS_UDP"}},
			&cli.StringFlag{Name: "logs-retention", Usage: "keep logs this long, whole days (default 7d)", EnvVars: []string{"OBS_LOGS_RETENTION"}},
			&cli.StringFlag{Name: "statsd", Usage: "StatsD/DogStatsD, UDP and TCP (default 127.0.0.1:8125)", EnvVars: []string{"OBS_STATSD"}},
			&cli.StringFlag{Name: "flush-interval", Usage: "StatsD flush interval (default 10s)", EnvVars: []string{"OBS_FLUSH_INTERVAL"}},
			&cli.StringFlag{Name: "carbon", Usage: "Graphite plaintext, TCP and UDP (default 127.0.0.1:2003)", EnvVars: []string{"OBS_CARBON"}},
			&cli.StringFlag{Name: "zipkin", Usage: "Zipkin collector and API (default 127.0.0.1:9411)", EnvVars: []string{"OBS_ZIPKIN"}},
			&cli.StringFlag{Name: "otlp-http", Usage: "OpenTelemetry OTLP/HTTP: /v1/traces, /v1/metrics, /v1/logs (default 127.0.0.1:4318; off: none)", EnvVars: []string{"OBS_OTLP_HTTP"}},
			&cli.StringFlag{Name: "otlp-grpc", Usage: "OpenTelemetry OTLP/gRPC (default 127.0.0.1:4317; off: none)", EnvVars: []string{"OBS_OTLP_GRPC"}},
			&cli.StringFlag{Name: "traces-retention", Usage: "keep spans this long, whole days (default 7d)", EnvVars: []string{"OBS_TRACES_RETENTION"}},
			&cli.StringFlag{Name: "metrics-retention", Usage: "keep metrics this long (default 15d)", EnvVars: []string{"OBS_METRICS_RETENTION"}},
			&cli.StringFlag{Name: "metrics-storage", Usage: "where metrics live: embedded, remote (a distributed engine) or both (docs/SCALING.md)", EnvVars: []string{"OBS_METRICS_STORAGE"}},
			&cli.StringFlag{Name: "metrics-remote-write", Usage: "the engine's Prometheus remote-write URL", EnvVars: []string{"OBS_METRICS_REMOTE_WRITE"}},
			&cli.StringFlag{Name: "metrics-remote-query", Usage: "the base URL of the engine's Prometheus query API", EnvVars: []string{"OBS_METRICS_REMOTE_QUERY"}},
			&cli.StringFlag{Name: "traces-storage", Usage: "where spans live: embedded, remote (a distributed engine such as Jaeger) or both (docs/SCALING.md)", EnvVars: []string{"OBS_TRACES_STORAGE"}},
			&cli.StringFlag{Name: "traces-remote-write", Usage: "the engine's Zipkin v2 span URL (Jaeger's zipkin receiver: http://jaeger:9411/api/v2/spans), or an OTLP/HTTP one ending in /v1/traces", EnvVars: []string{"OBS_TRACES_REMOTE_WRITE"}},
			&cli.StringFlag{Name: "traces-remote-query", Usage: "the base URL of the engine's Jaeger query API (http://jaeger:16686)", EnvVars: []string{"OBS_TRACES_REMOTE_QUERY"}},
			&cli.StringFlag{Name: "logs-storage", Usage: "where log events go: embedded, or both (also forwarded to Elasticsearch, OpenSearch or VictoriaLogs by the _bulk API; docs/SCALING.md)", EnvVars: []string{"OBS_LOGS_STORAGE"}},
			&cli.StringFlag{Name: "logs-remote-write", Usage: "the store's _bulk URL (http://es:9200/_bulk, http://vl:9428/insert/elasticsearch/_bulk)", EnvVars: []string{"OBS_LOGS_REMOTE_WRITE"}},
			&cli.StringFlag{Name: "logs-remote-query", Usage: "the store that searches, Discover and log checks read: VictoriaLogs or a vlselect (http://vl:9428), or Elasticsearch/OpenSearch (http://es:9200) with --logs-remote-query-kind elasticsearch", EnvVars: []string{"OBS_LOGS_REMOTE_QUERY"}},
			&cli.StringFlag{Name: "logs-remote-query-kind", Usage: "what --logs-remote-query is: victorialogs (default; KQL compiled to LogsQL) or elasticsearch (Elasticsearch or OpenSearch; KQL compiled to the query DSL)", EnvVars: []string{"OBS_LOGS_REMOTE_QUERY_KIND"}},
			&cli.StringFlag{Name: "logs-index", Usage: "the forwarded events' index, Logstash's way (default nodejs-%{+YYYY.MM.dd})", EnvVars: []string{"OBS_LOGS_INDEX"}},
			&cli.StringFlag{Name: "allowed-hosts", Usage: "comma-separated Host names obs answers to besides IP addresses and localhost (e.g. a reverse proxy's)", EnvVars: []string{"OBS_ALLOWED_HOSTS"}},
			&cli.StringFlag{Name: "zipkin-cors-origins", Usage: "comma-separated origins that may read the Zipkin API cross-origin (\"*\" for any); posting spans is always open, as in Zipkin", EnvVars: []string{"OBS_ZIPKIN_CORS_ORIGINS"}},
			&cli.StringFlag{Name: "auth-token", Usage: "required for the UI and every API; needed when --http is not loopback", EnvVars: []string{"OBS_AUTH_TOKEN"}},
			&cli.StringFlag{Name: "retention-check", Usage: "how often expired logs and spans are removed (default 1m)", EnvVars: []string{"OBS_RETENTION_CHECK"}},
			&cli.StringFlag{Name: "max-memory", Usage: "memory bound, e.g. 1GiB (default 1GiB)", EnvVars: []string{"OBS_MAX_MEMORY"}},
			&cli.StringFlag{Name: "max-disk", Usage: "disk bound for all signals together, e.g. 20GiB; the oldest partitions go first (default: the smaller of 20GiB and 20% of the filesystem)", EnvVars: []string{"OBS_MAX_DISK"}},
			&cli.BoolFlag{Name: "verify", Usage: "check the log store against itself at start-up (as `obs admin verify`); problems are logged and shown on /health", EnvVars: []string{"OBS_VERIFY"}},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"OBS_LOG_LEVEL"}},
			&cli.BoolFlag{Name: "demo", Usage: "also check the services `obs demo` plays (make run sets it)", EnvVars: []string{"OBS_DEMO"}},
			demoHealthFlag("demo-health"),
		},
		Action: runServe,
	}
}

// loadConfig layers defaults, the config file, then flags and env vars.
func loadConfig(c *cli.Context) (configs.Config, error) {
	cfg := configs.Default()
	if p := c.String("config"); p != "" {
		var err error
		if cfg, err = configs.Load(p); err != nil {
			return cfg, err
		}
	}
	if c.IsSet("data") {
		cfg.Data = c.String("data")
	}
	if c.IsSet("http") {
		cfg.HTTP = c.String("http")
	}
	if c.IsSet("logs-udp") {
		cfg.Logs.UDP = c.String("logs-udp")
	}
	if c.IsSet("auth-token") {
		cfg.AuthToken = c.String("auth-token")
	}
	if c.IsSet("allowed-hosts") {
		cfg.AllowedHosts = splitList(c.String("allowed-hosts"))
	}
	if c.IsSet("zipkin-cors-origins") {
		cfg.Zipkin.CORSOrigins = splitList(c.String("zipkin-cors-origins"))
	}
	if c.IsSet("max-memory") {
		n, err := configs.ParseBytes(c.String("max-memory"))
		if err != nil {
			return cfg, fmt.Errorf("--max-memory: %w", err)
		}
		cfg.MaxMemory = configs.Bytes(n)
	}
	if c.IsSet("max-disk") {
		n, err := configs.ParseBytes(c.String("max-disk"))
		if err != nil {
			return cfg, fmt.Errorf("--max-disk: %w", err)
		}
		cfg.MaxDisk = configs.Bytes(n)
	}
	if c.IsSet("statsd") {
		cfg.StatsD.Addr = c.String("statsd")
	}
	if c.IsSet("carbon") {
		cfg.Carbon.Addr = c.String("carbon")
	}
	if c.IsSet("zipkin") {
		cfg.Zipkin.Addr = c.String("zipkin")
	}
	if c.IsSet("otlp-http") {
		cfg.OTLP.HTTP = c.String("otlp-http")
	}
	if c.IsSet("otlp-grpc") {
		cfg.OTLP.GRPC = c.String("otlp-grpc")
	}
	if c.Bool("demo") {
		if err := demo.AddServices(&cfg, c.String("demo-health")); err != nil {
			return cfg, err
		}
	}
	for flag, dst := range map[string]*string{"metrics-storage": &cfg.Metrics.Storage,
		"metrics-remote-write": &cfg.Metrics.Remote.WriteURL, "metrics-remote-query": &cfg.Metrics.Remote.QueryURL,
		"traces-storage": &cfg.Zipkin.Storage, "traces-remote-write": &cfg.Zipkin.Remote.WriteURL,
		"traces-remote-query": &cfg.Zipkin.Remote.QueryURL, "logs-storage": &cfg.Logs.Storage,
		"logs-remote-write": &cfg.Logs.Remote.WriteURL, "logs-remote-query": &cfg.Logs.Remote.QueryURL,
		"logs-remote-query-kind": &cfg.Logs.Remote.QueryKind,
		"logs-index":             &cfg.Logs.Index} {
		if c.IsSet(flag) {
			*dst = c.String(flag)
		}
	}
	if err := configs.ValidateStorage("metrics", cfg.Metrics.Storage, cfg.Metrics.Remote); err != nil {
		return cfg, err
	}
	if err := configs.ValidateStorage("zipkin", cfg.Zipkin.Storage, cfg.Zipkin.Remote); err != nil {
		return cfg, err
	}
	if err := configs.ValidateLogsStorage(cfg.Logs); err != nil {
		return cfg, err
	}
	// Every listener that serves reads needs the token off loopback, and
	// so do OTLP's: telemetry from other machines is not anyone's to send.
	listeners := map[string]string{"--http": cfg.HTTP, "--zipkin": cfg.Zipkin.Addr}
	for flag, addr := range map[string]string{"--otlp-http": cfg.OTLP.HTTP, "--otlp-grpc": cfg.OTLP.GRPC} {
		if addr != configs.Off {
			listeners[flag] = addr
		}
	}
	for flag, addr := range listeners {
		if err := checkExposure(flag, addr, cfg.AuthToken); err != nil {
			return cfg, err
		}
	}
	for flag, dst := range map[string]*configs.Duration{"logs-retention": &cfg.Logs.Retention,
		"flush-interval": &cfg.StatsD.FlushInterval, "metrics-retention": &cfg.Metrics.Retention,
		"traces-retention": &cfg.Zipkin.Retention, "retention-check": &cfg.RetentionCheck} {
		if c.IsSet(flag) {
			d, err := configs.ParseDuration(c.String(flag))
			if err == nil && strings.HasSuffix(flag, "-retention") {
				err = configs.CheckRetention(d)
			}
			if err != nil {
				return cfg, fmt.Errorf("--%s: %w", flag, err)
			}
			*dst = configs.Duration(d)
		}
	}
	return cfg, nil
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func runServe(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c.String("log-level"))
	if err != nil {
		return err
	}
	lock, err := datadir.Acquire(cfg.Data)
	if err != nil {
		return err
	}
	defer lock.Release()
	// The UI's port is bound first: with port 0 (tests), alerts' links need
	// the one the kernel picked.
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", cfg.HTTP, err)
	}
	defer ln.Close()
	if _, port, _ := net.SplitHostPort(cfg.HTTP); port == "0" {
		cfg.HTTP = ln.Addr().String()
	}
	ctx, stop := shutdownContext(log)
	defer stop()
	// stopAll ends the servers' context itself (a start that fails part
	// way has had no signal); the signal handling stays, so that a second
	// signal still exits at once while the stores flush.
	ctx, endServing := context.WithCancel(ctx)
	defer endServing()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	health := web.NewHealth()
	guard := &memguard.Guard{Limit: int64(cfg.MaxMemory), Log: log.With("component", "memguard")}
	guard.Start(ctx)
	reg.MustRegister(guard.Collectors()...)
	health.Register("memory", func() (string, string) {
		if guard.Shedding() {
			return web.StatusDegraded, guard.Detail()
		}
		return web.StatusOK, ""
	})
	tail := web.NewTailHub()

	logStore, err := logs.Open(filepath.Join(cfg.Data, "logs"), logs.Options{
		Retention: cfg.Logs.Retention.D(), RetentionEvery: cfg.RetentionCheck.D(), QueueSize: cfg.Logs.QueueSize, Logger: log.With("component", "logs"),
		// What waits for the writer is a share of the memory bound.
		QueueBytes: max(int64(cfg.MaxMemory)/8, 16<<20),
		CacheBytes: cfg.MemoryShare(16, 8<<20, 64<<20),
		OnAppend:   tail.Publish,
	})
	if err != nil {
		return fmt.Errorf("open logs store: %w", err)
	}
	reg.MustRegister(logStore.Collectors()...)
	health.Register("logs_store", func() (string, string) {
		if e := logStore.Err(); e != "" {
			return web.StatusDegraded, e
		}
		if p := logStore.Problems(); len(p) > 0 {
			return web.StatusDegraded, fmt.Sprintf("%d problem(s) with stored logs, the rest is served: %s", len(p), strings.Join(p, "; "))
		}
		return web.StatusOK, ""
	})

	if c.Bool("verify") {
		verifyLogs(ctx, logStore, health, log)
	}

	logSink, closeForward, err := openLogsForward(ctx, cfg, logStore, reg, health, log)
	if err != nil {
		logStore.Close()
		return err
	}
	logRead, err := openLogsReader(cfg, logStore, log)
	if err != nil {
		closeForward()
		logStore.Close()
		return err
	}

	logMetrics := logudp.NewMetrics(reg)
	bounds := logudp.Bounds{MaxFuture: cfg.Logs.MaxFuture.D(), MaxPast: cfg.Logs.Retention.D()}
	logSrv := &logudp.Server{Addr: cfg.Logs.UDP, Bounds: bounds, Sink: logSink, Log: log.With("component", "logudp"), Metrics: logMetrics,
		Shed: guard.For("logs_udp"), Pause: func(ctx context.Context) { guard.Wait(ctx, "logs_tcp") }}
	if err := logSrv.Start(ctx); err != nil {
		closeForward()
		logStore.Close()
		return err
	}
	reg.MustRegister(logSrv.KernelDropsCollector(), logSrv.ConnsRejectedCollector())

	// Everything opened from here on is closed by stopAll, newest first.
	closers := []func() error{logStore.Close, closeForward, logSrv.Close}
	stopAll := func() error {
		// Servers started so far run until ctx ends, and their closers
		// wait for them: end it first, or a failure to start a later
		// listener (a port in use) hangs here instead of exiting with
		// the error.
		endServing()
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}

	mb, err := openMetrics(ctx, cfg, reg, health, log)
	if err != nil {
		stopAll()
		return err
	}
	closers = append(closers, mb.close)

	agg := statsd.NewAggregator(statsdOptions(cfg.StatsD))
	statsdSrv := &statsd.Server{Addr: cfg.StatsD.Addr, Agg: agg, Sink: mb.write, Events: logSink, Log: log.With("component", "statsd"),
		Shed: guard.For("statsd_udp"), Pause: func(ctx context.Context) { guard.Wait(ctx, "statsd_tcp") }}
	statsdSrv.RegisterMetrics(reg)
	if err := statsdSrv.Start(ctx); err != nil {
		stopAll()
		return err
	}
	closers = append(closers, statsdSrv.Close)

	carbon := &statsd.Carbon{Addr: cfg.Carbon.Addr, Sink: metrics.Appendable(mb.write),
		Shed: guard.For("carbon_udp"), Pause: func(ctx context.Context) { guard.Wait(ctx, "carbon_tcp") }}
	carbon.RegisterMetrics(reg)
	if err := carbon.Start(ctx); err != nil {
		stopAll()
		return err
	}
	closers = append(closers, carbon.Close)

	tb, err := openTraces(ctx, cfg, reg, health, log)
	if err != nil {
		stopAll()
		return err
	}
	closers = append(closers, tb.close)
	zipkinAPI := web.NewZipkinAPI(tb.read, guard.HTTP("zipkin_http", zipkin.NewCollector(tb.sink, cfg.Zipkin.MaxBody, reg, log.With("component", "zipkin"))))
	zipkinMux := http.NewServeMux()
	zipkinAPI.Routes(zipkinMux)
	zln, err := net.Listen("tcp", cfg.Zipkin.Addr)
	if err != nil {
		stopAll()
		return fmt.Errorf("listen zipkin %s: %w", cfg.Zipkin.Addr, err)
	}
	zipkinDone := make(chan error, 1)
	zsec := web.Security{Token: cfg.AuthToken, Loopback: web.IsLoopback(cfg.Zipkin.Addr), AllowedHosts: cfg.AllowedHosts,
		Intake: web.IntakePaths, ReadOrigins: cfg.Zipkin.CORSOrigins}
	go func() { zipkinDone <- web.Serve(ctx, zln, zsec.Wrap(zipkinMux), log) }()
	// Stop the Zipkin listener before the store closes.
	closers = append(closers, func() error { <-zipkinDone; return nil })

	// The log HTTP intake and OTLP share one bound on what requests hold.
	inflight := &memguard.Inflight{Max: max(int64(cfg.MaxMemory)/8, 16<<20)}
	otlpSrv, err := startOTLP(ctx, cfg, otlpDeps{spans: tb.sink, logs: logSink, metrics: mb.write, guard: guard,
		inflight: inflight, reg: reg, health: health, log: log.With("component", "otlp")})
	if err != nil {
		stopAll()
		return err
	}
	// Stopped before the stores close (closers run newest first).
	closers = append(closers, otlpSrv.stop)

	signals := []budget.Signal{budget.Logs(logStore)}
	if mb.local != nil {
		signals = append(signals, budget.Metrics(mb.local))
	}
	if tb.local != nil {
		signals = append(signals, budget.Traces(tb.local))
	}
	startBudget(ctx, cfg, reg, health, log, signals...)

	engine, err := newAlertEngine(cfg, log, logRead, mb)
	if err != nil {
		stopAll()
		return err
	}
	reg.MustRegister(engine.Collectors()...)
	health.Register("alerts", func() (string, string) {
		if e := engine.Err(); e != "" {
			return web.StatusDegraded, e
		}
		return web.StatusOK, ""
	})
	engine.Start(ctx)
	closers = append(closers, func() error { engine.Stop(); return nil })
	go reloadOnHUP(ctx, c, engine, log)

	dashStore, err := dashboards.Open(filepath.Join(cfg.Data, "dashboards"))
	if err != nil {
		stopAll()
		return err
	}
	go web.RecordSelf(ctx, reg, mb.write, 10*time.Second)

	srv := web.New(web.Deps{Logs: logRead, Tail: tail, Registry: reg, Health: health, Log: log,
		LogsIntake: guard.HTTP("logs_http", logudp.HTTPHandler(logSink, logMetrics, logudp.HTTPOptions{
			MaxBody: cfg.Zipkin.MaxBody, Log: log, Bounds: bounds, Inflight: inflight})),
		Metrics: mb.read, PromQL: mb.prom, MetricsStep: cfg.StatsD.FlushInterval.D(), Zipkin: zipkinAPI, MaxBody: cfg.Zipkin.MaxBody, Alerts: engine,
		Dashboards: dashStore, Security: web.Security{Token: cfg.AuthToken, Loopback: web.IsLoopback(cfg.HTTP),
			AllowedHosts: cfg.AllowedHosts, Intake: web.IntakePaths}})
	log.Info("obs serving", "version", versionString(), "http", ln.Addr().String(), "logs", logSrv.UDPAddr().String(),
		"statsd", statsdSrv.UDPAddr().String(), "carbon", carbon.TCPAddr().String(), "zipkin", zln.Addr().String(),
		"otlp_http", otlpSrv.httpAddr, "otlp_grpc", otlpSrv.grpcAddr, "data", cfg.Data)

	httpErr := web.Serve(ctx, ln, srv.Handler(), log)

	// Stop intake first (the StatsD server makes its final flush), then
	// close the stores, which flush what was accepted.
	log.Info("shutting down")
	err = stopAll()
	if httpErr != nil && !errors.Is(httpErr, net.ErrClosed) {
		err = errors.Join(err, httpErr)
	}
	return err
}

func statsdOptions(c configs.StatsDConfig) statsd.Options {
	o := statsd.Options{FlushInterval: c.FlushInterval.D(), PercentThreshold: c.PercentThreshold,
		DeleteIdleStats: c.DeleteIdleStats, DeleteCounters: c.DeleteCounters, DeleteTimers: c.DeleteTimers,
		DeleteGauges: c.DeleteGauges, DeleteSets: c.DeleteSets, MaxSeries: c.MaxSeries}
	for _, h := range c.Histogram {
		o.Histogram = append(o.Histogram, statsd.HistogramConf{Metric: h.Metric, Bins: h.Bins})
	}
	return o
}

// shutdownContext ends on the first SIGINT/SIGTERM; a second one exits at once.
func shutdownContext(log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		log.Info("signal received, flushing; send it again to exit at once", "signal", s.String())
		cancel()
		s = <-sig
		log.Warn("second signal, exiting without flushing", "signal", s.String())
		os.Exit(2)
	}()
	return ctx, func() { signal.Stop(sig); cancel() }
}

func newAlertEngine(cfg configs.Config, log *slog.Logger, logStore logReader, mb *metricsBackend) (*alert.Engine, error) {
	var tw *alert.Twilio
	if cfg.Twilio.AccountSID != "" || cfg.Twilio.AuthToken != "" || cfg.Twilio.From != "" {
		var err error
		if tw, err = alert.NewTwilio(cfg.Twilio.AccountSID, cfg.Twilio.AuthToken, cfg.Twilio.From, cfg.Twilio.APIURL); err != nil {
			return nil, fmt.Errorf("twilio: %w", err)
		}
	}
	fetch := graphite.StoreFetcher{Store: mb.read, BaseStep: int64(cfg.StatsD.FlushInterval.D() / time.Second)}
	e, err := alert.New(alert.Options{
		Config: cfg, DataDir: filepath.Join(cfg.Data, "alerts"), BaseURL: "http://" + cfg.HTTP,
		Metrics: alert.MetricFuncs{
			GraphiteFn: func(ctx context.Context, t string, w time.Duration) ([][]float64, error) {
				return graphite.Values(ctx, fetch, t, w)
			},
			PromQLFn: mb.values,
		},
		Logs: kql.Counter{Store: logStore}, Samples: mb.write, Twilio: tw, Log: log.With("component", "alert"),
	})
	if err != nil {
		return nil, fmt.Errorf("start health checks: %w", err)
	}
	return e, nil
}

// reloadOnHUP re-reads the config file on SIGHUP and swaps the services
// and checks; a config with errors is reported and the old one kept.
func reloadOnHUP(ctx context.Context, c *cli.Context, e *alert.Engine, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := loadConfig(c)
		if err == nil {
			err = e.Reload(ctx, cfg)
		}
		if err != nil {
			log.Error("config reload failed; keeping the running config", "err", err)
			continue
		}
		log.Info("config reloaded", "services", len(cfg.Services))
	}
}

// checkExposure refuses to serve a non-loopback address without a token:
// the UI and APIs would otherwise be open to the network.
func checkExposure(flag, addr, token string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	if token != "" || web.IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%s %s is reachable from other machines: set --auth-token (or auth_token in the config) to serve it", flag, addr)
}

// splitList reads a comma-separated flag value.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// verifyLogs runs the store's self-check in the background: a big store
// takes a while and obs serves meanwhile.
func verifyLogs(ctx context.Context, st *logs.Store, health *web.Health, log *slog.Logger) {
	var found atomic.Pointer[string]
	health.Register("logs_verify", func() (string, string) {
		if p := found.Load(); p != nil {
			return web.StatusDegraded, *p
		}
		return web.StatusOK, ""
	})
	go func() {
		rep := st.Verify(ctx)
		for _, p := range rep.Problems {
			log.Error("logs store verify", "problem", p)
		}
		log.Info("logs store verified", "blocks", rep.Blocks, "events", rep.Events+rep.HeadEvents, "problems", len(rep.Problems))
		if !rep.OK() {
			msg := fmt.Sprintf("logs store verify found %d problems (see the log): %s", len(rep.Problems), rep.Problems[0])
			found.Store(&msg)
		}
	}()
}

// startBudget keeps all signals under --max-disk (default: the smaller of
// 20 GiB and 20% of the filesystem) and the filesystem from filling up.
func startBudget(ctx context.Context, cfg configs.Config, reg *prometheus.Registry, health *web.Health, log *slog.Logger, signals ...budget.Signal) {
	maxDisk := int64(cfg.MaxDisk)
	if maxDisk <= 0 {
		maxDisk = datadir.DefaultMaxDisk(cfg.Data)
	}
	fsSize, _, _ := datadir.FSSize(cfg.Data)
	b := &budget.Budget{Max: maxDisk, Signals: signals, Log: log.With("component", "budget"), FSSize: fsSize,
		Free: func() (int64, error) { _, free, err := datadir.FSSize(cfg.Data); return free, err }}
	reg.MustRegister(b.Collectors()...)
	health.Register("disk", func() (string, string) {
		if p := b.Problem(); p != "" {
			return web.StatusDegraded, p
		}
		return web.StatusOK, ""
	})
	log.Info("disk budget", "max_mib", maxDisk>>20)
	go b.Run(ctx, cfg.RetentionCheck.D())
}
