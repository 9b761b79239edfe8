package otlp

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/obs-dev/obs/store/metrics"
)

// metricsRig is a receiver over a real TSDB in a temporary directory.
func metricsRig(t *testing.T) (*rig, *metrics.Store) {
	st, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newRig(t, func(o *Options) { o.Metrics = metrics.AppendableV2(st) }), st
}

// newMetrics is a request with one resource (service.namespace shop,
// service.name cart, service.instance.id i-1, host.name box1) and one scope.
func newMetrics() (pmetric.Metrics, pmetric.MetricSlice) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	a := rm.Resource().Attributes()
	a.PutStr("service.namespace", "shop")
	a.PutStr("service.name", "cart")
	a.PutStr("service.instance.id", "i-1")
	a.PutStr("host.name", "box1")
	return md, rm.ScopeMetrics().AppendEmpty().Metrics()
}

func sum(ms pmetric.MetricSlice, name, unit string, monotonic bool, t pmetric.AggregationTemporality, v float64, at time.Time) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	s := m.SetEmptySum()
	s.SetIsMonotonic(monotonic)
	s.SetAggregationTemporality(t)
	p := s.DataPoints().AppendEmpty()
	p.SetDoubleValue(v)
	p.SetTimestamp(pcommon.NewTimestampFromTime(at))
	p.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(-time.Minute)))
	p.Attributes().PutStr("http.route", "/cart")
}

func gauge(ms pmetric.MetricSlice, name, unit string, v int64, at time.Time) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	p := m.SetEmptyGauge().DataPoints().AppendEmpty()
	p.SetIntValue(v)
	p.SetTimestamp(pcommon.NewTimestampFromTime(at))
}

func histogramMetric(ms pmetric.MetricSlice, name, unit string, at time.Time) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p := h.DataPoints().AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(at))
	p.SetCount(6)
	p.SetSum(1.5)
	p.ExplicitBounds().FromRaw([]float64{0.1, 1})
	p.BucketCounts().FromRaw([]uint64{3, 2, 1})
}

// The names and labels Prometheus's own OTLP receiver gives (its
// translation strategy UnderscoreEscapingWithSuffixes, the default).
func TestMetricNames(t *testing.T) {
	g, st := metricsRig(t)
	now := time.Now().Truncate(time.Millisecond)
	md, ms := newMetrics()
	cum := pmetric.AggregationTemporalityCumulative
	sum(ms, "http.server.requests", "1", true, cum, 7, now)
	sum(ms, "network.io", "By", true, cum, 1024, now)
	sum(ms, "queue.size", "{item}", false, cum, 3, now)
	gauge(ms, "process.memory.usage", "By", 4096, now)
	gauge(ms, "cpu.utilization", "1", 1, now)
	gauge(ms, "db.client.connections.max", "{connection}", 10, now)
	histogramMetric(ms, "http.server.request.duration", "s", now)
	e := ms.AppendEmpty()
	e.SetName("rpc.latency")
	e.SetUnit("ms")
	eh := e.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(cum)
	ep := eh.DataPoints().AppendEmpty()
	ep.SetTimestamp(pcommon.NewTimestampFromTime(now))
	ep.SetScale(0)
	ep.SetCount(3)
	ep.SetSum(7)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 2})
	sm := ms.AppendEmpty()
	sm.SetName("gc.pause")
	sm.SetUnit("s")
	sp := sm.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetTimestamp(pcommon.NewTimestampFromTime(now))
	sp.SetCount(4)
	sp.SetSum(0.2)
	q := sp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(0.1)

	body, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	code, _, b := g.post(PathMetrics, ctProto, "", body)
	resp := pmetricotlp.NewExportResponse()
	if err := resp.UnmarshalProto(b); code != 200 || err != nil || resp.PartialSuccess().RejectedDataPoints() != 0 {
		t.Fatalf("%d %v rejected %d %q", code, err, resp.PartialSuccess().RejectedDataPoints(), resp.PartialSuccess().ErrorMessage())
	}
	series, err := st.SeriesIn(context.Background(), now.Add(-time.Hour).UnixMilli(), now.Add(time.Hour).UnixMilli(),
		labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range series {
		if s.Labels["job"] != "shop/cart" || s.Labels["instance"] != "i-1" {
			t.Errorf("%s: job %q instance %q", s.Name, s.Labels["job"], s.Labels["instance"])
		}
		names = append(names, s.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	want := []string{"cpu_utilization_ratio", "db_client_connections_max", "gc_pause_seconds", "gc_pause_seconds_count",
		"gc_pause_seconds_sum", "http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count",
		"http_server_request_duration_seconds_sum", "http_server_requests_total", "network_io_bytes_total",
		"process_memory_usage_bytes", "queue_size", "rpc_latency_milliseconds", "target_info"}
	if !slices.Equal(names, want) {
		t.Errorf("names\n got %v\nwant %v", names, want)
	}
	// Values and labels: the counter with its attribute, target_info with
	// the resource's other attributes.
	sel := func(name string) []metrics.Series {
		t.Helper()
		out, err := st.Select(context.Background(), now.Add(-time.Hour).UnixMilli(), now.Add(time.Hour).UnixMilli(),
			labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name))
		if err != nil || len(out) == 0 {
			t.Fatalf("%s: %v %d series", name, err, len(out))
		}
		return out
	}
	if s := sel("http_server_requests_total")[0]; s.Labels["http_route"] != "/cart" || s.Values[len(s.Values)-1] != 7 {
		t.Errorf("counter %+v", s)
	}
	if s := sel("target_info")[0]; s.Labels["host_name"] != "box1" {
		t.Errorf("target_info %+v", s)
	}
	buckets := map[string]float64{}
	for _, s := range sel("http_server_request_duration_seconds_bucket") {
		buckets[s.Labels["le"]] = s.Values[0]
	}
	if buckets["0.1"] != 3 || buckets["1"] != 5 || buckets["+Inf"] != 6 {
		t.Errorf("buckets %v", buckets)
	}
	if n := g.counter("obs_otlp_items_total", "signal", "metrics", "transport", "http"); n != 9 {
		t.Errorf("items %v", n)
	}
}

// Delta temporality is refused as Prometheus refuses it by default, with
// a message that says what to change; the cumulative metrics of the same
// request are stored.
func TestMetricDeltaRefused(t *testing.T) {
	g, st := metricsRig(t)
	now := time.Now()
	md, ms := newMetrics()
	sum(ms, "jobs.done", "1", true, pmetric.AggregationTemporalityDelta, 2, now)
	sum(ms, "jobs.started", "1", true, pmetric.AggregationTemporalityCumulative, 5, now)
	h := ms.AppendEmpty()
	h.SetName("no.type")
	body, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
	code, _, b := g.post(PathMetrics, ctJSON, "", body)
	resp := pmetricotlp.NewExportResponse()
	resp.UnmarshalJSON(b)
	ps := resp.PartialSuccess()
	if code != 200 || ps.RejectedDataPoints() != 1 || !strings.Contains(ps.ErrorMessage(), "delta temporality is not stored") {
		t.Errorf("%d rejected %d %q", code, ps.RejectedDataPoints(), ps.ErrorMessage())
	}
	if n := g.counter("obs_otlp_rejected_total", "signal", "metrics", "reason", "delta"); n != 1 {
		t.Errorf("delta counted %v", n)
	}
	out, _ := st.SeriesIn(context.Background(), now.Add(-time.Hour).UnixMilli(), now.Add(time.Hour).UnixMilli(),
		labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "jobs.*"))
	if len(out) != 1 || out[0].Name != "jobs_started_total" {
		t.Errorf("stored %+v", out)
	}
}

// Data points dated long ago or far ahead are dropped (counted), the
// others kept; a point from 1970 must not make the translator write
// target_info every 2.5 minutes since then.
func TestMetricTimeBounds(t *testing.T) {
	g, st := metricsRig(t)
	now := time.Now()
	md, ms := newMetrics()
	gauge(ms, "temp", "", 20, now)
	gauge(ms, "temp.old", "", 1, time.Unix(1, 0))
	gauge(ms, "temp.ahead", "", 1, now.Add(time.Hour))
	body, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	code, _, b := g.post(PathMetrics, ctProto, "", body)
	resp := pmetricotlp.NewExportResponse()
	resp.UnmarshalProto(b)
	if code != 200 || resp.PartialSuccess().RejectedDataPoints() != 2 || g.counter("obs_otlp_rejected_total", "reason", "out_of_bounds") != 2 {
		t.Fatalf("%d %d %q", code, resp.PartialSuccess().RejectedDataPoints(), resp.PartialSuccess().ErrorMessage())
	}
	out, _ := st.SeriesIn(context.Background(), 0, now.Add(2*time.Hour).UnixMilli(),
		labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var names []string
	for _, s := range out {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"target_info", "temp"}) {
		t.Errorf("stored %v", names)
	}
	if n := st.Written.Load(); n != 2 {
		t.Errorf("samples written %d, want 2 (temp and one target_info)", n)
	}
}
