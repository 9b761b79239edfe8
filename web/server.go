// Package web serves obs's HTTP API: the logs API, live tail over a
// websocket, the services' incident reports, /health and /metrics. It
// owns no data; the stores do.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/alert/incident"
	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/dashboards"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
)

func goVersion() string { return runtime.Version() }

// LogStore is what the logs API needs from the store.
type LogStore interface {
	Search(context.Context, logs.SearchRequest) (logs.SearchResult, error)
	Histogram(context.Context, logs.Matcher, logs.Range, time.Duration) ([]logs.Bucket, int, error)
	Fields(context.Context, logs.Matcher, logs.Range, int, int) ([]logs.FieldStat, error)
	Verify(context.Context) logs.VerifyReport
}

// Deps are the parts the server exposes.
type Deps struct {
	Logs     LogStore
	Tail     *TailHub
	Registry *prometheus.Registry
	Health   *Health
	Log      *slog.Logger
	// LogsIntake is POST /api/logs (ingest/logudp's HTTP handler); nil disables it.
	LogsIntake http.Handler
	// Metrics is the store behind /render, /metrics/find and /api/v1/*
	// (the embedded TSDB or a remote engine); nil disables them.
	Metrics MetricStore
	// PromQL answers /api/v1/query(_range); nil: the embedded engine over Metrics.
	PromQL PromQL
	// MetricsStep is the finest Graphite step: the StatsD flush interval.
	MetricsStep time.Duration
	// Zipkin is the Zipkin API, also served on the main port; nil disables it.
	Zipkin *ZipkinAPI
	// Alerts backs the services, checks and alerts API; nil disables it.
	Alerts *alert.Engine
	// Dashboards backs /api/dashboards; nil disables it.
	Dashboards *dashboards.Store
	// Security is the listener's rule set (host, origin, token).
	Security Security
	// MaxBody bounds POST bodies (413 beyond).
	MaxBody int64
}

// Server is the main HTTP server.
type Server struct {
	d   Deps
	mux *http.ServeMux
}

// New builds the routes.
func New(d Deps) *Server {
	if d.MaxBody <= 0 {
		d.MaxBody = 16 << 20
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{d: d, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/logs/search", s.logsSearch)
	s.mux.HandleFunc("GET /api/logs/histogram", s.logsHistogram)
	s.mux.HandleFunc("GET /api/logs/fields", s.logsFields)
	s.mux.HandleFunc("GET /api/logs/validate", s.logsValidate)
	s.mux.HandleFunc("GET /api/logs/tail", s.logsTail)
	s.mux.HandleFunc("GET /api/admin/verify", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.d.Logs.Verify(r.Context()))
	})
	if d.LogsIntake != nil {
		s.mux.Handle("POST /api/logs", d.LogsIntake)
	}
	// Go's profiles, as Prometheus, VictoriaMetrics and Jaeger serve them,
	// to find where memory or CPU goes in a long-running obs
	// (`go tool pprof http://127.0.0.1:8000/debug/pprof/heap`). GET only,
	// behind the same host check and token as every other read, and never
	// for another site's page: an <img> pointing at a 10-minute CPU
	// profile or trace would cost the developer's machine for nothing.
	for path, h := range map[string]http.HandlerFunc{"/debug/pprof/": pprof.Index, "/debug/pprof/cmdline": pprof.Cmdline,
		"/debug/pprof/profile": pprof.Profile, "/debug/pprof/symbol": pprof.Symbol, "/debug/pprof/trace": pprof.Trace} {
		s.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			if err := sameOrigin(r); err != nil {
				writeErr(w, http.StatusForbidden, err)
				return
			}
			h(w, r)
		})
	}
	s.routeMetrics()
	if d.Zipkin != nil {
		d.Zipkin.Routes(s.mux)
	}
	if d.Alerts != nil {
		AlertRoutes(s.mux, d.Alerts)
		b := &incident.Builder{Services: d.Alerts, Logs: d.Logs}
		if d.Zipkin != nil {
			b.Traces = d.Zipkin.store
		}
		incidentRoute(s.mux, b)
	}
	s.uiRoutes()
	return s
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.d.Security.Wrap(s.mux) }

// Serve runs the server on l until ctx ends, then shuts down gracefully.
// log receives what handlers cannot tell the client (a response that could
// not be encoded). Slow clients are bounded: 10 s to send the headers, 60 s
// to send a body, 64 KiB of headers, and a connection cap under which the
// longest-waiting idle or half-sent connection makes room for a new one.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	guard := newConnGuard(defaultMaxConns())
	h = guard.bodies(60*time.Second, h)
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&loggingWriter{ResponseWriter: w, log: log}, r)
	})
	srv := &http.Server{Handler: wrapped, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ConnState: guard.state, ConnContext: withConn,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	}
}

// loggingWriter carries the server's logger to the helpers that write
// responses; Unwrap keeps http.ResponseController (websocket hijack) working.
type loggingWriter struct {
	http.ResponseWriter
	log *slog.Logger
}

func (w *loggingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func loggerOf(w http.ResponseWriter) *slog.Logger {
	if lw, ok := w.(*loggingWriter); ok {
		return lw.log
	}
	return slog.New(slog.DiscardHandler)
}

// apiError is the JSON error body of every API.
type apiError struct {
	Error    string   `json:"error"`
	Position *int     `json:"position,omitempty"`
	Expected []string `json:"expected,omitempty"`
}

// writeJSON encodes v before anything is sent, so that a value that cannot
// be encoded (invalid raw JSON, NaN) becomes a 500 with a JSON error body and
// a log line instead of an empty 200.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		loggerOf(w).Error("encode API response", "status", code, "err", err)
		b, _ = json.Marshal(apiError{Error: fmt.Sprintf("encode response: %v", err)})
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, code int, err error) {
	body := apiError{Error: err.Error()}
	var se *kql.SyntaxError
	if errors.As(err, &se) {
		body.Position, body.Expected = &se.Pos, se.Expected
	}
	writeJSON(w, code, body)
}

// parseTime reads an absolute (RFC 3339, epoch ms) or relative (now-15m) time.
func parseTime(s string, now time.Time, roundUp bool) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	if !strings.HasPrefix(s, "now") && (strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+")) {
		s = "now" + s
	}
	t, err := kql.ParseDateMath(s, now, roundUp)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339, epoch milliseconds or now-15m", s)
	}
	return t, nil
}

// timeRange reads from/to, or since (a duration back from now, as the
// CLI's --since); default: the last 15 minutes, as Discover. since with
// from is an error rather than one of them silently winning.
func timeRange(r *http.Request, now time.Time) (logs.Range, error) {
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if since := q.Get("since"); since != "" {
		if from != "" {
			return logs.Range{}, fmt.Errorf("since: give since or from, not both")
		}
		d, err := configs.ParseDuration(since)
		if err != nil || d <= 0 {
			return logs.Range{}, fmt.Errorf("since: want a duration such as 15m, 2h or 7d, got %q", since)
		}
		from = strconv.FormatInt(now.Add(-d).UnixMilli(), 10)
	}
	if from == "" {
		from = "now-15m"
	}
	if to == "" {
		to = "now"
	}
	f, err := parseTime(from, now, false)
	if err != nil {
		return logs.Range{}, fmt.Errorf("from: %w", err)
	}
	t, err := parseTime(to, now, true)
	if err != nil {
		return logs.Range{}, fmt.Errorf("to: %w", err)
	}
	if t.Before(f) {
		return logs.Range{}, fmt.Errorf("to (%s) is before from (%s)", t.Format(time.RFC3339), f.Format(time.RFC3339))
	}
	return logs.Range{From: f, To: t}, nil
}
