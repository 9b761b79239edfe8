package otlp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/obs-dev/obs/ingest/httpbody"
)

// Content types OTLP/HTTP defines.
const (
	ctProto = "application/x-protobuf"
	ctJSON  = "application/json"
)

// Paths of OTLP/HTTP, the defaults every SDK appends to
// OTEL_EXPORTER_OTLP_ENDPOINT.
const (
	PathTraces  = "/v1/traces"
	PathMetrics = "/v1/metrics"
	PathLogs    = "/v1/logs"
)

// request and response are what pdata's Export requests and responses of
// the three signals have in common.
type request interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

type response interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// exporter decodes one signal's request from a body (asJSON: OTLP/JSON,
// else protobuf) and stores it; a decode error is returned as such.
type exporter func(ctx context.Context, body []byte, asJSON bool) (response, error)

// decodeError is a body that is not the signal's Export request.
type decodeError struct{ err error }

func (d decodeError) Error() string { return d.err.Error() }

func decode(req request, body []byte, asJSON bool) error {
	if len(body) == 0 {
		return nil // an empty request: nothing to store
	}
	var err error
	if asJSON {
		err = req.UnmarshalJSON(body)
	} else {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		return decodeError{err}
	}
	return nil
}

// Handler is OTLP/HTTP: POST /v1/traces, /v1/metrics, /v1/logs.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PathTraces, r.httpSignal(sigTraces, httpExport(ptraceotlp.NewExportRequest, r.exportTraces)))
	mux.Handle("POST "+PathMetrics, r.httpSignal(sigMetrics, httpExport(pmetricotlp.NewExportRequest, r.exportMetrics)))
	mux.Handle("POST "+PathLogs, r.httpSignal(sigLogs, httpExport(plogotlp.NewExportRequest, r.exportLogs)))
	return mux
}

// httpExport decodes a body into a signal's request and exports it.
func httpExport[Req request, Resp response](newReq func() Req, export func(context.Context, Req, string) (Resp, error)) exporter {
	return func(ctx context.Context, body []byte, asJSON bool) (response, error) {
		req := newReq()
		if err := decode(req, body, asJSON); err != nil {
			return nil, err
		}
		return export(ctx, req, transportHTTP)
	}
}

// The Export calls of the three services, for both transports: the
// response's partial_success says what was dropped.

func (r *Receiver) exportTraces(ctx context.Context, req ptraceotlp.ExportRequest, transport string) (ptraceotlp.ExportResponse, error) {
	p, err := r.traces(ctx, req.Traces(), transport)
	resp := ptraceotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedSpans(p.rejected)
	resp.PartialSuccess().SetErrorMessage(p.msg)
	return resp, err
}

func (r *Receiver) exportMetrics(ctx context.Context, req pmetricotlp.ExportRequest, transport string) (pmetricotlp.ExportResponse, error) {
	p, err := r.metrics(ctx, req.Metrics(), transport)
	resp := pmetricotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedDataPoints(p.rejected)
	resp.PartialSuccess().SetErrorMessage(p.msg)
	return resp, err
}

func (r *Receiver) exportLogs(ctx context.Context, req plogotlp.ExportRequest, transport string) (plogotlp.ExportResponse, error) {
	p, err := r.logs(ctx, req.Logs(), transport)
	resp := plogotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedLogRecords(p.rejected)
	resp.PartialSuccess().SetErrorMessage(p.msg)
	return resp, err
}

// httpSignal reads, decodes and stores one signal's POSTs and answers as
// OTLP/HTTP says: 200 with the Export response (partial_success when items
// were dropped), in the request's encoding; 400 with a google.rpc.Status
// for a body that does not decode; 413 over MaxBody; 415 for another
// content type or encoding; 503 with Retry-After while a store is behind
// or too much is in flight (SDKs retry 503); 500 when a store fails.
func (r *Receiver) httpSignal(signal string, export exporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		asJSON := ct == ctJSON
		if ct != ctProto && !asJSON {
			r.refuse(signal, transportHTTP, "content_type")
			drain(w, req)
			writeStatus(w, http.StatusUnsupportedMediaType, asJSON, codes.InvalidArgument,
				fmt.Sprintf("unsupported content type %q: OTLP/HTTP takes %s or %s", req.Header.Get("Content-Type"), ctProto, ctJSON))
			return
		}
		if enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc != "" && enc != "gzip" && enc != "identity" {
			r.refuse(signal, transportHTTP, "content_type")
			drain(w, req)
			writeStatus(w, http.StatusUnsupportedMediaType, asJSON, codes.InvalidArgument,
				fmt.Sprintf("unsupported content encoding %q: send gzip or none", enc))
			return
		}
		if req.ContentLength > r.o.MaxBody {
			// Refused before reading: a declared 2 GB body costs nothing.
			r.refuse(signal, transportHTTP, "too_large")
			w.Header().Set("Connection", "close")
			writeStatus(w, http.StatusRequestEntityTooLarge, asJSON, codes.InvalidArgument,
				fmt.Sprintf("body of %d bytes is over the limit of %d", req.ContentLength, r.o.MaxBody))
			return
		}
		hold := r.holdFor(req.ContentLength)
		if !r.o.Inflight.TryAcquire(hold) {
			r.refuse(signal, transportHTTP, "busy")
			drain(w, req)
			w.Header().Set("Retry-After", "1")
			writeStatus(w, http.StatusServiceUnavailable, asJSON, codes.Unavailable, "too many OTLP requests in flight, retry")
			return
		}
		defer r.o.Inflight.Release(hold)
		body, bad := httpbody.Read(w, req, r.o.MaxBody)
		if bad != nil {
			r.refuse(signal, transportHTTP, bad.Reason)
			writeStatus(w, bad.Code, asJSON, codes.InvalidArgument, bad.Error())
			return
		}
		// pdata copies what it decodes, so the buffer serves the next request.
		defer httpbody.Release(body)
		resp, err := export(req.Context(), body, asJSON)
		var de decodeError
		var f *failure
		switch {
		case errors.As(err, &de):
			r.refuse(signal, transportHTTP, "decode")
			writeStatus(w, http.StatusBadRequest, asJSON, codes.InvalidArgument, fmt.Sprintf("cannot decode OTLP %s request: %v", signal, de.err))
			return
		case errors.As(err, &f) && f.reason == "busy":
			r.refuse(signal, transportHTTP, "busy")
			w.Header().Set("Retry-After", "1")
			writeStatus(w, http.StatusServiceUnavailable, asJSON, codes.Unavailable, err.Error())
			return
		case err != nil:
			r.refuse(signal, transportHTTP, "store")
			writeStatus(w, http.StatusInternalServerError, asJSON, codes.Internal, err.Error())
			return
		}
		writeMessage(w, http.StatusOK, asJSON, resp)
	})
}

// holdFor is what a request may take in memory until it is stored: the
// decoded form of a protobuf body is several times its size.
func (r *Receiver) holdFor(contentLength int64) int64 {
	n := r.o.MaxBody
	if contentLength >= 0 && contentLength <= r.o.MaxBody {
		n = max(contentLength, 4096)
	}
	return 8 * n
}

// drain reads a little of a refused body so that the connection can be
// reused; a larger one is left and the connection closed after the
// answer. Saying so matters: net/http would otherwise read on (up to
// 256 KiB) before answering, waiting on a client that sends slowly or
// not at all, because the listener's body watch hides the body's size.
func drain(w http.ResponseWriter, req *http.Request) {
	if n, _ := io.Copy(io.Discard, io.LimitReader(req.Body, 64<<10)); n == 64<<10 {
		w.Header().Set("Connection", "close")
	}
}

// writeStatus answers with a google.rpc.Status in the request's encoding,
// as OTLP/HTTP wants for every error.
func writeStatus(w http.ResponseWriter, code int, asJSON bool, c codes.Code, msg string) {
	st := &spb.Status{Code: int32(c), Message: msg}
	var b []byte
	var err error
	if asJSON {
		b, err = protojson.Marshal(st)
	} else {
		b, err = proto.Marshal(st)
	}
	if err != nil {
		http.Error(w, msg, code)
		return
	}
	writeBody(w, code, asJSON, b)
}

func writeMessage(w http.ResponseWriter, code int, asJSON bool, m response) {
	var b []byte
	var err error
	if asJSON {
		b, err = m.MarshalJSON()
	} else {
		b, err = m.MarshalProto()
	}
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, asJSON, codes.Internal, "encode response: "+err.Error())
		return
	}
	writeBody(w, code, asJSON, b)
}

func writeBody(w http.ResponseWriter, code int, asJSON bool, b []byte) {
	ct := ctProto
	if asJSON {
		ct = ctJSON
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	w.Write(b)
}
