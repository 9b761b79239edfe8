// Package httpbody reads the body of an intake POST: gunzipped when
// Content-Encoding says so, bounded before and after decompression, into
// pooled buffers. The Zipkin collector and the OTLP/HTTP receiver share
// it, so both answer a gzip bomb or an oversized body the same way.
package httpbody

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Refusal says why a body was not read: the reason is a counter label,
// Code the HTTP status to answer.
type Refusal struct {
	Reason string // too_large, gzip
	Code   int
	Err    error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Read reads the body, gunzipping it when Content-Encoding says so; max
// applies after decompression too (gzip bombs). An empty gzip stream is
// an empty body. Give the buffer back with Release once nothing points
// into it.
func Read(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *Refusal) {
	r.Body = http.MaxBytesReader(w, r.Body, max)
	var body io.Reader = r.Body
	if strings.Contains(strings.ToLower(r.Header.Get("Content-Encoding")), "gzip") {
		gz, err := gzip.NewReader(body)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil // empty body
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(max)
			}
			return nil, &Refusal{"gzip", http.StatusBadRequest, fmt.Errorf("cannot gunzip body: %w", err)}
		}
		defer gz.Close()
		body = io.LimitReader(gz, max+1)
	}
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= max && body == io.Reader(r.Body) {
		// The usual case: the length is known (the server holds the
		// client to it), read into a pooled buffer.
		b = get(int(n))
		var m int
		m, err = io.ReadFull(body, b)
		b = b[:m]
	} else {
		b, err = io.ReadAll(body)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	if err != nil {
		// A truncated or corrupt stream.
		return nil, &Refusal{"gzip", http.StatusBadRequest, fmt.Errorf("read body: %w", err)}
	}
	return b, nil
}

func tooLarge(max int64) *Refusal {
	return &Refusal{"too_large", http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", max)}
}

var bodies sync.Pool // *[]byte

func get(n int) []byte {
	if p, ok := bodies.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// Release gives a body's buffer back for the next request.
func Release(b []byte) {
	if cap(b) > 0 && cap(b) <= 4<<20 {
		bodies.Put(&b)
	}
}

// Gzip compresses b as a client's Content-Encoding: gzip would (tests of
// the intakes that read bodies here).
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b) // a bytes.Buffer takes everything
	w.Close()
	return buf.Bytes()
}
