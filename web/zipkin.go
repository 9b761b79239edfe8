package web

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/traces"
)

// ZipkinAPI is Zipkin's collector and query API v2 (zipkin2-api.yaml).
type ZipkinAPI struct {
	// WrapCollector, when set, wraps the span POST routes (the memory
	// guard answers 503 there while shedding).
	WrapCollector func(http.Handler) http.Handler

	store    *traces.Store
	maxBody  int64
	bad      *prometheus.CounterVec
	received *prometheus.CounterVec
}

// NewZipkinAPI builds the API; reg receives its counters (nil: none).
func NewZipkinAPI(st *traces.Store, maxBody int64, reg prometheus.Registerer) *ZipkinAPI {
	z := &ZipkinAPI{store: st, maxBody: maxBody,
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_zipkin_bad_requests_total",
			Help: "Span POSTs refused, by reason: decode (400), too_large (413), content_type (415), gzip (400), store (500)."}, []string{"reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_zipkin_spans_received_total",
			Help: "Spans accepted, by encoding."}, []string{"encoding"}),
	}
	for _, r := range []string{"decode", "too_large", "content_type", "gzip", "store"} {
		z.bad.WithLabelValues(r)
	}
	for _, e := range []string{"v2_json", "v2_proto", "v1_json"} {
		z.received.WithLabelValues(e)
	}
	if reg != nil {
		reg.MustRegister(z.bad, z.received)
	}
	return z
}

// Routes registers the Zipkin API on mux; obs serves it on the main port
// and on its own Zipkin port.
func (z *ZipkinAPI) Routes(mux *http.ServeMux) {
	st := z.store
	wrap := z.WrapCollector
	if wrap == nil {
		wrap = func(h http.Handler) http.Handler { return h }
	}
	mux.Handle("POST /api/v2/spans", wrap(z.collect(2)))
	mux.Handle("POST /api/v1/spans", wrap(z.collect(1)))
	mux.HandleFunc("GET /api/v2/services", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, st.Services()) })
	mux.HandleFunc("GET /api/v2/spans", z.needService(st.SpanNames))
	mux.HandleFunc("GET /api/v2/remoteServices", z.needService(st.RemoteServices))
	mux.HandleFunc("GET /api/v2/traces", z.traces)
	mux.HandleFunc("GET /api/v2/trace/{traceId}", z.trace)
	mux.HandleFunc("GET /api/v2/traceMany", z.traceMany)
	mux.HandleFunc("GET /api/v2/dependencies", z.dependencies)
	mux.HandleFunc("GET /api/v2/autocompleteKeys", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, st.TagKeys()) })
	mux.HandleFunc("GET /api/v2/autocompleteValues", func(w http.ResponseWriter, r *http.Request) {
		k := r.URL.Query().Get("key")
		if k == "" {
			http.Error(w, "key is required", http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, st.TagValues(k))
	})
	mux.HandleFunc("GET /zipkin/config.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"environment": "obs", "queryLimit": 10, "defaultLookback": 900000,
			"searchEnabled": true, "suggestLens": false, "logsUrl": nil,
			"dependency": map[string]any{"enabled": true, "lowErrorRate": 0.5, "highErrorRate": 0.75}})
	})
}

// collect decodes a batch (gzip allowed) and stores it whole, or answers
// 400 with what is wrong, 413 when too large, 415 for unknown encodings.
func (z *ZipkinAPI) collect(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = http.MaxBytesReader(w, r.Body, z.maxBody)
		if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
			gz, err := gzip.NewReader(body)
			if err != nil {
				z.bad.WithLabelValues("gzip").Inc()
				http.Error(w, "Cannot gunzip spans: "+err.Error(), http.StatusBadRequest)
				return
			}
			defer gz.Close()
			// The limit applies to the decompressed size too (gzip bombs).
			body = io.LimitReader(gz, z.maxBody+1)
		}
		b, err := io.ReadAll(body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || int64(len(b)) > z.maxBody {
			z.bad.WithLabelValues("too_large").Inc()
			http.Error(w, fmt.Sprintf("body over %d bytes", z.maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			z.bad.WithLabelValues("gzip").Inc() // truncated or corrupt stream
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var spans []traces.Span
		enc := "v1_json"
		switch {
		case version == 2 && ct == "application/x-protobuf":
			enc = "v2_proto"
			spans, err = zipkin.DecodeProto(b)
		case ct == "" || ct == "application/json":
			if version == 2 {
				enc = "v2_json"
				spans, err = zipkin.DecodeV2JSON(b)
			} else {
				spans, err = zipkin.DecodeV1JSON(b)
			}
		default:
			z.bad.WithLabelValues("content_type").Inc()
			http.Error(w, fmt.Sprintf("unsupported Content-Type %q: v2 takes application/json or application/x-protobuf, v1 application/json", ct),
				http.StatusUnsupportedMediaType)
			return
		}
		if err != nil {
			z.bad.WithLabelValues("decode").Inc()
			http.Error(w, "Cannot decode spans: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := z.store.Write(spans); err != nil {
			z.bad.WithLabelValues("store").Inc()
			http.Error(w, "store spans: "+err.Error(), http.StatusInternalServerError)
			return
		}
		z.received.WithLabelValues(enc).Add(float64(len(spans)))
		w.WriteHeader(http.StatusAccepted)
	}
}

func (z *ZipkinAPI) needService(f func(string) []string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc := strings.ToLower(r.URL.Query().Get("serviceName"))
		if svc == "" {
			http.Error(w, "serviceName is required", http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, f(svc))
	}
}

func int64Param(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, got %q", name, v)
	}
	return n, nil
}

// ParseTraceQuery reads the /api/v2/traces parameters.
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
	for name, dst := range map[string]*int64{"minDuration": &q.MinDuration, "maxDuration": &q.MaxDuration, "endTs": &q.EndTs, "lookback": &q.Lookback} {
		if *dst, err = int64Param(r, name); err != nil {
			return q, err
		}
	}
	if q.EndTs == 0 {
		q.EndTs = time.Now().UnixMilli()
	}
	if q.Lookback == 0 {
		q.Lookback = 86400000 // Zipkin's default: a day
	}
	limit, err := int64Param(r, "limit")
	if err != nil {
		return q, err
	}
	q.Limit = int(limit)
	if q.Limit == 0 {
		q.Limit = 10
	}
	return q, nil
}

func (z *ZipkinAPI) traces(w http.ResponseWriter, r *http.Request) {
	q, err := ParseTraceQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := z.store.Search(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, 200, res)
}

// lookup fetches one trace by its hex id, with the HTTP status to answer
// when it cannot: 400 for a bad id, 500 for a read error.
func (z *ZipkinAPI) lookup(hexID string) ([]json.RawMessage, int, error) {
	id, err := zipkin.ParseTraceID(hexID)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	spans, err := z.store.Trace(id)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return spans, http.StatusOK, nil
}

func (z *ZipkinAPI) trace(w http.ResponseWriter, r *http.Request) {
	spans, code, err := z.lookup(r.PathValue("traceId"))
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	if len(spans) == 0 {
		http.Error(w, "trace "+r.PathValue("traceId")+" not found", http.StatusNotFound)
		return
	}
	writeJSON(w, 200, spans)
}

func (z *ZipkinAPI) traceMany(w http.ResponseWriter, r *http.Request) {
	param := r.URL.Query().Get("traceIds")
	if param == "" {
		http.Error(w, "traceIds is required", http.StatusBadRequest)
		return
	}
	out := [][]json.RawMessage{}
	for _, s := range strings.Split(param, ",") {
		if s == "" {
			continue
		}
		spans, code, err := z.lookup(s)
		if err != nil {
			http.Error(w, err.Error(), code)
			return
		}
		if len(spans) > 0 {
			out = append(out, spans)
		}
	}
	writeJSON(w, 200, out)
}

func (z *ZipkinAPI) dependencies(w http.ResponseWriter, r *http.Request) {
	end, err := int64Param(r, "endTs")
	if err != nil || end == 0 {
		http.Error(w, "endTs (milliseconds) is required", http.StatusBadRequest)
		return
	}
	lookback, err := int64Param(r, "lookback")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if lookback == 0 {
		lookback = 86400000
	}
	writeJSON(w, 200, z.store.Dependencies(end, lookback))
}
