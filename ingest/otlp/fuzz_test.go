package otlp

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/metrics"
)

// The decoder entry points, each in both encodings (asJSON): whatever the
// body, decoding and mapping never panic, and what is produced is what
// the stores take (valid span JSON, log events that flatten).

func FuzzTraces(f *testing.F) {
	td := oneSpan(nil, nil)
	pb, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	js, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	f.Add(false, pb)
	f.Add(true, js)
	f.Add(true, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ="}]}]}]}`))
	f.Fuzz(func(t *testing.T, asJSON bool, body []byte) {
		req := ptraceotlp.NewExportRequest()
		if decode(req, body, asJSON) != nil {
			return
		}
		res := spansOf(req.Traces())
		for _, sp := range res.Spans {
			if !json.Valid(sp.JSON) {
				t.Fatalf("invalid span JSON %q", sp.JSON)
			}
		}
	})
}

func FuzzLogs(f *testing.F) {
	ld := oneRecord(nil)
	pb, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	js, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	f.Add(false, pb)
	f.Add(true, js)
	f.Fuzz(func(t *testing.T, asJSON bool, body []byte) {
		req := plogotlp.NewExportRequest()
		if decode(req, body, asJSON) != nil {
			return
		}
		res := entriesOf(req.Logs(), t0, 24*time.Hour, 7*24*time.Hour)
		for _, e := range res.Entries {
			if _, err := logs.Flatten(e.Raw); err != nil {
				t.Fatalf("event the store cannot read: %v: %q", err, e.Raw)
			}
		}
	})
}

func FuzzMetrics(f *testing.F) {
	md, ms := newMetrics()
	now := time.Now()
	sum(ms, "requests", "1", true, pmetric.AggregationTemporalityCumulative, 3, now)
	histogramMetric(ms, "latency", "s", now)
	gauge(ms, "old", "", 1, time.Unix(1, 0))
	pb, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	js, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
	f.Add(false, pb)
	f.Add(true, js)
	st, err := metrics.Open(f.TempDir(), metrics.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	dst := metrics.AppendableV2(st)
	f.Fuzz(func(t *testing.T, asJSON bool, body []byte) {
		req := pmetricotlp.NewExportRequest()
		if decode(req, body, asJSON) != nil {
			return
		}
		md := req.Metrics()
		var rej rejections
		now := time.Now()
		filterMetrics(md, now.Add(-defaultMaxAge).UnixMilli(), now.Add(maxAhead).UnixMilli(), &rej)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := writeMetrics(ctx, dst, md, &rej); err != nil {
			t.Fatalf("write: %v", err)
		}
	})
}
