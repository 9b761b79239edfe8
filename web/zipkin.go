package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/traces"
)

// TraceReader is where the Zipkin API reads spans from: the embedded
// store (EmbeddedTraces) or a remote engine (store/remote/jaegerapi).
// Spans are Zipkin v2 JSON. An error that has an HTTPStatus() method
// (an engine that cannot be reached: 503) is answered with that status.
type TraceReader interface {
	Services(ctx context.Context) ([]string, error)
	SpanNames(ctx context.Context, service string) ([]string, error)
	RemoteServices(ctx context.Context, service string) ([]string, error)
	Search(ctx context.Context, q traces.Query) ([][]json.RawMessage, error)
	// Trace is nil when no span of the trace is known.
	Trace(ctx context.Context, id model.TraceID) ([]json.RawMessage, error)
	Dependencies(ctx context.Context, endTs, lookback int64) ([]traces.DependencyLink, error)
	TagKeys(ctx context.Context) ([]string, error)
	TagValues(ctx context.Context, key string) ([]string, error)
}

// EmbeddedTraces reads the embedded span store.
func EmbeddedTraces(st *traces.Store) TraceReader { return embeddedTraces{st} }

type embeddedTraces struct{ st *traces.Store }

func (e embeddedTraces) Services(context.Context) ([]string, error) { return e.st.Services(), nil }
func (e embeddedTraces) SpanNames(_ context.Context, svc string) ([]string, error) {
	return e.st.SpanNames(svc), nil
}
func (e embeddedTraces) RemoteServices(_ context.Context, svc string) ([]string, error) {
	return e.st.RemoteServices(svc), nil
}
func (e embeddedTraces) Search(_ context.Context, q traces.Query) ([][]json.RawMessage, error) {
	return e.st.Search(q)
}
func (e embeddedTraces) Trace(_ context.Context, id model.TraceID) ([]json.RawMessage, error) {
	return e.st.Trace(id)
}
func (e embeddedTraces) Dependencies(_ context.Context, endTs, lookback int64) ([]traces.DependencyLink, error) {
	return e.st.Dependencies(endTs, lookback), nil
}
func (e embeddedTraces) TagKeys(context.Context) ([]string, error) { return e.st.TagKeys(), nil }
func (e embeddedTraces) TagValues(_ context.Context, k string) ([]string, error) {
	return e.st.TagValues(k), nil
}

// ZipkinAPI is Zipkin's query API v2 (zipkin2-api.yaml, as
// ZipkinQueryApiV2 answers it), with the collector (ingest/zipkin)
// mounted beside it.
type ZipkinAPI struct {
	store     TraceReader
	collector http.Handler
}

// NewZipkinAPI builds the API over st; collector, when not nil, serves
// POST /api/v2/spans and /api/v1/spans.
func NewZipkinAPI(st TraceReader, collector http.Handler) *ZipkinAPI {
	return &ZipkinAPI{store: st, collector: collector}
}

// readErr answers a failed read: the status the reader gives (an engine
// down is 503, so that the UI and `obs traces` say so), else 500.
func readErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		code = hs.HTTPStatus()
	}
	http.Error(w, err.Error(), code)
}

// answer writes v, or the error.
func answer[T any](w http.ResponseWriter, v T, err error) {
	if err != nil {
		readErr(w, err)
		return
	}
	writeJSON(w, 200, v)
}

// Routes registers the Zipkin API on mux; obs serves it on the main port
// and on its own Zipkin port.
func (z *ZipkinAPI) Routes(mux *http.ServeMux) {
	st := z.store
	if z.collector != nil {
		mux.Handle("POST /api/v2/spans", z.collector)
		mux.Handle("POST /api/v1/spans", z.collector)
	}
	mux.HandleFunc("GET /api/v2/services", func(w http.ResponseWriter, r *http.Request) {
		v, err := st.Services(r.Context())
		answer(w, v, err)
	})
	mux.HandleFunc("GET /api/v2/spans", z.needService(st.SpanNames))
	mux.HandleFunc("GET /api/v2/remoteServices", z.needService(st.RemoteServices))
	mux.HandleFunc("GET /api/v2/traces", z.traces)
	mux.HandleFunc("GET /api/v2/trace/{traceId}", z.trace)
	mux.HandleFunc("GET /api/v2/traceMany", z.traceMany)
	mux.HandleFunc("GET /api/v2/dependencies", z.dependencies)
	mux.HandleFunc("GET /api/v2/autocompleteKeys", func(w http.ResponseWriter, r *http.Request) {
		v, err := st.TagKeys(r.Context())
		answer(w, v, err)
	})
	mux.HandleFunc("GET /api/v2/autocompleteValues", func(w http.ResponseWriter, r *http.Request) {
		k := r.URL.Query().Get("key")
		if k == "" {
			http.Error(w, "key is required", http.StatusBadRequest)
			return
		}
		v, err := st.TagValues(r.Context(), k)
		answer(w, v, err)
	})
	mux.HandleFunc("GET /zipkin/config.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"environment": "obs", "queryLimit": 10, "defaultLookback": 900000,
			"searchEnabled": true, "suggestLens": false, "logsUrl": nil,
			"dependency": map[string]any{"enabled": true, "lowErrorRate": 0.5, "highErrorRate": 0.75}})
	})
}

func (z *ZipkinAPI) needService(f func(context.Context, string) ([]string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc := strings.ToLower(r.URL.Query().Get("serviceName"))
		if svc == "" {
			http.Error(w, "serviceName is required", http.StatusBadRequest)
			return
		}
		v, err := f(r.Context(), svc)
		answer(w, v, err)
	}
}

// int64Param reads an optional integer parameter; set says whether it was
// given.
func int64Param(r *http.Request, name string) (v int64, set bool, err error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s must be an integer, got %q", name, s)
	}
	return v, true, nil
}

// ParseTraceQuery reads the /api/v2/traces parameters with
// QueryRequest.Builder's rules: names lower-cased, spanName "all" is
// none, endTs (default now), lookback (default a day) and limit (default
// 10) positive, maxDuration only with a positive minDuration and not
// below it.
func ParseTraceQuery(r *http.Request) (traces.Query, error) {
	q := traces.Query{ServiceName: strings.ToLower(r.URL.Query().Get("serviceName")),
		RemoteServiceName: strings.ToLower(r.URL.Query().Get("remoteServiceName")),
		SpanName:          strings.ToLower(r.URL.Query().Get("spanName"))}
	if q.SpanName == "all" {
		q.SpanName = ""
	}
	var err error
	if q.AnnotationQuery, err = traces.ParseAnnotationQuery(r.URL.Query().Get("annotationQuery")); err != nil {
		return q, err
	}
	vals := map[string]int64{}
	set := map[string]bool{}
	for _, name := range []string{"minDuration", "maxDuration", "endTs", "lookback", "limit"} {
		if vals[name], set[name], err = int64Param(r, name); err != nil {
			return q, err
		}
	}
	q.MinDuration, q.MaxDuration, q.EndTs, q.Lookback = vals["minDuration"], vals["maxDuration"], vals["endTs"], vals["lookback"]
	q.Limit = int(vals["limit"])
	if !set["endTs"] {
		q.EndTs = time.Now().UnixMilli()
	}
	if !set["lookback"] {
		q.Lookback = 86400000 // Zipkin's default: a day
	}
	if !set["limit"] {
		q.Limit = 10
	}
	switch {
	case q.EndTs <= 0:
		return q, fmt.Errorf("endTs <= 0")
	case q.Lookback <= 0:
		return q, fmt.Errorf("lookback <= 0")
	case q.Limit <= 0:
		return q, fmt.Errorf("limit <= 0")
	case set["minDuration"] && q.MinDuration <= 0:
		return q, fmt.Errorf("minDuration <= 0")
	case set["maxDuration"] && !set["minDuration"]:
		return q, fmt.Errorf("maxDuration is only valid with minDuration")
	case set["maxDuration"] && q.MaxDuration < q.MinDuration:
		return q, fmt.Errorf("maxDuration < minDuration")
	}
	return q, nil
}

func (z *ZipkinAPI) traces(w http.ResponseWriter, r *http.Request) {
	q, err := ParseTraceQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := z.store.Search(r.Context(), q)
	answer(w, res, err)
}

func (z *ZipkinAPI) trace(w http.ResponseWriter, r *http.Request) {
	id, err := zipkin.ParseTraceID(strings.TrimSpace(r.PathValue("traceId")))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	spans, err := z.store.Trace(r.Context(), id)
	if err != nil {
		readErr(w, err)
		return
	}
	if len(spans) == 0 {
		http.Error(w, id.String()+" not found", http.StatusNotFound)
		return
	}
	writeJSON(w, 200, spans)
}

// traceMany is GET /api/v2/traceMany: two or more distinct ids (one id is
// what /api/v2/trace/{traceId} is for), the traces found.
func (z *ZipkinAPI) traceMany(w http.ResponseWriter, r *http.Request) {
	param := r.URL.Query().Get("traceIds")
	if param == "" {
		http.Error(w, "traceIds parameter is empty", http.StatusBadRequest)
		return
	}
	var ids []model.TraceID
	seen := map[model.TraceID]bool{}
	for _, s := range strings.Split(param, ",") {
		id, err := zipkin.ParseTraceID(s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if seen[id] {
			http.Error(w, "redundant traceId: "+s, http.StatusBadRequest)
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 1 {
		http.Error(w, "Use /api/v2/trace/{traceId} endpoint to retrieve a single trace", http.StatusBadRequest)
		return
	}
	out := [][]json.RawMessage{}
	for _, id := range ids {
		spans, err := z.store.Trace(r.Context(), id)
		if err != nil {
			readErr(w, err)
			return
		}
		if len(spans) > 0 {
			out = append(out, spans)
		}
	}
	writeJSON(w, 200, out)
}

func (z *ZipkinAPI) dependencies(w http.ResponseWriter, r *http.Request) {
	end, set, err := int64Param(r, "endTs")
	if err != nil || !set || end <= 0 {
		http.Error(w, "endTs (milliseconds) is required", http.StatusBadRequest)
		return
	}
	lookback, set, err := int64Param(r, "lookback")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !set {
		lookback = 86400000
	}
	if lookback <= 0 {
		http.Error(w, "lookback <= 0", http.StatusBadRequest)
		return
	}
	links, err := z.store.Dependencies(r.Context(), end, lookback)
	answer(w, links, err)
}
