package zipkin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openzipkin/zipkin-go/model"

	"github.com/obs-dev/obs/ingest/httpbody"
	"github.com/obs-dev/obs/store/traces"
)

type post struct {
	name, path, ct, enc string
	body                []byte
	code                int
	msg                 string
}

const v1Body = `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get","binaryAnnotations":[{"key":"http.path","value":"/"}]}]`

// The collector's answers, as ZipkinHttpCollector gives them (checked
// against Zipkin with ZIPKIN_ORACLE in TestOracleCollector).
var posts = []post{
	{name: "empty body", path: "/api/v2/spans", ct: "application/json", code: 202},
	{name: "empty list", path: "/api/v2/spans", ct: "application/json", body: []byte(`[]`), code: 202},
	{name: "empty proto list", path: "/api/v2/spans", ct: "application/x-protobuf", code: 202},
	{name: "v2 JSON", path: "/api/v2/spans", ct: "application/json", body: []byte(`[{"traceId":"1","id":"2"}]`), code: 202},
	{name: "v2 JSON as text/plain (the catch-all route reads JSON)", path: "/api/v2/spans", ct: "text/plain", body: []byte(`[{"traceId":"1","id":"3"}]`), code: 202},
	{name: "v2 JSON without a content type", path: "/api/v2/spans", body: []byte(`[{"traceId":"1","id":"4"}]`), code: 202},
	{name: "v2 JSON gzipped", path: "/api/v2/spans", ct: "application/json", enc: "gzip", body: httpbody.Gzip([]byte(`[{"traceId":"1","id":"5"}]`)), code: 202},
	{name: "v2 proto, Brave-style 8-byte trace id", path: "/api/v2/spans", ct: "application/x-protobuf", body: protoList(braveSpan()), code: 202},
	{name: "v1 JSON", path: "/api/v1/spans", ct: "application/json", body: []byte(v1Body), code: 202},
	{name: "a v1 list sent to the v2 route", path: "/api/v2/spans", ct: "application/json", body: []byte(v1Body), code: 400,
		msg: "Expected a JSON_V2 encoded list, but received: JSON_V1"},
	{name: "a v2 list sent to the v1 route", path: "/api/v1/spans", ct: "application/json", body: []byte(`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a"}}]`), code: 400,
		msg: "Expected a JSON_V1 encoded list, but received: JSON_V2"},
	{name: "a v2 list with tags sent to the v1 route", path: "/api/v1/spans", ct: "application/json", body: []byte(`[{"traceId":"1","id":"2","tags":{"a":"b"}}]`), code: 400,
		msg: "Expected a JSON_V1 encoded list, but received: JSON_V2"},
	{name: "an object, not a list", path: "/api/v2/spans", ct: "application/json", body: []byte(`{"traceId":"1","id":"2"}`), code: 400, msg: "Expected a JSON_V2 encoded list"},
	{name: "proto that is not a list", path: "/api/v2/spans", ct: "application/x-protobuf", body: []byte(`[{"traceId":"1","id":"2"}]`), code: 400},
	{name: "a bad span refuses the batch", path: "/api/v2/spans", ct: "application/json", body: []byte(`[{"traceId":"1","id":"6"},{"traceId":"1","id":"zz"}]`), code: 400},
	{name: "thrift", path: "/api/v1/spans", ct: "application/x-thrift", body: []byte{12, 0, 0, 0, 0}, code: 415},
	{name: "corrupt gzip", path: "/api/v2/spans", ct: "application/json", enc: "gzip", body: []byte("not gzip"), code: 400},
}

func (p post) do(t *testing.T, base string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+p.path, bytes.NewReader(p.body))
	if p.ct != "" {
		req.Header.Set("Content-Type", p.ct)
	}
	if p.enc != "" {
		req.Header.Set("Content-Encoding", p.enc)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func collectorServer(t *testing.T, sink Committer, maxBody int64) *httptest.Server {
	c := NewCollector(sink, maxBody, nil, nil)
	mux := http.NewServeMux()
	mux.Handle("POST /api/v2/spans", c)
	mux.Handle("POST /api/v1/spans", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCollector(t *testing.T) {
	st, err := traces.Open(t.TempDir(), traces.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := collectorServer(t, st, 1<<20)
	for _, p := range posts {
		code, msg := p.do(t, srv.URL)
		if code != p.code || !strings.Contains(msg, p.msg) {
			t.Errorf("%s: %d %q, want %d %q", p.name, code, msg, p.code, p.msg)
		}
	}
	// Answered 202: stored, all of it.
	for id, want := range map[uint64]int{1: 4, 0x6b221d5bc9e6496c: 1, 0x5af7183fb1d4cf5f: 1} {
		spans, err := st.Trace(model.TraceID{Low: id})
		if err != nil || len(spans) != want {
			t.Errorf("trace %x: %v, %d spans, want %d", id, err, len(spans), want)
		}
	}
	// Nothing of the refused batch.
	spans, _ := st.Trace(model.TraceID{Low: 1})
	for _, s := range spans {
		if strings.Contains(string(s), `"id":"0000000000000006"`) {
			t.Error("half of a refused batch was stored")
		}
	}
	big := post{path: "/api/v2/spans", ct: "application/json", body: bytes.Repeat([]byte(" "), 2<<20)}
	if code, _ := big.do(t, srv.URL); code != 413 {
		t.Errorf("big body: %d", code)
	}
	bomb := post{path: "/api/v2/spans", ct: "application/json", enc: "gzip", body: httpbody.Gzip(bytes.Repeat([]byte(" "), 4<<20))}
	if code, _ := bomb.do(t, srv.URL); code != 413 {
		t.Errorf("gzip bomb: %d", code)
	}
}

// full is a store that is behind.
type full struct{}

func (full) Commit(context.Context, []traces.Span) error { return traces.ErrQueueFull }

func TestCollectorBusy(t *testing.T) {
	srv := collectorServer(t, full{}, 1<<20)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v2/spans", strings.NewReader(`[{"traceId":"1","id":"2"}]`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
