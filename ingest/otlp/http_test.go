package otlp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/obs-dev/obs/ingest/httpbody"
	"github.com/obs-dev/obs/ingest/memguard"
	"github.com/obs-dev/obs/store/traces"
)

// rig is a receiver over real stores in a temporary directory, served on
// a real socket.
type rig struct {
	t     *testing.T
	r     *Receiver
	reg   *prometheus.Registry
	spans *traces.Store
	url   string
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	t.Helper()
	st, err := traces.Open(t.TempDir(), traces.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	o := Options{Spans: st, MaxBody: 1 << 20, Registerer: reg, Inflight: &memguard.Inflight{Max: 64 << 20}}
	if mod != nil {
		mod(&o)
	}
	g := &rig{t: t, r: New(o), reg: reg, spans: st}
	srv := httptest.NewServer(g.r.Handler())
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

// post sends body and returns the status, headers and body.
func (g *rig) post(path, ct, enc string, body []byte) (int, http.Header, []byte) {
	g.t.Helper()
	req, _ := http.NewRequest("POST", g.url+path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (g *rig) stored(id model.TraceID) int {
	g.t.Helper()
	spans, err := g.spans.Trace(id)
	if err != nil {
		g.t.Fatal(err)
	}
	return len(spans)
}

func (g *rig) counter(name string, labels ...string) float64 {
	g.t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		g.t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

func protoOf(t *testing.T, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonOf(t *testing.T, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var zipkinTraceID = model.TraceID{High: 0x5b8efff798038103, Low: 0xd269b633813fc60c}

func TestHTTPTracesEncodings(t *testing.T) {
	g := newRig(t, nil)
	td := oneSpan(nil, nil)
	for _, c := range []struct {
		name, ct, enc string
		body          []byte
	}{
		{"protobuf", ctProto, "", protoOf(t, td)},
		{"JSON", ctJSON, "", jsonOf(t, td)},
		{"gzip protobuf", ctProto, "gzip", httpbody.Gzip(protoOf(t, td))},
		{"gzip JSON with a charset", ctJSON + "; charset=utf-8", "gzip", httpbody.Gzip(jsonOf(t, td))},
	} {
		code, hdr, body := g.post(PathTraces, c.ct, c.enc, c.body)
		if code != 200 {
			t.Fatalf("%s: %d %s", c.name, code, body)
		}
		resp := ptraceotlp.NewExportResponse()
		var err error
		if strings.HasPrefix(c.ct, ctJSON) {
			err = resp.UnmarshalJSON(body)
		} else {
			err = resp.UnmarshalProto(body)
		}
		if err != nil || resp.PartialSuccess().RejectedSpans() != 0 || !strings.HasPrefix(hdr.Get("Content-Type"), strings.Split(c.ct, ";")[0]) {
			t.Errorf("%s: response %v %q %s", c.name, err, hdr.Get("Content-Type"), body)
		}
		// The same span each time: the store keeps it once.
		if n := g.stored(zipkinTraceID); n != 1 {
			t.Errorf("%s: %d spans stored", c.name, n)
		}
	}
	if n := g.counter("obs_otlp_items_total", "signal", "traces", "transport", "http"); n != 4 {
		t.Errorf("obs_otlp_items_total %v", n)
	}
	if code, _, _ := g.post(PathTraces, ctProto, "", nil); code != 200 {
		t.Errorf("empty body: %d", code)
	}
}

// decodeStatus reads the google.rpc.Status of an error answer.
func decodeStatus(t *testing.T, asJSON bool, b []byte) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if asJSON {
		err = protojson.Unmarshal(b, st)
	} else {
		err = proto.Unmarshal(b, st)
	}
	if err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v: %q", err, b)
	}
	return st
}

func TestHTTPBadRequests(t *testing.T) {
	g := newRig(t, nil)
	good := protoOf(t, oneSpan(nil, nil))
	for _, c := range []struct {
		name, ct, enc string
		body          []byte
		code          int
		msg, reason   string
	}{
		{"truncated protobuf", ctProto, "", good[:len(good)-7], 400, "cannot decode OTLP traces request", "decode"},
		{"JSON that is not OTLP", ctJSON, "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":`), 400, "cannot decode", "decode"},
		{"text/plain", "text/plain", "", good, 415, "unsupported content type", "content_type"},
		{"no content type", "", "", good, 415, "unsupported content type", "content_type"},
		{"zstd", ctProto, "zstd", good, 415, "unsupported content encoding", "content_type"},
		{"corrupt gzip", ctProto, "gzip", []byte("not gzip at all"), 400, "gunzip", "gzip"},
		{"over the limit", ctProto, "", make([]byte, 2<<20), 413, "over the limit", "too_large"},
		{"gzip bomb", ctProto, "gzip", httpbody.Gzip(make([]byte, 4<<20)), 413, "over", "too_large"},
	} {
		code, _, body := g.post(PathTraces, c.ct, c.enc, c.body)
		if code != c.code {
			t.Errorf("%s: %d %q, want %d", c.name, code, body, c.code)
			continue
		}
		st := decodeStatus(t, c.ct == ctJSON, body)
		if !strings.Contains(st.GetMessage(), c.msg) {
			t.Errorf("%s: %q, want %q", c.name, st.GetMessage(), c.msg)
		}
		if n := g.counter("obs_otlp_requests_refused_total", "reason", c.reason); n == 0 {
			t.Errorf("%s: not counted under %s", c.name, c.reason)
		}
	}
	if n := g.stored(zipkinTraceID); n != 0 {
		t.Errorf("%d spans of refused requests stored", n)
	}
	// GET is not an export.
	resp, err := http.Get(g.url + PathTraces)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// OTLP/JSON writes ids as hex; base64 ids (protojson's bytes) are not
// OTLP and the request is refused, saying why.
func TestHTTPJSONBase64IDs(t *testing.T) {
	g := newRig(t, nil)
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","name":"x"}]}]}]}`
	code, _, b := g.post(PathTraces, ctJSON, "", []byte(body))
	if code != 400 {
		t.Fatalf("%d %s", code, b)
	}
	if st := decodeStatus(t, true, b); !strings.Contains(st.GetMessage(), "cannot decode") {
		t.Errorf("message %q", st.GetMessage())
	}
	// The hex spelling of the same ids is stored.
	body = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000001000000}]}]}]}`
	if code, _, b := g.post(PathTraces, ctJSON, "", []byte(body)); code != 200 {
		t.Fatalf("hex ids: %d %s", code, b)
	}
	if n := g.stored(zipkinTraceID); n != 1 {
		t.Errorf("%d spans", n)
	}
}

// An all-zero trace id costs that span only: the others of the request
// are stored and the answer's partial_success counts and names it.
func TestHTTPPartialSuccess(t *testing.T) {
	g := newRig(t, nil)
	td := oneSpan(nil, nil)
	bad := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	bad.SetName("zeros")
	bad.SetSpanID(spanID)
	for _, ct := range []string{ctProto, ctJSON} {
		body := protoOf(t, td)
		if ct == ctJSON {
			body = jsonOf(t, td)
		}
		code, _, b := g.post(PathTraces, ct, "", body)
		resp := ptraceotlp.NewExportResponse()
		if ct == ctJSON {
			resp.UnmarshalJSON(b)
		} else {
			resp.UnmarshalProto(b)
		}
		ps := resp.PartialSuccess()
		if code != 200 || ps.RejectedSpans() != 1 || !strings.Contains(ps.ErrorMessage(), "trace_id is missing or all zeros") {
			t.Errorf("%s: %d rejected %d %q", ct, code, ps.RejectedSpans(), ps.ErrorMessage())
		}
	}
	if n := g.stored(zipkinTraceID); n != 1 {
		t.Errorf("good spans stored: %d, want 1 (sent twice, stored once)", n)
	}
	if n := g.counter("obs_otlp_rejected_total", "signal", "traces", "reason", "invalid_id"); n != 2 {
		t.Errorf("rejected counted %v", n)
	}
}

// A span with a million attributes: within the body limit it is stored
// with Zipkin's per-span bound of tags (the rest counted); over it, 413.
// Either way the server goes on.
func TestHTTPMillionAttributes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20 MB request")
	}
	td := oneSpan(nil, func(sp ptrace.Span) {
		// FromRaw: PutInt looks for the key first, a million times.
		raw := make(map[string]any, 1_000_000)
		for i := range 1_000_000 {
			raw[strconv.Itoa(i)] = int64(1)
		}
		sp.Attributes().FromRaw(raw)
	})
	body := protoOf(t, td)
	g := newRig(t, func(o *Options) { o.MaxBody = int64(len(body)) })
	code, _, b := g.post(PathTraces, ctProto, "gzip", httpbody.Gzip(body))
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if n := g.counter("obs_otlp_fields_cut_total"); n < 999_000 {
		t.Errorf("cut %v", n)
	}
	if n := g.stored(zipkinTraceID); n != 1 {
		t.Errorf("%d spans", n)
	}
	small := newRig(t, nil) // 1 MiB limit
	if code, _, _ := small.post(PathTraces, ctProto, "gzip", httpbody.Gzip(body)); code != 413 {
		t.Errorf("over the limit: %d", code)
	}
	if code, _, _ := small.post(PathTraces, ctProto, "", protoOf(t, oneSpan(nil, nil))); code != 200 {
		t.Errorf("next request: %d", code)
	}
}

// A declared length of 2 GB is refused from the headers, before anything
// is read or reserved.
func TestHTTPDeclaredTwoGigabytes(t *testing.T) {
	g := newRig(t, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", int64(2)<<30)
	conn.Write([]byte{0x0a, 0x00})
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("%d", resp.StatusCode)
	}
	if n := g.counter("obs_otlp_requests_refused_total", "reason", "too_large"); n != 1 {
		t.Errorf("too_large counted %v", n)
	}
}

// busyStore is a span store that is behind.
type busyStore struct{}

func (busyStore) Commit(context.Context, []traces.Span) error { return traces.ErrQueueFull }

func TestHTTPBusy(t *testing.T) {
	g := newRig(t, func(o *Options) { o.Spans = busyStore{} })
	code, hdr, b := g.post(PathTraces, ctProto, "", protoOf(t, oneSpan(nil, nil)))
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("%d %q %s", code, hdr.Get("Retry-After"), b)
	}
	// Too much in flight: the same answer, before reading.
	g = newRig(t, func(o *Options) { o.Inflight = &memguard.Inflight{Max: 1} })
	g.r.o.Inflight.TryAcquire(1) // another request holds it all
	if code, hdr, _ := g.post(PathTraces, ctProto, "", protoOf(t, oneSpan(nil, nil))); code != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("in flight: %d", code)
	}
	if n := testutil.ToFloat64(g.r.refused.WithLabelValues(sigTraces, transportHTTP, "busy")); n != 1 {
		t.Errorf("busy counted %v", n)
	}
}
