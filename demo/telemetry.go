package demo

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/obs-dev/obs/send"
)

// eventLog is where a service's log events go: the seed's Logstash UDP
// (web-api) or OTLP log records (recipe-api).
type eventLog interface {
	// send logs one of the seed's events: its severity, its type, a line
	// for people and its fields; ctx holds the request's span, whose ids
	// the event carries.
	send(ctx context.Context, severity, typ, msg string, fields map[string]any)
	// name is the service's (the seed's app field, OTel's service.name).
	name() string
}

// logstash sends the seed's log events (its logstash.js): one JSON object
// per UDP datagram with @timestamp, @version, app, environment, severity,
// type, fields and host; the demo adds the Zipkin traceId and spanId so
// that a log event leads to its trace.
type logstash struct {
	conn *send.Conn
	app  string
	env  string
	host string
	sent *atomic.Int64
	log  *slog.Logger
}

type event struct {
	Timestamp   string         `json:"@timestamp"`
	Version     int            `json:"@version"`
	App         string         `json:"app"`
	Environment string         `json:"environment"`
	Severity    string         `json:"severity"`
	Type        string         `json:"type"`
	Fields      map[string]any `json:"fields"`
	Host        string         `json:"host"`
	TraceID     string         `json:"traceId,omitempty"`
	SpanID      string         `json:"spanId,omitempty"`
}

func (l logstash) name() string { return l.app }

// send ignores msg: the seed's events have no message, their type and
// fields say what happened.
func (l logstash) send(ctx context.Context, severity, typ, _ string, fields map[string]any) {
	traceID, spanID := ids(ctx)
	b, err := json.Marshal(event{Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), Version: 1, App: l.app,
		Environment: l.env, Severity: severity, Type: typ, Fields: fields, Host: l.host, TraceID: traceID, SpanID: spanID})
	if err == nil {
		err = l.conn.Send(b)
	}
	if err != nil {
		// UDP to a port nobody reads fails on a later write: obs is not
		// running (yet). Say so and go on, as a UDP logger does.
		l.log.Debug("log event not sent", "err", err)
		return
	}
	l.sent.Add(1)
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// routeName is how statsd-client's Express middleware names a route:
// the method, "_", and the path without its slashes ("/" is "root").
func routeName(method, path string) string {
	p := strings.Trim(path, "/")
	if p == "" {
		p = "root"
	}
	return method + "_" + strings.ReplaceAll(strings.ReplaceAll(p, ":", ""), "/", "_")
}

// expressMetrics is statsd-client's getExpressMiddleware('inbound',
// {timeByUrl: true}) as the seed's web-api mounts it: for each response
// inbound.response_code.<route>.<code>, inbound.response_code.<code> and
// the timer inbound.response_time.<route>. Paths without a route are
// unknown_express_route, as in Express.
func expressMetrics(sd send.StatsD, routes map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		route := "unknown_express_route"
		if routes[r.URL.Path] {
			route = routeName(r.Method, r.URL.Path)
		}
		code := strconv.Itoa(sw.code)
		sd.Increment("inbound.response_code."+route+"."+code, 1)
		sd.Increment("inbound.response_code."+code, 1)
		sd.Timing("inbound.response_time."+route, time.Since(begin))
	})
}
