package demo

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestOTLPExportRetried: an export obs answers 503 with Retry-After (its
// memory bound) or 429 is sent again and lands; a 400 is not retried; a
// refusal that outlasts otlpRetryFor gives up.
func TestOTLPExportRetried(t *testing.T) {
	defer func(f, b time.Duration) { otlpRetryFor, otlpBackoff = f, b }(otlpRetryFor, otlpBackoff)
	otlpRetryFor, otlpBackoff = 3*time.Second, 10*time.Millisecond
	var calls atomic.Int32
	var answers atomic.Pointer[[]int]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := int(calls.Add(1)) - 1
		code := http.StatusOK
		if a := *answers.Load(); n < len(a) {
			code = a[n]
		}
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	e := newOTLPExporter(srv.Listener.Addr().String(), "recipe-api", ln.Addr(), "test", slog.New(slog.DiscardHandler))
	for _, c := range []struct {
		answers []int
		ok      bool
		calls   int32
		least   time.Duration
	}{
		{[]int{503, 429, 200}, true, 3, time.Second}, // Retry-After: 1 honoured
		{[]int{502, 504, 200}, true, 3, 0},
		{[]int{400}, false, 1, 0},
		{[]int{429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429}, false, 0, 0},
	} {
		calls.Store(0)
		answers.Store(&c.answers)
		start := time.Now()
		err := e.postBody(context.Background(), "/v1/traces", []byte("x"))
		if (err == nil) != c.ok {
			t.Errorf("%v: err %v", c.answers, err)
		}
		if c.calls > 0 && calls.Load() != c.calls {
			t.Errorf("%v: %d requests, want %d", c.answers, calls.Load(), c.calls)
		}
		if took := time.Since(start); took < c.least || took > otlpRetryFor+time.Second {
			t.Errorf("%v: took %v", c.answers, took)
		}
	}
}
