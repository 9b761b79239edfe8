package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestOTLPSideBySide sends the same OTLP/HTTP protobuf requests to obs and
// to the receiver a user would otherwise run for each signal — Jaeger v2
// for traces, VictoriaMetrics for metrics, VictoriaLogs for logs, all
// built from the module proxy into the engine cache — and reads each back
// through its own query API: the same spans (count, services, names,
// parents, kinds, start times, durations, events, errors, attributes), the
// same series names, labels and values, the same log records and fields.
// Where they differ by design, the difference is asserted as such, with
// the reason beside it, so that a change on either side shows here:
//   - traces: span names lowercased and a sub-microsecond span 1 µs long
//     in obs (Zipkin's model), 0 µs in Jaeger; INTERNAL, links and
//     peer.service said as the OTel Zipkin exporter says them (span.kind
//     tag, otlp.link.N tags, remote endpoint), not as Jaeger's model does;
//   - metrics: job, instance and target_info from the resource in obs
//     (Prometheus's receiver), every resource attribute on every series in
//     VictoriaMetrics; an exponential histogram is a native histogram in
//     obs, _count/_sum/_bucket{vmrange} series in VictoriaMetrics;
//   - logs: obs makes a map body's keys fields (VictoriaLogs keeps it as
//     JSON text), keeps severity_number, event_name, the scope and the
//     observed time (VictoriaLogs v1.116.0 drops them), keeps an
//     attribute named like one of its own fields under attributes.<name>,
//     and writes a 64-bit trace id in 16 digits as its span store does.
func TestOTLPSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Jaeger, VictoriaMetrics and VictoriaLogs")
	}
	s := newServer(t)
	now := time.Now().Add(-10 * time.Second).Truncate(time.Millisecond)
	t.Run("traces", func(t *testing.T) { sideBySideTraces(t, s, startJaeger(t, ""), now) })
	t.Run("metrics", func(t *testing.T) {
		// Without the flag VictoriaMetrics keeps OTel's names as they are
		// (orders.placed, label service.name); with it, it translates as
		// Prometheus's OTLP receiver does, which is what obs follows.
		sideBySideMetrics(t, s, startVictoriaMetrics(t, "-opentelemetry.usePrometheusNaming"), now)
	})
	t.Run("logs", func(t *testing.T) {
		_, vl := startVictoriaLogs(t)
		sideBySideLogs(t, s, vl, now)
	})
}

// postOTLP posts one OTLP/HTTP protobuf request and returns the answer's
// body; anything but 2xx fails the test.
func postOTLP(t *testing.T, u string, body []byte) []byte {
	t.Helper()
	resp, err := http.Post(u, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s: %s", u, resp.Status, b)
	}
	return b
}

// ---- traces ----

var (
	peerTrace1 = pcommon.TraceID{0x5e, 0x1d, 0xe0, 15: 1}
	peerTrace2 = pcommon.TraceID{0x5e, 0x1d, 0xe0, 15: 2}
)

// peerTraces is two traces of three services: a checkout whose server span
// failed, its client call to payments (payments' server span a child of
// it, as OpenTelemetry makes it), an internal span of a microsecond and a
// half and one shorter than a microsecond; and a worker consuming the
// order, linked to the checkout, that queries a database.
func peerTraces(now time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	at := func(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(now.Add(d)) }
	resource := func(service string) ptrace.SpanSlice {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", service)
		rs.Resource().Attributes().PutStr("service.namespace", "shop")
		rs.Resource().Attributes().PutStr("host.name", "box-1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("e2e/peers")
		ss.Scope().SetVersion("1.0.0")
		return ss.Spans()
	}
	span := func(spans ptrace.SpanSlice, trace pcommon.TraceID, id, parent byte, name string, kind ptrace.SpanKind, start, end time.Duration) ptrace.Span {
		sp := spans.AppendEmpty()
		sp.SetTraceID(trace)
		sp.SetSpanID(pcommon.SpanID{0xa0, 7: id})
		if parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{0xa0, 7: parent})
		}
		sp.SetName(name)
		sp.SetKind(kind)
		sp.SetStartTimestamp(at(start))
		sp.SetEndTimestamp(at(end))
		return sp
	}
	checkout := resource("checkout")
	root := span(checkout, peerTrace1, 1, 0, "POST /checkout", ptrace.SpanKindServer, 0, 120*time.Millisecond)
	root.Attributes().PutStr("http.request.method", "POST")
	root.Attributes().PutStr("http.route", "/checkout")
	root.Attributes().PutInt("http.response.status_code", 502)
	root.Status().SetCode(ptrace.StatusCodeError)
	root.Status().SetMessage("upstream failed")
	ev := root.Events().AppendEmpty()
	ev.SetName("validated")
	ev.SetTimestamp(at(5 * time.Millisecond))
	charge := span(checkout, peerTrace1, 2, 1, "charge", ptrace.SpanKindClient, 10*time.Millisecond, 90*time.Millisecond)
	charge.Attributes().PutStr("peer.service", "payments")
	charge.Attributes().PutStr("server.address", "10.1.2.3")
	charge.Attributes().PutInt("server.port", 443)
	span(checkout, peerTrace1, 3, 1, "render", ptrace.SpanKindInternal, 95*time.Millisecond, 96*time.Millisecond+500*time.Microsecond+500)
	span(checkout, peerTrace1, 4, 3, "cache lookup", ptrace.SpanKindInternal, 95*time.Millisecond+100*time.Microsecond, 95*time.Millisecond+100*time.Microsecond+700)

	payments := resource("payments")
	auth := span(payments, peerTrace1, 5, 2, "authorize", ptrace.SpanKindServer, 20*time.Millisecond, 80*time.Millisecond)
	auth.Attributes().PutStr("payment.method", "card")

	worker := resource("worker")
	consume := span(worker, peerTrace2, 0x11, 0, "orders process", ptrace.SpanKindConsumer, 200*time.Millisecond, 260*time.Millisecond)
	consume.Attributes().PutStr("messaging.system", "kafka")
	link := consume.Links().AppendEmpty()
	link.SetTraceID(peerTrace1)
	link.SetSpanID(pcommon.SpanID{0xa0, 7: 1})
	db := span(worker, peerTrace2, 0x12, 0x11, "SELECT orders", ptrace.SpanKindClient, 210*time.Millisecond, 230*time.Millisecond)
	db.Attributes().PutStr("db.system", "postgresql")
	return td
}

// obsSpan is a span as obs's Zipkin API answers it.
type obsSpan struct {
	TraceID, ID, ParentID string
	Name, Kind            string
	Timestamp, Duration   int64
	LocalEndpoint         struct{ ServiceName string }
	RemoteEndpoint        struct{ ServiceName string }
	Tags                  map[string]string
	Annotations           []struct {
		Timestamp int64
		Value     string
	}
}

// jaegerTrace is Jaeger's /api/traces/{id} answer (its UI's JSON model).
type jaegerTrace struct {
	Data []struct {
		Spans []struct {
			SpanID, OperationName, ProcessID string
			References                       []struct{ RefType, TraceID, SpanID string }
			StartTime, Duration              int64
			Tags                             []jaegerKV
			Logs                             []struct{ Timestamp int64 }
		}
		Processes map[string]struct{ ServiceName string }
	}
}

type jaegerKV struct {
	Key   string
	Value any
}

func jaegerTag(kvs []jaegerKV, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return fmt.Sprint(kv.Value), true
		}
	}
	return "", false
}

// jaegerGet decodes a GET of Jaeger's query API.
func jaegerGet(t *testing.T, j *jaeger, path string, out any) {
	t.Helper()
	resp, err := http.Get(j.queryURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("Jaeger %s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("Jaeger %s: %v: %s", path, err, b)
	}
}

func sideBySideTraces(t *testing.T, s *server, j *jaeger, now time.Time) {
	td := peerTraces(now)
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	// Both answer once the spans are stored: obs fsyncs before it
	// answers, Jaeger runs no batch processor (startJaeger).
	postOTLP(t, "http://"+s.otlpHTTP+"/v1/traces", body)
	postOTLP(t, j.otlpURL, body)

	zipkinURL := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	total := 0
	for _, tid := range []pcommon.TraceID{peerTrace1, peerTrace2} {
		var mine []obsSpan
		if code := s.getJSON(t, zipkinURL, "/api/v2/trace/"+tid.String(), &mine); code != 200 {
			t.Fatalf("obs: trace %s: HTTP %d", tid, code)
		}
		var theirs jaegerTrace
		jaegerGet(t, j, "/api/traces/"+tid.String(), &theirs)
		if len(theirs.Data) != 1 {
			t.Fatalf("Jaeger: trace %s: %d traces", tid, len(theirs.Data))
		}
		jt := theirs.Data[0]
		if len(mine) != len(jt.Spans) {
			t.Errorf("trace %s: obs has %d spans, Jaeger %d", tid, len(mine), len(jt.Spans))
		}
		total += len(mine)
		byID := map[string]obsSpan{}
		for _, sp := range mine {
			byID[sp.ID] = sp
		}
		for _, js := range jt.Spans {
			o, ok := byID[js.SpanID]
			if !ok {
				t.Errorf("span %s (%s) in Jaeger, not in obs", js.SpanID, js.OperationName)
				continue
			}
			what := fmt.Sprintf("span %s %q", js.SpanID, js.OperationName)
			if svc := jt.Processes[js.ProcessID].ServiceName; o.LocalEndpoint.ServiceName != svc {
				t.Errorf("%s: service obs %q, Jaeger %q", what, o.LocalEndpoint.ServiceName, svc)
			}
			// Zipkin's model lowercases span names (zipkin2.Span's
			// builder does, and so the Zipkin API and UI show them), and
			// obs is a Zipkin server; Jaeger keeps the case.
			if o.Name != strings.ToLower(js.OperationName) {
				t.Errorf("%s: name obs %q, Jaeger %q", what, o.Name, js.OperationName)
			}
			if o.Timestamp != js.StartTime {
				t.Errorf("%s: start obs %d µs, Jaeger %d µs", what, o.Timestamp, js.StartTime)
			}
			// Both count microseconds, truncating; a span shorter than
			// one is 1 µs in obs, as the Zipkin exporter and Zipkin's own
			// reporters make it (Zipkin reads a duration of 0 as "not
			// known"), and 0 in Jaeger.
			if js.OperationName == "cache lookup" {
				if o.Duration != 1 || js.Duration != 0 {
					t.Errorf("%s (700 ns): duration obs %d µs, Jaeger %d µs; want 1 and 0", what, o.Duration, js.Duration)
				}
			} else if o.Duration != js.Duration {
				t.Errorf("%s: duration obs %d µs, Jaeger %d µs", what, o.Duration, js.Duration)
			}
			parent := ""
			var links []string
			for _, r := range js.References {
				switch r.RefType {
				case "CHILD_OF":
					parent = r.SpanID
				case "FOLLOWS_FROM":
					links = append(links, r.TraceID+"|"+r.SpanID)
				}
			}
			if o.ParentID != parent {
				t.Errorf("%s: parent obs %q, Jaeger %q", what, o.ParentID, parent)
			}
			// A link: a FOLLOWS_FROM reference in Jaeger's model; Zipkin
			// has no links, so obs keeps each as a tag (trace|span|...).
			for i, l := range links {
				if tag := o.Tags[fmt.Sprintf("otlp.link.%d", i)]; !strings.HasPrefix(tag, l+"|") {
					t.Errorf("%s: link %s, obs tag %q", what, l, tag)
				}
			}
			if hasLinks := len(links) > 0; hasLinks != (js.OperationName == "orders process") {
				t.Errorf("%s: links %v", what, links)
			}
			// Kinds: Zipkin has no INTERNAL, so obs says it in the
			// span.kind tag as the OTel Zipkin exporter does; Jaeger says
			// every kind in that tag.
			kind, _ := jaegerTag(js.Tags, "span.kind")
			if got := cmpOr(strings.ToLower(o.Kind), o.Tags["span.kind"]); got != kind {
				t.Errorf("%s: kind obs %q, Jaeger %q", what, got, kind)
			}
			// Status ERROR: Jaeger tags error=true and the message apart;
			// Zipkin's error tag holds the message itself.
			if jerr, _ := jaegerTag(js.Tags, "error"); jerr == "true" {
				msg, _ := jaegerTag(js.Tags, "otel.status_description")
				if o.Tags["error"] != msg || msg == "" {
					t.Errorf("%s: error obs %q, Jaeger %q", what, o.Tags["error"], msg)
				}
			} else if _, ok := o.Tags["error"]; ok {
				t.Errorf("%s: an error in obs only: %q", what, o.Tags["error"])
			}
			// Attributes are tags in both (obs's hold strings: Zipkin tags
			// are strings); peer.service is the remote endpoint in obs, as
			// the Zipkin exporter maps it.
			for _, k := range []string{"http.request.method", "http.route", "http.response.status_code", "server.address",
				"server.port", "payment.method", "messaging.system", "db.system"} {
				jv, ok := jaegerTag(js.Tags, k)
				if ov, ook := o.Tags[k]; ok != ook || ov != jv {
					t.Errorf("%s: tag %s obs %q, Jaeger %q", what, k, ov, jv)
				}
			}
			if peer, ok := jaegerTag(js.Tags, "peer.service"); ok && o.RemoteEndpoint.ServiceName != peer {
				t.Errorf("%s: peer.service %q, obs's remote service %q", what, peer, o.RemoteEndpoint.ServiceName)
			}
			// Events: Jaeger's logs, Zipkin's annotations, at the same time.
			if len(o.Annotations) != len(js.Logs) {
				t.Errorf("%s: %d annotations in obs, %d logs in Jaeger", what, len(o.Annotations), len(js.Logs))
			}
			for i := range min(len(o.Annotations), len(js.Logs)) {
				if o.Annotations[i].Timestamp != js.Logs[i].Timestamp {
					t.Errorf("%s: event %d at %d in obs, %d in Jaeger", what, i, o.Annotations[i].Timestamp, js.Logs[i].Timestamp)
				}
			}
		}
	}
	if total != td.SpanCount() {
		t.Errorf("obs has %d spans, %d sent", total, td.SpanCount())
	}
	t.Logf("%d spans in 2 traces compared with Jaeger's", total)

	// The services, and each one's span names, as the search pages list them.
	var mine []string
	s.getJSON(t, zipkinURL, "/api/v2/services", &mine)
	var theirs struct{ Data []string }
	jaegerGet(t, j, "/api/services", &theirs)
	sort.Strings(theirs.Data)
	if want := []string{"checkout", "payments", "worker"}; !slices.Equal(mine, want) || !slices.Equal(theirs.Data, want) {
		t.Errorf("services: obs %v, Jaeger %v, want %v", mine, theirs.Data, want)
	}
	for _, svc := range []string{"checkout", "payments", "worker"} {
		var names []string
		s.getJSON(t, zipkinURL, "/api/v2/spans?serviceName="+svc, &names)
		var ops struct{ Data []string }
		jaegerGet(t, j, "/api/services/"+svc+"/operations", &ops)
		var lower []string
		for _, n := range ops.Data {
			lower = append(lower, strings.ToLower(n))
		}
		sort.Strings(lower)
		if !slices.Equal(names, lower) {
			t.Errorf("%s's span names: obs %v, Jaeger %v (lowercased)", svc, names, lower)
		}
	}
}

// cmpOr is the first non-empty string.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ---- metrics ----

// peerMetrics is one service's metrics of every OTLP type: a monotonic
// sum with two series, a non-monotonic sum, gauges with a byte unit and
// the unit "1", an explicit-bucket histogram, a summary, an exponential
// histogram, and a delta sum, which both refuse.
func peerMetrics(now time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	res := rm.Resource().Attributes()
	res.PutStr("service.name", "checkout")
	res.PutStr("service.namespace", "shop")
	res.PutStr("service.instance.id", "c-1")
	res.PutStr("deployment.environment.name", "e2e")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("e2e/peers")
	ts := pcommon.NewTimestampFromTime(now)
	start := pcommon.NewTimestampFromTime(now.Add(-time.Minute))
	metric := func(name, unit string) pmetric.Metric {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		return m
	}
	number := func(dps pmetric.NumberDataPointSlice, v float64, kv ...string) {
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		if v == float64(int64(v)) {
			dp.SetIntValue(int64(v))
		} else {
			dp.SetDoubleValue(v)
		}
		for i := 0; i < len(kv); i += 2 {
			dp.Attributes().PutStr(kv[i], kv[i+1])
		}
	}
	orders := metric("orders.placed", "{order}").SetEmptySum()
	orders.SetIsMonotonic(true)
	orders.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	number(orders.DataPoints(), 3, "payment.method", "card")
	number(orders.DataPoints(), 2, "payment.method", "cash")
	queue := metric("queue.depth", "{item}").SetEmptySum()
	queue.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	number(queue.DataPoints(), 7)
	number(metric("process.memory.usage", "By").SetEmptyGauge().DataPoints(), 1.5e6)
	number(metric("system.cpu.utilization", "1").SetEmptyGauge().DataPoints(), 0.25)
	number(metric("transfer.rate", "By/s").SetEmptyGauge().DataPoints(), 2048)

	h := metric("http.server.request.duration", "s").SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hp := h.DataPoints().AppendEmpty()
	hp.SetStartTimestamp(start)
	hp.SetTimestamp(ts)
	hp.Attributes().PutStr("http.route", "/checkout")
	hp.ExplicitBounds().FromRaw([]float64{0.1, 0.5, 1})
	hp.BucketCounts().FromRaw([]uint64{1, 2, 0, 1})
	hp.SetCount(4)
	hp.SetSum(2.9)

	sum := metric("rpc.latency", "ms").SetEmptySummary()
	sp := sum.DataPoints().AppendEmpty()
	sp.SetStartTimestamp(start)
	sp.SetTimestamp(ts)
	sp.SetCount(5)
	sp.SetSum(100)
	for q, v := range map[float64]float64{0.5: 12, 0.99: 40} {
		qv := sp.QuantileValues().AppendEmpty()
		qv.SetQuantile(q)
		qv.SetValue(v)
	}

	e := metric("http.client.duration", "s").SetEmptyExponentialHistogram()
	e.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	ep := e.DataPoints().AppendEmpty()
	ep.SetStartTimestamp(start)
	ep.SetTimestamp(ts)
	ep.SetScale(0)
	ep.SetCount(3)
	ep.SetSum(3.5)
	ep.Positive().SetOffset(0)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 2})

	delta := metric("requests.delta", "{request}").SetEmptySum()
	delta.SetIsMonotonic(true)
	delta.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	number(delta.DataPoints(), 1)
	return md
}

// promAPI is a Prometheus-compatible query API: obs's or VictoriaMetrics'.
type promAPI string

func (p promAPI) get(t *testing.T, path string, q url.Values, out any) {
	t.Helper()
	resp, err := http.Get(string(p) + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s%s?%s: %s: %s", p, path, q.Encode(), resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s%s: %v: %s", p, path, err, b)
	}
}

// series lists the series match selects, each as its label set.
func (p promAPI) series(t *testing.T, match string) []map[string]string {
	t.Helper()
	var out struct{ Data []map[string]string }
	p.get(t, "/api/v1/series", url.Values{"match[]": {match}, "start": {strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)},
		"end": {strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)}}, &out)
	return out.Data
}

// value is the one sample q finds now, or NaN when it finds none or more.
func (p promAPI) value(t *testing.T, q string) float64 {
	t.Helper()
	var out promResp
	p.get(t, "/api/v1/query", url.Values{"query": {q}}, &out)
	if len(out.Data.Result) != 1 {
		t.Errorf("%s at %s: %d results", q, p, len(out.Data.Result))
		return -1
	}
	v, _ := strconv.ParseFloat(fmt.Sprint(out.Data.Result[0].Value[1]), 64)
	return v
}

// selector writes a label set as a PromQL selector.
func selector(ls map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, ls[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func sideBySideMetrics(t *testing.T, s *server, vm *engine, now time.Time) {
	req := pmetricotlp.NewExportRequestFromMetrics(peerMetrics(now))
	body, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	// obs says what it refused (the delta sum's one point); VictoriaMetrics
	// drops it too, answering only 204 (it counts it in
	// vm_protoparser_rows_dropped_total).
	answer := pmetricotlp.NewExportResponse()
	if err := answer.UnmarshalProto(postOTLP(t, "http://"+s.otlpHTTP+"/v1/metrics", body)); err != nil {
		t.Fatal(err)
	}
	if ps := answer.PartialSuccess(); ps.RejectedDataPoints() != 1 || !strings.Contains(ps.ErrorMessage(), "delta") {
		t.Errorf("obs's partial success: %d rejected, %q", ps.RejectedDataPoints(), ps.ErrorMessage())
	}
	postOTLP(t, vm.queryURL+"/opentelemetry/v1/metrics", body)

	obs, vmq := promAPI(s.url()), promAPI(vm.queryURL)
	// The resource: Prometheus's receiver (and so obs) makes job
	// (service.namespace/service.name) and instance (service.instance.id)
	// of it and keeps the other resource attributes in target_info only;
	// VictoriaMetrics puts every resource attribute on every series.
	resourceLabels := map[string]string{"service_name": "checkout", "service_namespace": "shop",
		"service_instance_id": "c-1", "deployment_environment_name": "e2e"}
	var theirs []map[string]string
	eventually(t, time.Minute, func() error {
		theirs = vmq.series(t, `{service_name="checkout"}`)
		if len(theirs) == 0 {
			return fmt.Errorf("VictoriaMetrics has no series yet")
		}
		return nil
	})
	mine := obs.series(t, `{job="shop/checkout"}`)
	mineByKey, theirsByKey := map[string]map[string]string{}, map[string]map[string]string{}
	for _, ls := range mine {
		if ls["instance"] != "c-1" {
			t.Errorf("obs series without instance c-1: %v", ls)
		}
		pt := maps.Clone(ls)
		delete(pt, "job")
		delete(pt, "instance")
		mineByKey[selector(pt)] = ls
	}
	for _, ls := range theirs {
		pt := maps.Clone(ls)
		for k, v := range resourceLabels {
			if pt[k] != v {
				t.Errorf("VictoriaMetrics series without %s=%q: %v", k, v, ls)
			}
			delete(pt, k)
		}
		theirsByKey[selector(pt)] = ls
	}
	// What only one side has, each for a reason:
	// - target_info, the resource's attributes but those job and
	//   instance are made of: Prometheus's receiver writes it,
	//   VictoriaMetrics has them on every series;
	// - the exponential histogram: a native histogram in obs (Prometheus
	//   stores one so, under the bare name), classic-looking _count, _sum
	//   and _bucket{vmrange} series in VictoriaMetrics, which has no native
	//   histograms; their count and sum agree (below).
	onlyMine := []string{`{__name__="http_client_duration_seconds"}`,
		`{__name__="target_info",deployment_environment_name="e2e"}`}
	onlyTheirs := []string{`{__name__="http_client_duration_seconds_bucket",vmrange="1.000e+00...2.000e+00"}`,
		`{__name__="http_client_duration_seconds_bucket",vmrange="2.000e+00...4.000e+00"}`,
		`{__name__="http_client_duration_seconds_count"}`, `{__name__="http_client_duration_seconds_sum"}`}
	var gotMine, gotTheirs []string
	for k := range mineByKey {
		if _, ok := theirsByKey[k]; !ok {
			gotMine = append(gotMine, k)
		}
	}
	for k := range theirsByKey {
		if _, ok := mineByKey[k]; !ok {
			gotTheirs = append(gotTheirs, k)
		}
	}
	sort.Strings(gotMine)
	sort.Strings(gotTheirs)
	if !slices.Equal(gotMine, onlyMine) || !slices.Equal(gotTheirs, onlyTheirs) {
		t.Errorf("series only in obs:\n  %s\nwant\n  %s\nonly in VictoriaMetrics:\n  %s\nwant\n  %s",
			strings.Join(gotMine, "\n  "), strings.Join(onlyMine, "\n  "), strings.Join(gotTheirs, "\n  "), strings.Join(onlyTheirs, "\n  "))
	}
	// The names both have: Prometheus's translation, suffixes and all.
	for _, want := range []string{"orders_placed_total", "queue_depth", "process_memory_usage_bytes", "system_cpu_utilization_ratio",
		"transfer_rate_bytes_per_second", "http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count",
		"http_server_request_duration_seconds_sum", "rpc_latency_milliseconds", "rpc_latency_milliseconds_count", "rpc_latency_milliseconds_sum"} {
		found := false
		for k := range mineByKey {
			found = found || strings.HasPrefix(k, fmt.Sprintf(`{__name__=%q`, want))
		}
		if !found {
			t.Errorf("no %s in obs", want)
		}
	}
	compared := 0
	for k, ls := range mineByKey {
		if _, ok := theirsByKey[k]; !ok {
			continue
		}
		if a, b := obs.value(t, selector(ls)), vmq.value(t, selector(theirsByKey[k])); a != b {
			t.Errorf("%s: obs %v, VictoriaMetrics %v", k, a, b)
		}
		compared++
	}
	if compared < 14 {
		t.Errorf("only %d series compared", compared)
	}
	t.Logf("%d series in both compared by value; %d only in obs, %d only in VictoriaMetrics, as expected", compared, len(onlyMine), len(onlyTheirs))
	for q, want := range map[[2]string]float64{
		{`histogram_count(http_client_duration_seconds{job="shop/checkout"})`, `http_client_duration_seconds_count{service_name="checkout"}`}: 3,
		{`histogram_sum(http_client_duration_seconds{job="shop/checkout"})`, `http_client_duration_seconds_sum{service_name="checkout"}`}:     3.5,
	} {
		if a, b := obs.value(t, q[0]), vmq.value(t, q[1]); a != want || b != want {
			t.Errorf("exponential histogram: obs %s = %v, VictoriaMetrics %s = %v, want %v", q[0], a, q[1], b, want)
		}
	}
	// The delta sum is in neither.
	if n := len(obs.series(t, `{__name__=~"requests.*"}`)) + len(vmq.series(t, `{__name__=~"requests.*"}`)); n != 0 {
		t.Errorf("the delta sum was stored: %d series", n)
	}
}

// ---- logs ----

// startVictoriaLogs runs a single VictoriaLogs node; url is its base URL.
func startVictoriaLogs(t *testing.T) (p *proc, url string) {
	bin := engineBinary(t, "victoria-logs")
	port := freePort(t)
	p = startProc(t, "victoria-logs", bin, "http://"+loopback(port)+"/health",
		"-storageDataPath", t.TempDir(), "-httpListenAddr", loopback(port), "-loggerLevel", "ERROR", "-retentionPeriod", "30d")
	return p, "http://" + loopback(port)
}

// peerLogs is one service's log records: a string body with trace ids
// and typed attributes, a map body, one with only an observed time and a
// severity number, one whose attribute is named as a field obs sets
// itself, one with an event name, one with a 64-bit trace id padded to
// 128. Each carries rec=N to pair it up.
func peerLogs(now time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("host.name", "box-1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("e2e/peers")
	rec := func(n int, at time.Duration) plog.LogRecord {
		lr := sl.LogRecords().AppendEmpty()
		lr.Attributes().PutStr("rec", strconv.Itoa(n))
		if at >= 0 {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(at)))
		}
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Second)))
		return lr
	}
	r1 := rec(1, 0)
	r1.Body().SetStr("payment declined for order A-17")
	r1.SetSeverityNumber(plog.SeverityNumberError)
	r1.SetSeverityText("ERROR")
	r1.SetTraceID(peerTrace1)
	r1.SetSpanID(pcommon.SpanID{0xa0, 7: 2})
	r1.Attributes().PutStr("order.id", "A-17")
	r1.Attributes().PutInt("attempt", 2)
	r1.Attributes().PutBool("retryable", false)

	r2 := rec(2, time.Millisecond)
	user := r2.Body().SetEmptyMap()
	user.PutStr("action", "login")
	user.PutEmptyMap("user").PutInt("id", 7)
	r2.SetSeverityNumber(plog.SeverityNumberInfo)
	r2.SetSeverityText("INFO")

	r3 := rec(3, -1) // observed time only
	r3.Body().SetStr("queue is long")
	r3.SetSeverityNumber(plog.SeverityNumberWarn)

	r4 := rec(4, 3*time.Millisecond)
	r4.Body().SetStr("with a field named message")
	r4.Attributes().PutStr("message", "an attribute")
	r4.SetSeverityText("DEBUG")

	r5 := rec(5, 4*time.Millisecond)
	r5.Body().SetStr("order placed")
	r5.SetEventName("order.placed")
	r5.SetSeverityNumber(plog.SeverityNumberInfo)
	r5.SetSeverityText("INFO")

	r6 := rec(6, 5*time.Millisecond)
	r6.Body().SetStr("in a trace begun by a B3 caller")
	r6.SetTraceID(pcommon.TraceID{8: 0x64, 15: 0x01}) // 64 bits, padded
	r6.SetSpanID(pcommon.SpanID{0xb3, 7: 1})
	return ld
}

// vlQuery runs LogsQL on a VictoriaLogs node and decodes the JSON lines.
func vlQuery(t *testing.T, base, q string) []map[string]any {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("LogsQL %q: %s: %s", q, resp.Status, b)
	}
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("LogsQL answer: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func sideBySideLogs(t *testing.T, s *server, vl string, now time.Time) {
	ld := peerLogs(now)
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	postOTLP(t, "http://"+s.otlpHTTP+"/v1/logs", body)
	postOTLP(t, vl+"/insert/opentelemetry/v1/logs", body)

	mine := s.waitEvents(`service.name:"checkout"`, ld.LogRecordCount())
	var theirs []map[string]any
	eventually(t, time.Minute, func() error {
		if theirs = vlQuery(t, vl, `service.name:checkout`); len(theirs) != ld.LogRecordCount() {
			return fmt.Errorf("VictoriaLogs has %d records, want %d", len(theirs), ld.LogRecordCount())
		}
		return nil
	})
	byRec := map[string]map[string]any{}
	for _, ev := range mine {
		byRec[fmt.Sprint(ev["rec"])] = ev
	}
	// What VictoriaLogs sets itself and obs names otherwise, or not at all.
	vlOwn := map[string]bool{"_msg": true, "_time": true, "_stream": true, "_stream_id": true, "severity": true}
	// What obs keeps that VictoriaLogs v1.116.0 drops: the severity number
	// beside its text, the event name, the scope, the observed time when
	// it is not the record's time.
	obsOnly := map[string]bool{"@timestamp": true, "message": true, "severity_text": true, "severity_number": true,
		"event_name": true, "otel.scope.name": true, "observed_timestamp": true}
	for _, v := range theirs {
		rec := fmt.Sprint(v["rec"])
		o := byRec[rec]
		if o == nil {
			t.Errorf("record %s in VictoriaLogs, not in obs", rec)
			continue
		}
		// The same instant (time, else observed time), nanoseconds kept.
		vt, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(v["_time"]))
		ot, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(o["@timestamp"]))
		if err1 != nil || err2 != nil || !vt.Equal(ot) {
			t.Errorf("record %s: time obs %v, VictoriaLogs %v", rec, o["@timestamp"], v["_time"])
		}
		// Severity: VictoriaLogs keeps the text, else names the number
		// (Unspecified for none); obs keeps both as sent, and no field
		// for what was not sent.
		wantSev := fmt.Sprint(o["severity_text"])
		if o["severity_text"] == nil {
			n, _ := o["severity_number"].(float64)
			wantSev = plog.SeverityNumber(int32(n)).String()
		}
		if v["severity"] != wantSev {
			t.Errorf("record %s: severity obs %q (number %v), VictoriaLogs %q", rec, wantSev, o["severity_number"], v["severity"])
		}
		switch rec {
		case "2":
			// A map body: VictoriaLogs keeps it as JSON text in _msg; obs
			// makes its keys fields, which KQL searches one by one
			// (user.id:7), and has no message.
			var msg map[string]any
			if err := json.Unmarshal([]byte(fmt.Sprint(v["_msg"])), &msg); err != nil || fmt.Sprint(msg) != "map[action:login user:map[id:7]]" {
				t.Errorf("record 2: VictoriaLogs _msg %q", v["_msg"])
			}
			if o["message"] != nil || o["action"] != "login" || fmt.Sprint(o["user"]) != "map[id:7]" {
				t.Errorf("record 2 in obs: %v", o)
			}
		case "4":
			// An attribute named as a field obs sets itself is kept
			// under attributes.<name>; VictoriaLogs has one namespace
			// for both and its _msg apart.
			if v["message"] != "an attribute" || o["attributes.message"] != "an attribute" || o["message"] != v["_msg"] {
				t.Errorf("record 4: obs message %q attributes.message %q, VictoriaLogs _msg %q message %q",
					o["message"], o["attributes.message"], v["_msg"], v["message"])
			}
		default:
			if o["message"] != v["_msg"] {
				t.Errorf("record %s: message obs %q, VictoriaLogs %q", rec, o["message"], v["_msg"])
			}
		}
		// A 64-bit trace id (B3 from a Zipkin-instrumented caller, padded
		// by the SDK): obs writes it in 16 digits, as its span store and
		// Zipkin name the trace, so that the trace's page finds the
		// record; VictoriaLogs keeps the 32.
		if rec == "6" && (o["trace_id"] != "6400000000000001" || v["trace_id"] != "00000000000000006400000000000001") {
			t.Errorf("record 6: trace_id obs %v, VictoriaLogs %v", o["trace_id"], v["trace_id"])
		}
		// Every other field, resource attributes, attributes and ids, is
		// in both with the same text (obs keeps JSON types: 2, false).
		for k, vv := range v {
			if vlOwn[k] || k == "message" && rec == "4" || k == "trace_id" && rec == "6" {
				continue
			}
			if ov, ok := o[k]; !ok || fmt.Sprint(ov) != fmt.Sprint(vv) {
				t.Errorf("record %s: %s obs %v, VictoriaLogs %v", rec, k, o[k], vv)
			}
		}
		for k := range o {
			if _, ok := v[k]; !ok && !obsOnly[k] && !(rec == "2" && (k == "action" || k == "user")) && !(rec == "4" && k == "attributes.message") {
				t.Errorf("record %s: %s=%v in obs only", rec, k, o[k])
			}
		}
		if rec == "5" && (o["event_name"] != "order.placed" || v["event_name"] != nil) {
			t.Errorf("record 5: event_name obs %v, VictoriaLogs %v", o["event_name"], v["event_name"])
		}
	}
	t.Logf("%d log records compared with VictoriaLogs'", len(theirs))
	// The trace link: the same hex ids, so both find the record by its trace.
	if n, m := len(s.searchJSON(fmt.Sprintf(`trace_id:"%s"`, peerTrace1))), len(vlQuery(t, vl, fmt.Sprintf(`trace_id:%q`, peerTrace1.String()))); n != 1 || m != 1 {
		t.Errorf("by trace_id: obs %d, VictoriaLogs %d", n, m)
	}
}
