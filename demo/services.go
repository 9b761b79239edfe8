package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/openzipkin/zipkin-go"
	zipkinhttp "github.com/openzipkin/zipkin-go/middleware/http"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/propagation/b3"

	"github.com/obs-dev/obs/send"
)

// ids are the trace and span ids of the request in ctx (its Zipkin span,
// or its OTLP one), for log events.
func ids(ctx context.Context) (traceID, spanID string) {
	if sp := zipkin.SpanFromContext(ctx); sp != nil {
		return sp.Context().TraceID.String(), sp.Context().ID.String()
	}
	if sp := otlpSpanFrom(ctx); sp != nil {
		return traceIDString(sp.trace), sp.id.String()
	}
	return "", ""
}

// handlerFunc is a route that may fail; route turns a failure into the
// seed's error handler: a request-failure log event and a 500 with
// {"error": message}.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route names the request's Zipkin server span (the seed's
// req.zipkin.setName('get_root'); an OTLP one is named by its route, as
// the HTTP conventions say) and handles a failure.
func route(name string, log eventLog, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sp := zipkin.SpanFromContext(r.Context()); sp != nil {
			sp.SetName(name)
		}
		err := fn(w, r)
		if err == nil {
			return
		}
		failed(r.Context(), err)
		log.send(r.Context(), "error", "request-failure", err.Error(), map[string]any{
			"stack": fmt.Sprintf("Error: %s\n    at %s %s (%s)", err, r.Method, r.URL.Path, log.name()),
			"path":  r.URL.Path, "method": r.Method})
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	})
}

// logIncoming is the seed's access-log middleware: request-incoming with
// path, method, ip and user agent.
func logIncoming(log eventLog, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ua any
		if s := r.UserAgent(); s != "" {
			ua = s
		}
		ip := r.RemoteAddr
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		log.send(r.Context(), "info", "request-incoming", r.Method+" "+r.URL.Path,
			map[string]any{"path": r.URL.Path, "method": r.Method, "ip": ip, "ua": ua})
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// between is a random duration in [lo, hi).
func between(lo, hi time.Duration) time.Duration {
	return lo + rand.N(hi-lo)
}

// recipeAPI is the seed's producer: GET /recipes/:id answers a recipe.
// How it answers follows the health cycle: fast when OK, slow when
// DEGRADED (no cache), a 500 when DOWN (no database). It reports over
// OTLP (otlp.go).
type recipeAPI struct {
	otel  *otlpExporter
	log   eventLog
	state func() State
}

func (a *recipeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /recipes/{id}", route("get_recipe", a.log, a.recipe))
	return a.otel.server(logIncoming(a.log, mux))
}

func (a *recipeAPI) recipe(w http.ResponseWriter, r *http.Request) error {
	var err error
	switch a.state() {
	case OK:
		err = sleep(r.Context(), between(10*time.Millisecond, 40*time.Millisecond))
	case Degraded:
		err = sleep(r.Context(), between(150*time.Millisecond, 400*time.Millisecond))
	case Down:
		if err = sleep(r.Context(), between(2*time.Millisecond, 8*time.Millisecond)); err == nil {
			err = errors.New("database unreachable: connect ECONNREFUSED 127.0.0.1:5432")
		}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"producer_pid": os.Getpid(), "recipe": map[string]any{
		"id": r.PathValue("id"), "name": "Chicken Tikka Masala", "steps": "Marinate, grill, simmer in the sauce.",
		"ingredients": []map[string]any{{"id": 1, "name": "Chicken", "quantity": "1 lb"}, {"id": 2, "name": "Sauce", "quantity": "2 cups"}}}})
	return nil
}

// webAPI is the seed's consumer: GET / fetches recipe 42 from recipe-api,
// GET /error always fails. It reports what the seed's web-api reports.
type webAPI struct {
	tracer    *zipkin.Tracer
	log       logstash
	sd        send.StatsD
	recipeURL string
	recipeEP  *model.Endpoint
	client    *http.Client
}

func (a *webAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", route("get_root", a.log, a.root))
	mux.Handle("GET /error", route("get_error", a.log, func(http.ResponseWriter, *http.Request) error {
		return errors.New("oh no")
	}))
	routes := map[string]bool{"/": true, "/error": true}
	return zipkinhttp.NewServerMiddleware(a.tracer)(expressMetrics(a.sd, routes, logIncoming(a.log, mux)))
}

func (a *webAPI) root(w http.ResponseWriter, r *http.Request) error {
	url := a.recipeURL + "/recipes/42"
	tid, _ := ids(r.Context())
	a.log.send(r.Context(), "info", "request-outgoing", "GET "+url, map[string]any{"url": url, "svc": "recipe-api"})
	begin := time.Now()
	code, body, err := a.getRecipe(r.Context(), url)
	if err != nil {
		return fmt.Errorf("recipe-api: %w", err)
	}
	a.sd.Timing("outbound.recipe-api.request-time", time.Since(begin))
	a.sd.Increment("outbound.recipe-api.request-count", 1)
	var producer any
	if err := json.Unmarshal(body, &producer); err != nil {
		return fmt.Errorf("recipe-api answered %d with no JSON: %w", code, err)
	}
	if code != http.StatusOK {
		msg := fmt.Sprint(producer)
		if m, ok := producer.(map[string]any); ok && m["error"] != nil {
			msg = fmt.Sprint(m["error"])
		}
		return fmt.Errorf("recipe-api answered %d: %s", code, msg)
	}
	writeJSON(w, http.StatusOK, map[string]any{"consumer_pid": os.Getpid(), "producer_data": producer, "trace": tid})
	return nil
}

// getRecipe is the seed's zreq = req.zipkin.prepare() ... zreq.complete():
// a CLIENT span whose B3 headers tell recipe-api to join the trace.
func (a *webAPI) getRecipe(ctx context.Context, url string) (int, []byte, error) {
	sp, ctx := a.tracer.StartSpanFromContext(ctx, "get_recipe", zipkin.Kind(model.Client), zipkin.RemoteEndpoint(a.recipeEP))
	defer sp.Finish()
	zipkin.TagHTTPMethod.Set(sp, http.MethodGet)
	zipkin.TagHTTPPath.Set(sp, "/recipes/42")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if err := b3.InjectHTTP(req)(sp.Context()); err != nil {
		return 0, nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		zipkin.TagError.Set(sp, err.Error())
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	zipkin.TagHTTPStatusCode.Set(sp, fmt.Sprint(resp.StatusCode))
	if resp.StatusCode >= 500 {
		zipkin.TagError.Set(sp, fmt.Sprint(resp.StatusCode))
	}
	return resp.StatusCode, body, err
}
