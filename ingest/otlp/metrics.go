package otlp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// maxAhead is how far in the future a data point may be, as Prometheus's
// OTLP receiver allows.
const maxAhead = 10 * time.Minute

// defaultMaxAge bounds how old a data point may be when no retention is
// given: Prometheus's translator writes target_info every 2.5 minutes
// between a request's oldest and newest point, so a point dated 1970 would
// cost millions of samples.
const defaultMaxAge = 365 * 24 * time.Hour

// promSettings are Prometheus's defaults for its OTLP receiver
// (otlp.translation_strategy UnderscoreEscapingWithSuffixes, no resource
// attributes promoted, target_info on, delta refused): a PromQL query
// written for Prometheus finds the same names and labels here.
var promSettings = prometheusremotewrite.Settings{AddMetricSuffixes: true, LookbackDelta: 5 * time.Minute}

var converters = sync.Pool{New: func() any { return prometheusremotewrite.NewPrometheusConverter(nil) }}

// rejections count a request's dropped data points by reason, keeping
// the first message.
type rejections struct {
	n     map[string]int
	total int
	first string
}

func (r *rejections) add(reason string, n int, msg string) {
	if n == 0 {
		return
	}
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[reason] += n
	if r.total == 0 {
		r.first = msg
	}
	r.total += n
}

// filterMetrics removes what Prometheus's OTLP receiver would not store,
// so that the rest of the request is written: metrics with delta or
// unspecified temporality (Prometheus refuses delta unless a feature
// flag converts it), metrics without a type, and data points dated
// before minTS or after maxTS (milliseconds).
func filterMetrics(md pmetric.Metrics, minTS, maxTS int64, rej *rejections) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
				if why, reason := unstorable(m); why != "" {
					rej.add(reason, pointCount(m), fmt.Sprintf("metric %q: %s", m.Name(), why))
					return true
				}
				n := removePoints(m, func(ts pcommon.Timestamp) bool {
					ms := int64(ts / 1e6)
					return ms < minTS || ms > maxTS
				})
				if n > 0 {
					rej.add("out_of_bounds", n, fmt.Sprintf("metric %q: %d data point(s) dated before the retention or more than %v ahead", m.Name(), n, maxAhead))
				}
				return pointCount(m) == 0 && n > 0
			})
		}
	}
}

// unstorable says why a metric cannot be stored, and the counter's reason.
func unstorable(m pmetric.Metric) (why, reason string) {
	var t pmetric.AggregationTemporality
	switch m.Type() {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSummary:
		return "", ""
	case pmetric.MetricTypeSum:
		t = m.Sum().AggregationTemporality()
	case pmetric.MetricTypeHistogram:
		t = m.Histogram().AggregationTemporality()
	case pmetric.MetricTypeExponentialHistogram:
		t = m.ExponentialHistogram().AggregationTemporality()
	default:
		return "no data type", "invalid"
	}
	switch t {
	case pmetric.AggregationTemporalityCumulative:
		return "", ""
	case pmetric.AggregationTemporalityDelta:
		return "delta temporality is not stored, as Prometheus does by default: " +
			"send cumulative (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative)", "delta"
	}
	return "aggregation temporality is unspecified", "invalid"
}

func pointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// removePoints removes a metric's data points whose time drop says so and
// returns how many.
func removePoints(m pmetric.Metric, drop func(pcommon.Timestamp) bool) int {
	n := 0
	count := func(ts pcommon.Timestamp) bool {
		if drop(ts) {
			n++
			return true
		}
		return false
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		m.Gauge().DataPoints().RemoveIf(func(p pmetric.NumberDataPoint) bool { return count(p.Timestamp()) })
	case pmetric.MetricTypeSum:
		m.Sum().DataPoints().RemoveIf(func(p pmetric.NumberDataPoint) bool { return count(p.Timestamp()) })
	case pmetric.MetricTypeHistogram:
		m.Histogram().DataPoints().RemoveIf(func(p pmetric.HistogramDataPoint) bool { return count(p.Timestamp()) })
	case pmetric.MetricTypeExponentialHistogram:
		m.ExponentialHistogram().DataPoints().RemoveIf(func(p pmetric.ExponentialHistogramDataPoint) bool { return count(p.Timestamp()) })
	case pmetric.MetricTypeSummary:
		m.Summary().DataPoints().RemoveIf(func(p pmetric.SummaryDataPoint) bool { return count(p.Timestamp()) })
	}
	return n
}

// writeMetrics converts what is left of md with Prometheus's own OTLP
// translator (storage/remote/otlptranslator/prometheusremotewrite: the
// names, suffixes, labels, job/instance and target_info Prometheus gives)
// and appends it in one transaction. Samples the TSDB refuses (out of
// order, duplicates) are counted, not fatal for the rest.
func writeMetrics(ctx context.Context, dst storage.AppendableV2, md pmetric.Metrics, rej *rejections) error {
	app := &countingAppender{AppenderV2: dst.AppenderV2(ctx)}
	conv := converters.Get().(*prometheusremotewrite.PrometheusConverter)
	conv.Reset(app)
	_, errs := conv.FromMetrics(ctx, md, promSettings)
	conv.Reset(nil)
	converters.Put(conv)
	if errors.Is(errs, context.Canceled) || errors.Is(errs, context.DeadlineExceeded) {
		app.Rollback()
		return fmt.Errorf("convert metrics: %w", errs)
	}
	if errs != nil {
		var list []error
		if j, ok := errs.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		} else {
			list = []error{errs}
		}
		rej.add("invalid", len(list), list[0].Error())
	}
	if app.failed > 0 {
		rej.add("store", app.failed, fmt.Sprintf("%d sample(s) refused by the TSDB; the first: %v", app.failed, app.firstErr))
	}
	// The store's Commit also reports the first sample it refused, counted
	// above; only another error is the write's.
	if err := app.AppenderV2.Commit(); err != nil && (app.firstCause == nil || !errors.Is(err, app.firstCause)) {
		return err
	}
	return nil
}

// countingAppender keeps converting past a sample the TSDB refuses (the
// translator stops a metric at its first error) and counts them.
type countingAppender struct {
	storage.AppenderV2
	appended, failed int
	firstErr         error
	firstCause       error // as the appender returned it
}

func (a *countingAppender) Append(ref storage.SeriesRef, l labels.Labels, st, t int64, v float64, h *histogram.Histogram,
	fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	r, err := a.AppenderV2.Append(ref, l, st, t, v, h, fh, opts)
	if err != nil {
		a.failed++
		if a.firstErr == nil {
			a.firstErr, a.firstCause = fmt.Errorf("%s: %w", l.Get(labels.MetricName), err), err
		}
		return 0, nil
	}
	a.appended++
	return r, nil
}
