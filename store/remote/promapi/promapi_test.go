package promapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/obs-dev/obs/query/promql"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/promapi"
	"github.com/obs-dev/obs/web"
)

// The client is held to a real Prometheus API: obs's own (the upstream
// PromQL engine over a TSDB). The e2e suite holds it to VictoriaMetrics
// and Thanos.
func TestClientAgainstPrometheusAPI(t *testing.T) {
	st, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().Truncate(time.Second).UnixMilli()
	var in []metrics.Sample
	for i := range 5 {
		ts := now - int64(4-i)*10_000
		in = append(in, metrics.Sample{Name: "stats.gauges.app.temp", TS: ts, Value: float64(20 + i), Labels: []metrics.Label{{Name: "room", Value: "kitchen"}}},
			metrics.Sample{Name: "stats_counts.app.hits", TS: ts, Value: float64(i)})
	}
	if err := st.Write(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Deps{Metrics: st, Registry: prometheus.NewRegistry(), Health: web.NewHealth(),
		Security: web.Security{Loopback: true}}).Handler())
	defer srv.Close()
	c, err := promapi.New(endpoint.Config{URL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A Graphite glob's regexp matches the empty string: still a valid selector.
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", `stats[^.]*\.app\.[^.]*`)
	ss, err := c.Select(ctx, now-25_000, now, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != "stats_counts.app.hits" || !slices.Equal(ss[0].Values, []float64{2, 3, 4}) {
		t.Errorf("Select = %+v, want the hits counter's last three samples", ss)
	}
	all := labels.MustNewMatcher(labels.MatchRegexp, "__name__", `.*`)
	ss, err = c.Select(ctx, now-40_000, now, all)
	if err != nil || len(ss) != 2 {
		t.Fatalf("Select .* = %v, %v", ss, err)
	}
	for _, s := range ss {
		if s.Name == "stats.gauges.app.temp" && (s.Labels["room"] != "kitchen" || len(s.TS) != 5 || s.TS[4] != now) {
			t.Errorf("gauge %+v", s)
		}
	}
	known, err := c.SeriesIn(ctx, 0, now, all)
	if err != nil || len(known) != 2 {
		t.Errorf("SeriesIn = %v, %v", known, err)
	}
	names, err := c.Names(ctx, 0, now)
	if err != nil || !slices.Equal(names, []string{"stats.gauges.app.temp", "stats_counts.app.hits"}) {
		t.Errorf("Names = %v, %v", names, err)
	}
	rooms, err := c.LabelValues(ctx, "room", 0, now)
	if err != nil || !slices.Equal(rooms, []string{"kitchen"}) {
		t.Errorf("LabelValues = %v, %v", rooms, err)
	}
	vals, err := c.Values(ctx, `max_over_time({__name__="stats.gauges.app.temp"}[1m])`, time.Minute)
	if err != nil || len(vals) != 1 || slices.Max(vals[0]) != 24 {
		t.Errorf("Values = %v, %v", vals, err)
	}
	// The engine's errors come back with its type and status.
	_, err = c.Instant(ctx, "sum((", time.Now())
	var pe *promql.Error
	if !errors.As(err, &pe) || pe.Type != "bad_data" || pe.Status != http.StatusBadRequest {
		t.Errorf("bad query: %#v", err)
	}
}

func TestUnreachableEngine(t *testing.T) {
	c, err := promapi.New(endpoint.Config{URL: "http://user:pw-9876@127.0.0.1:1/?key=abc123"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Names(context.Background(), 0, 1)
	var pe *promql.Error
	if !errors.As(err, &pe) || pe.Type != "unavailable" || pe.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %#v", err)
	}
	for _, secret := range []string{"pw-9876", "abc123"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
}
