package zipkin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/httpbody"
	"github.com/obs-dev/obs/store/traces"
)

// Committer stores spans durably: Commit returns once they would survive
// a crash, or traces.ErrQueueFull when the store is too far behind.
type Committer interface {
	Commit(context.Context, []traces.Span) error
}

// Collector is Zipkin's HTTP collector (ZipkinHttpCollector): POST
// /api/v2/spans (JSON, or protobuf with Content-Type
// application/x-protobuf) and POST /api/v1/spans (JSON).
type Collector struct {
	sink     Committer
	maxBody  int64
	log      *slog.Logger
	bad      *prometheus.CounterVec
	received *prometheus.CounterVec
	cut      prometheus.Counter
}

// NewCollector builds the collector; reg receives its counters (nil: none).
func NewCollector(sink Committer, maxBody int64, reg prometheus.Registerer, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Collector{sink: sink, maxBody: maxBody, log: log,
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_zipkin_bad_requests_total",
			Help: "Span POSTs refused, by reason: decode (400), format (400: not the route's encoding), too_large (413), content_type (415), gzip (400), busy (503: store behind, retry), store (500)."}, []string{"reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_zipkin_spans_received_total",
			Help: "Spans accepted, by encoding."}, []string{"encoding"}),
		cut: prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_zipkin_span_fields_cut_total",
			Help: fmt.Sprintf("Tags and annotations dropped from spans that had more than %d of either.", MaxTagsPerSpan)}),
	}
	for _, r := range []string{"decode", "format", "too_large", "content_type", "gzip", "busy", "store"} {
		c.bad.WithLabelValues(r)
	}
	for _, e := range encodingLabel {
		c.received.WithLabelValues(e)
	}
	if reg != nil {
		reg.MustRegister(c.bad, c.received, c.cut)
	}
	return c
}

// encodingLabel is obs_zipkin_spans_received_total's label per encoding.
var encodingLabel = map[string]string{encJSONV2: "v2_json", encProto: "v2_proto", encJSONV1: "v1_json"}

// The encodings, named as Zipkin names its decoders in error messages.
const (
	encJSONV2 = "JSON_V2"
	encProto  = "PROTO3"
	encJSONV1 = "JSON_V1"
	encThrift = "THRIFT"
)

// ServeHTTP takes a batch of spans: 202 once it is in the store's
// write-ahead log on disk; 400 for a body Zipkin would refuse, saying
// what is wrong; 413 over the size limit (decompressed, too); 415 for
// Thrift; 503 with Retry-After while the store is behind.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	enc := encJSONV2
	switch {
	case strings.HasSuffix(r.URL.Path, "/v1/spans"):
		enc = encJSONV1
		if ct == "application/x-thrift" {
			enc = encThrift
		}
	case ct == "application/x-protobuf":
		enc = encProto
	}
	if enc == encThrift {
		c.refuse(w, "content_type", http.StatusUnsupportedMediaType,
			"Thrift spans are not supported: send JSON to /api/v1/spans, or JSON or protobuf (application/x-protobuf) to /api/v2/spans")
		return
	}
	body, bad := httpbody.Read(w, r, c.maxBody)
	if bad != nil {
		c.refuse(w, bad.Reason, bad.Code, bad.Error())
		return
	}
	// Nothing decoded points into the body (strings and span JSON are
	// copies), so its buffer serves the next request.
	defer httpbody.Release(body)
	// An empty body, or an empty JSON list, is accepted as nothing.
	if t := bytes.TrimSpace(body); len(body) == 0 || enc != encProto && string(t) == "[]" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if msg := checkFormat(enc, body); msg != "" {
		c.refuse(w, "format", http.StatusBadRequest, msg)
		return
	}
	var d Decoded
	var err error
	switch enc {
	case encJSONV2:
		d, err = decodeV2JSON(body)
	case encProto:
		d, err = decodeProto(body)
	default:
		d, err = decodeV1JSON(body)
	}
	if err != nil {
		c.refuse(w, "decode", http.StatusBadRequest, "Cannot decode spans: "+err.Error())
		return
	}
	switch err := c.sink.Commit(r.Context(), d.Spans); {
	case errors.Is(err, traces.ErrQueueFull):
		w.Header().Set("Retry-After", "1")
		c.refuse(w, "busy", http.StatusServiceUnavailable, "span store is behind, retry: "+err.Error())
		return
	case err != nil:
		c.log.Error("store spans", "spans", len(d.Spans), "err", err)
		c.refuse(w, "store", http.StatusInternalServerError, "store spans: "+err.Error())
		return
	}
	c.received.WithLabelValues(encodingLabel[enc]).Add(float64(len(d.Spans)))
	if d.Cut > 0 {
		c.cut.Add(float64(d.Cut))
	}
	w.WriteHeader(http.StatusAccepted)
}

func (c *Collector) refuse(w http.ResponseWriter, reason string, code int, msg string) {
	c.bad.WithLabelValues(reason).Inc()
	http.Error(w, msg, code)
}

// checkFormat is SpanBytesDecoderDetector.decoderForListMessage and
// ZipkinHttpCollector.testForUnexpectedFormat: a body must be a list in
// the route's encoding; a v1 list sent to the v2 route (or the reverse) is
// told apart by its field names, as Zipkin does.
func checkFormat(enc string, body []byte) string {
	if enc == encProto {
		return "" // decoding says what is wrong, as Zipkin's does
	}
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '[' {
		return "Expected a " + enc + " encoded list"
	}
	switch {
	case enc == encJSONV2 && bytes.Contains(t, []byte(`yAnnotations"`)):
		return "Expected a JSON_V2 encoded list, but received: JSON_V1"
	case enc == encJSONV1 && (bytes.Contains(t, []byte(`Endpoint"`)) || bytes.Contains(t, []byte(`"tags"`))):
		return "Expected a JSON_V1 encoded list, but received: JSON_V2"
	}
	return ""
}
