package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/promapi"
)

// The scale-out tests: obs forwards everything it stores as metrics to a
// real engine by Prometheus remote write and reads it back through the
// engine's query API, for the CLI, the HTTP APIs and the checks.

func TestRemoteMetricsVictoriaMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs VictoriaMetrics")
	}
	remoteRoundTrip(t, startVictoriaMetrics(t))
}

func TestRemoteMetricsThanos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Thanos")
	}
	remoteRoundTrip(t, startThanos(t))
}

// remoteRoundTrip: StatsD (with DogStatsD tags) and carbon in, then `obs
// metrics query` with Graphite targets, `obs metrics promql`, `obs metrics
// list`, /metrics/find and metric checks (Graphite and PromQL) read the same
// values back from the engine.
func remoteRoundTrip(t *testing.T, e *engine) {
	cfg := filepath.Join(t.TempDir(), "obs.yaml")
	os.WriteFile(cfg, []byte(`services:
  - name: rt
    channels: [log]
    checks:
      - {name: rt-graphite, type: metric, target: "rt.carbon.a", check_type: ">", value: 100, interval: 1h}
      - {name: rt-promql, type: metric, promql: "max_over_time({__name__=\"rt.carbon.a\"}[10m])", check_type: ">=", value: 43, interval: 1h}
`), 0o600)
	s := serveRemote(t, e, "--config", cfg)
	now := time.Now().Unix()
	sendCarbon(t, s.carbon, []string{fmt.Sprintf("rt.carbon.a 41 %d", now-60), fmt.Sprintf("rt.carbon.a 42 %d", now-40),
		fmt.Sprintf("rt.carbon.a 43 %d", now-20), fmt.Sprintf("rt.carbon.b 7 %d", now-20)})
	u, err := net.Dial("udp", loopback(s.statsd))
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("rt.hits:5|c\nrt.hits:5|c\nrt.hits:5|c\nrt.temp:21.5|g|#room:kitchen"))
	u.Close()

	// Graphite target through the CLI, from the engine.
	eventually(t, 30*time.Second, func() error {
		out, err := s.obs("metrics", "query", "-o", "json", "--from", "-5min", "rt.carbon.a")
		if err != nil {
			return err
		}
		if got := nonNull(t, out); !slices.Equal(got, []float64{41, 42, 43}) {
			return fmt.Errorf("rt.carbon.a from %s = %v, want [41 42 43]", e.name, got)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		out, err := s.obs("metrics", "query", "-o", "json", "--from", "-5min", "sumSeries(stats_counts.rt.hits)")
		if err != nil {
			return err
		}
		if got := nonNull(t, out); !slices.Contains(got, 15) {
			return fmt.Errorf("stats_counts.rt.hits = %v, want a 15 (three 5s in one flush)", got)
		}
		return nil
	})
	// DogStatsD tags are labels: seriesByTag finds them.
	eventually(t, 30*time.Second, func() error {
		out, err := s.obs("metrics", "query", "-o", "json", "--from", "-5min", "seriesByTag('name=stats.gauges.rt.temp','room=kitchen')")
		if err != nil {
			return err
		}
		if got := nonNull(t, out); len(got) == 0 || got[len(got)-1] != 21.5 {
			return fmt.Errorf("tagged gauge = %v (%s)", got, out)
		}
		return nil
	})
	// The same values through PromQL, evaluated by the engine.
	out, err := s.obs("metrics", "promql", `{__name__="rt.carbon.a"}`)
	if err != nil || strings.TrimSpace(out) != "rt.carbon.a 43" {
		t.Errorf("promql instant: %q, %v", out, err)
	}
	out, err = s.obs("metrics", "promql", "-o", "json", `sum(sum_over_time({__name__="stats_counts.rt.hits"}[10m]))`)
	if err != nil || !strings.Contains(out, `"15"`) {
		t.Errorf("promql sum of the counter: %s %v", out, err)
	}
	out, err = s.obs("metrics", "promql", "-o", "json", "--start", fmt.Sprint(now-70), "--end", fmt.Sprint(now), "--step", "20s", `{__name__="rt.carbon.a"}`)
	if err != nil || !strings.Contains(out, `"43"`) || !strings.Contains(out, `"41"`) {
		t.Errorf("promql range: %s %v", out, err)
	}
	// A PromQL error from the engine comes back as an error.
	if _, err := s.obs("metrics", "promql", "sum(("); err == nil {
		t.Error("a bad PromQL expression was not an error")
	}
	// Names through the engine's label API.
	out, err = s.obs("metrics", "list", "rt.carbon.*")
	if f := strings.Fields(out); err != nil || len(f) != 2 || f[0] != "rt.carbon.a" {
		t.Errorf("metrics list rt.carbon.*: %q %v", out, err)
	}
	// Graphite's find asks for names "any time before until": the engine
	// must take that whatever day until falls on. VictoriaMetrics reads a
	// start of 0 as none and looks at until's day only, so in the last
	// hour of a UTC day (obs asks until now+1h) it listed nothing.
	pc, err := promapi.New(endpoint.Config{URL: e.queryURL})
	if err != nil {
		t.Fatal(err)
	}
	tomorrow := time.Now().UTC().Truncate(24 * time.Hour).Add(36 * time.Hour)
	if names, err := pc.Names(context.Background(), 0, tomorrow.UnixMilli()); err != nil || !slices.Contains(names, "rt.carbon.a") {
		t.Errorf("%s: names from the epoch to tomorrow noon: %v, %v", e.name, names, err)
	}
	var nodes []map[string]any
	if err := getJSONErr(s.url()+"/metrics/find?query=rt.*", &nodes); err != nil || !findHas(nodes, "rt.carbon") {
		t.Errorf("/metrics/find rt.*: %v", nodes)
	}
	// Checks read the engine too.
	for _, name := range []string{"rt-graphite", "rt-promql"} {
		eventually(t, 20*time.Second, func() error {
			out, err := s.obs("checks", "run", "-o", "json", name)
			if err != nil {
				return err
			}
			var r struct {
				OK     bool
				Reason string
				Value  any
			}
			json.Unmarshal([]byte(out), &r)
			wantOK := name == "rt-graphite" // 43 > 100 is false: passing; max >= 43: failing
			if r.Value == nil || r.OK != wantOK {
				return fmt.Errorf("check %s: %s", name, out)
			}
			return nil
		})
	}
	// What was forwarded: counted, nothing dropped.
	if d := s.metric(`obs_remote_write_samples_dropped_total{reason="rejected"}`); d != 0 {
		t.Errorf("%v samples refused by %s", d, e.name)
	}
	if sent := s.metric("obs_remote_write_samples_sent_total"); sent < 7 {
		t.Errorf("only %v samples sent", sent)
	}
	st, _ := s.obs("status")
	if !strings.Contains(st, "metrics_remote") || !strings.Contains(st, "samples sent") {
		t.Errorf("obs status does not report forwarding:\n%s", st)
	}
}

// nonNull is every non-null value of every series of a `-o json` render.
func nonNull(t *testing.T, out string) []float64 {
	var ss []renderSeries
	if err := json.Unmarshal([]byte(out), &ss); err != nil {
		t.Fatalf("render json: %v: %s", err, out)
	}
	var vals []float64
	for _, s := range ss {
		for _, dp := range s.Datapoints {
			if dp[0] != nil && !math.IsNaN(*dp[0]) {
				vals = append(vals, *dp[0])
			}
		}
	}
	return vals
}

func findHas(nodes []map[string]any, id string) bool {
	for _, n := range nodes {
		if n["id"] == id {
			return true
		}
	}
	return false
}
