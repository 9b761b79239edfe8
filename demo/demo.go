// Package demo is `obs demo`: a workload that plays the seed's two services
// — a web-api whose GET / calls a recipe-api — so that every page of obs
// has something to show. It talks to obs only over the wire protocols
// real apps use, both kinds side by side: web-api as the seed's Node app,
// Logstash-style JSON log events over UDP, StatsD over UDP with the
// seed's metric names and Zipkin v2 spans over HTTP from zipkin-go;
// recipe-api as a service instrumented with OpenTelemetry, its server
// spans (children of web-api's calls, one trace), log records and request
// durations over OTLP/HTTP. Trace ids are shared with the log events, and
// a /health endpoint's answer cycles through OK, DEGRADED and DOWN for
// obs's checks (see Services).
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openzipkin/zipkin-go"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinreporter "github.com/openzipkin/zipkin-go/reporter/http"

	"github.com/obs-dev/obs/send"
)

// DefaultHealth is where the demo answers /health, the port of the seed's
// health-check example (and of the README's alerting example).
const DefaultHealth = "127.0.0.1:3300"

// Options say where obs listens and how the workload runs. Zero values
// take the defaults noted.
type Options struct {
	Logs   string // Logstash JSON over UDP, host:port
	StatsD string // StatsD over UDP, host:port
	Zipkin string // Zipkin collector, host:port (spans go to /api/v2/spans)
	OTLP   string // OTLP/HTTP receiver, host:port (recipe-api reports there)
	// Health is where /health listens (DefaultHealth), unless
	// HealthListener is given (a test that holds its port); the demo
	// closes it when it stops.
	Health         string
	HealthListener net.Listener
	// Every is the time between requests to web-api's GET / (500ms).
	Every time.Duration
	// ErrorEvery is the time between requests to GET /error (13s, the
	// seed's `watch -n13 curl http://localhost:3000/error`).
	ErrorEvery time.Duration
	// GaugeEvery is how often the process gauges go out (10s, the seed's).
	GaugeEvery time.Duration
	// Phase is how long each of OK, DEGRADED and DOWN lasts (20s).
	Phase time.Duration
	// Environment is the events' environment field (NODE_ENV):
	// "development".
	Environment string
	// Out gets a line for people at start, at each change of state and
	// at the end; nil for none.
	Out io.Writer
	Log *slog.Logger

	// elapsed starts the cycle this far in (tests start in DOWN).
	elapsed time.Duration
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Every, 500*time.Millisecond)
	def(&o.ErrorEvery, 13*time.Second)
	def(&o.GaugeEvery, 10*time.Second)
	def(&o.Phase, 20*time.Second)
	if o.Health == "" {
		o.Health = DefaultHealth
	}
	if o.Environment == "" {
		o.Environment = "development"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Demo is a running workload.
type Demo struct {
	o         Options
	cycle     cycle
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the load, gauge and announcer loops
	servers   []*http.Server
	serveWG   sync.WaitGroup
	closers   []func() error
	closeOnce sync.Once
	closeErr  error
	rep       reporter.Reporter
	otel      *otlpExporter // recipe-api's
	client    *http.Client  // the load generator's
	web       string        // http://host:port of web-api
	recipe    string
	health    string // http://host:port/health
	conns     atomic.Int64
	logs      atomic.Int64
	reqs      atomic.Int64
	failed    atomic.Int64
}

// Run runs the demo until ctx ends.
func Run(ctx context.Context, o Options) error {
	d, err := Start(o)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return d.Stop()
}

// Start binds the three HTTP listeners (web-api and recipe-api on free
// loopback ports, /health on o.Health) and starts the workload.
func Start(o Options) (d *Demo, err error) {
	o.defaults()
	if o.Logs == "" || o.StatsD == "" || o.Zipkin == "" || o.OTLP == "" {
		return nil, errors.New("demo needs the logs, StatsD, Zipkin and OTLP/HTTP addresses")
	}
	d = &Demo{o: o, cycle: cycle{start: time.Now().Add(-o.elapsed), phase: o.Phase}, client: &http.Client{Timeout: 10 * time.Second}}
	var lns []net.Listener // closed here if Start fails before serving them
	defer func() {
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			d.close()
		}
	}()
	logConn, err := send.Dial("udp", o.Logs)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	d.closers = append(d.closers, logConn.Close)
	statsdConn, err := send.Dial("udp", o.StatsD)
	if err != nil {
		return nil, fmt.Errorf("statsd: %w", err)
	}
	d.closers = append(d.closers, statsdConn.Close)
	spansURL := "http://" + o.Zipkin + "/api/v2/spans"
	d.rep = zipkinreporter.NewReporter(spansURL, zipkinreporter.BatchInterval(time.Second),
		zipkinreporter.Logger(slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug)))

	host, _ := os.Hostname()
	logger := func(app string) logstash {
		return logstash{conn: logConn, app: app, env: o.Environment, host: host, sent: &d.logs, log: o.Log}
	}
	listen := func(what, addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen for %s on %s: %w", what, addr, err)
		}
		lns = append(lns, l)
		return l, nil
	}
	recipeLn, err := listen("recipe-api", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	webLn, err := listen("web-api", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	healthLn := o.HealthListener
	if healthLn == nil {
		if healthLn, err = listen("/health", o.Health); err != nil {
			return nil, fmt.Errorf("%w (--health picks another address; obs serve --demo-health must match)", err)
		}
	} else {
		lns = append(lns, healthLn)
	}
	d.recipe, d.web, d.health = "http://"+recipeLn.Addr().String(), "http://"+webLn.Addr().String(), "http://"+healthLn.Addr().String()+"/health"

	d.otel = newOTLPExporter(o.OTLP, "recipe-api", recipeLn.Addr(), o.Environment, o.Log)
	webTracer, err := tracer(d.rep, "web-api", webLn.Addr())
	if err != nil {
		return nil, err
	}
	state := func() State { s, _ := d.cycle.at(time.Now()); return s }
	recipe := &recipeAPI{otel: d.otel, log: otlpLog{e: d.otel, service: "recipe-api"}, state: state}
	web := &webAPI{tracer: webTracer, log: logger("web-api"), sd: send.StatsD{Conn: statsdConn, Prefix: "web-api"},
		recipeURL: d.recipe, recipeEP: endpoint("recipe-api", recipeLn.Addr()), client: &http.Client{Timeout: 10 * time.Second}}

	d.serve(recipeLn, recipe.handler(), nil)
	d.serve(webLn, web.handler(), func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			d.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			d.conns.Add(-1)
		}
	})
	d.serve(healthLn, healthHandler(d.cycle, time.Now), nil)
	for _, l := range []struct {
		log  eventLog
		addr net.Addr
	}{{recipe.log, recipeLn.Addr()}, {web.log, webLn.Addr()}} {
		a := l.addr.(*net.TCPAddr)
		l.log.send(context.Background(), "verbose", "listen", "listening on "+a.String(), map[string]any{"host": a.IP.String(), "port": a.Port})
	}

	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.loop(ctx, o.Every, func() { d.request(ctx, "/") })
	d.loop(ctx, o.ErrorEvery, func() { d.request(ctx, "/error") })
	d.loop(ctx, o.GaugeEvery, func() { reportRuntime(web.sd, d.conns.Load()) })
	d.loop(ctx, time.Second, func() { d.otel.flush(ctx) })
	d.loop(ctx, o.GaugeEvery, func() { d.otel.exportMetrics(ctx) })
	d.wg.Add(1)
	go d.announce(ctx)

	fmt.Fprintf(o.Out, "obs demo: web-api %s (GET / calls recipe-api %s/recipes/42; GET /error fails)\n", d.web, d.recipe)
	fmt.Fprintf(o.Out, "  web-api: log events to %s (udp), StatsD to %s (udp), spans to %s\n", o.Logs, o.StatsD, spansURL)
	fmt.Fprintf(o.Out, "  recipe-api: spans, log records and metrics over OTLP to http://%s/v1/...\n", o.OTLP)
	fmt.Fprintf(o.Out, "  %s answers OK, DEGRADED, then DOWN, %s each, and again; Ctrl-C stops\n", d.health, o.Phase)
	if c, err := net.DialTimeout("tcp", o.Zipkin, time.Second); err != nil {
		fmt.Fprintf(o.Out, "  nothing answers at %s yet: is `obs serve` running? The demo keeps sending.\n", o.Zipkin)
	} else {
		c.Close()
	}
	return d, nil
}

// tracer reports one service's spans with zipkin-go, 64-bit trace ids as
// the seed's zipkin-lite sends.
func tracer(rep reporter.Reporter, service string, addr net.Addr) (*zipkin.Tracer, error) {
	t, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(endpoint(service, addr)), zipkin.WithSampler(zipkin.AlwaysSample))
	if err != nil {
		return nil, fmt.Errorf("zipkin tracer for %s: %w", service, err)
	}
	return t, nil
}

func endpoint(service string, addr net.Addr) *model.Endpoint {
	a := addr.(*net.TCPAddr)
	return &model.Endpoint{ServiceName: service, IPv4: a.IP, Port: uint16(a.Port)}
}

// serve serves h on l until close; connState, when set, hears of each
// connection's changes (web-api counts its open ones).
func (d *Demo) serve(l net.Listener, h http.Handler, connState func(net.Conn, http.ConnState)) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnState: connState}
	d.servers = append(d.servers, srv)
	d.serveWG.Add(1)
	go func() {
		defer d.serveWG.Done()
		srv.Serve(l)
	}()
}

// loop runs f now and then every period until ctx ends.
func (d *Demo) loop(ctx context.Context, period time.Duration, f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			f()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// request is the seed's load generator (autocannon, watch curl): a client
// that does not trace, so web-api's span is the root of each trace.
func (d *Demo) request(ctx context.Context, path string) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.web+path, nil)
		if err != nil {
			return
		}
		req.Header.Set("User-Agent", "obs-demo")
		resp, err := d.client.Do(req)
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d.reqs.Add(1)
		if resp.StatusCode >= 500 {
			d.failed.Add(1)
		}
	}()
}

// announce says when /health changes its answer.
func (d *Demo) announce(ctx context.Context) {
	defer d.wg.Done()
	for {
		s, end := d.cycle.at(time.Now())
		fmt.Fprintf(d.o.Out, "%s /health %-8s %s\n", time.Now().Format("15:04:05"), s, s.why())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(end)):
		}
	}
}

// WebAPI is web-api's base URL; Health is the /health URL.
func (d *Demo) WebAPI() string { return d.web }
func (d *Demo) Health() string { return d.health }

// Stop ends the workload, serves what is in flight, sends the spans still
// batched and closes every socket.
func (d *Demo) Stop() error {
	d.cancel()
	d.wg.Wait()
	err := d.close()
	fmt.Fprintf(d.o.Out, "obs demo: %d requests (%d failed), %d log events sent over UDP; over OTLP %d spans, %d log records, %d metric exports\n",
		d.reqs.Load(), d.failed.Load(), d.logs.Load(), d.otel.spans.Load(), d.otel.records.Load(), d.otel.exports.Load())
	return err
}

func (d *Demo) close() error {
	d.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var errs []error
		for _, s := range d.servers {
			// The load has stopped; what still runs gets 2 s to finish.
			if s.Shutdown(ctx) != nil {
				errs = append(errs, s.Close())
			}
		}
		d.serveWG.Wait()
		if d.rep != nil {
			errs = append(errs, d.rep.Close())
		}
		if d.otel != nil {
			// What the last requests reported, as an SDK's Shutdown sends it.
			d.otel.flush(ctx)
			d.otel.exportMetrics(ctx)
		}
		for _, c := range d.closers {
			errs = append(errs, c())
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}
