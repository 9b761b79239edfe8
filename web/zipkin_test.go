package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/obs-dev/obs/ingest/zipkin"
	"github.com/obs-dev/obs/store/traces"
)

func zipkinServer(t *testing.T) *httptest.Server {
	st, err := traces.Open(t.TempDir(), traces.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	NewZipkinAPI(EmbeddedTraces(st), zipkin.NewCollector(st, 1<<20, nil, nil)).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The parameter rules of QueryRequest.Builder.build (QueryRequestTest) and
// ZipkinQueryApiV2, as /api/v2/traces, /trace and /traceMany answer them.
func TestZipkinQueryStrictness(t *testing.T) {
	srv := zipkinServer(t)
	resp, err := http.Post(srv.URL+"/api/v2/spans", "application/json",
		strings.NewReader(`[{"traceId":"a001","id":"1","name":"get","timestamp":1700000000000000,"localEndpoint":{"serviceName":"web"}},
		                   {"traceId":"a002","id":"1","name":"get","timestamp":1700000000000000,"localEndpoint":{"serviceName":"web"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range []struct {
		name, path string
		code       int
		body       string
	}{
		{"QueryRequestTest.maxDuration_onlyWithMinDuration", "/api/v2/traces?maxDuration=10", 400, "maxDuration is only valid with minDuration"},
		{"QueryRequestTest.minDuration_mustBePositive", "/api/v2/traces?minDuration=0", 400, "minDuration <= 0"},
		{"QueryRequestTest.maxDuration_greaterThanOrEqualToMinDuration", "/api/v2/traces?minDuration=2&maxDuration=1", 400, "maxDuration < minDuration"},
		{"QueryRequestTest.endTsMustBePositive", "/api/v2/traces?endTs=0", 400, "endTs <= 0"},
		{"QueryRequestTest.lookbackMustBePositive", "/api/v2/traces?lookback=0", 400, "lookback <= 0"},
		{"QueryRequestTest.limitMustBePositive", "/api/v2/traces?limit=0", 400, "limit <= 0"},
		{"not a number", "/api/v2/traces?limit=ten", 400, "limit must be an integer"},
		{"QueryRequestTest.serviceName_coercesEmptyToNull", "/api/v2/traces?serviceName=&endTs=1700000000001&lookback=60000", 200, `"000000000000a001"`},
		{"QueryRequestTest.spanName_coercesAllToNull", "/api/v2/traces?spanName=all&endTs=1700000000001&lookback=60000", 200, `"000000000000a002"`},
		{"names are lower-cased", "/api/v2/traces?serviceName=WEB&spanName=GET&endTs=1700000000001&lookback=60000", 200, `"000000000000a001"`},
		{"min and max duration", "/api/v2/traces?minDuration=1&maxDuration=1&endTs=1700000000001&lookback=60000", 200, `[]`},
		{"Span.normalizeTraceId: a short id finds the padded trace", "/api/v2/trace/a001", 200, `"000000000000a001"`},
		{"ZipkinQueryApiV2.getTrace: not found", "/api/v2/trace/ffff", 404, "000000000000ffff not found"},
		{"ZipkinQueryApiV2.getTrace: not hex", "/api/v2/trace/xyz", 400, "not hex"},
		{"ZipkinQueryApiV2.getTraces: traceIds empty", "/api/v2/traceMany?traceIds=", 400, "traceIds parameter is empty"},
		{"ZipkinQueryApiV2.getTraces: one id", "/api/v2/traceMany?traceIds=a001", 400, "Use /api/v2/trace/{traceId} endpoint to retrieve a single trace"},
		{"ZipkinQueryApiV2.getTraces: the same id twice", "/api/v2/traceMany?traceIds=a001,000000000000a001", 400, "redundant traceId: 000000000000a001"},
		{"ZipkinQueryApiV2.getTraces: two ids", "/api/v2/traceMany?traceIds=a001,a002", 200, `"000000000000a002"`},
		{"ZipkinQueryApiV2.getTraces: two ids, one unknown", "/api/v2/traceMany?traceIds=a001,ffff", 200, `"000000000000a001"`},
		{"getDependencies: endTs is required", "/api/v2/dependencies", 400, "endTs"},
		{"getSpanNames: serviceName is required", "/api/v2/spans", 400, "serviceName"},
		{"getSpanNames", "/api/v2/spans?serviceName=web", 200, `["get"]`},
	} {
		code, body := get(t, srv.URL+c.path)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %s: %d %q, want %d %q", c.name, c.path, code, body, c.code, c.body)
		}
	}
}
