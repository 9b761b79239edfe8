package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type renderSeries struct {
	Target     string
	Datapoints [][2]*float64
	Tags       map[string]string
}

func (s *server) render(t *testing.T, target string) []renderSeries {
	t.Helper()
	resp, err := http.Get(s.url() + "/render?" + url.Values{"target": {target}, "from": {"-10min"}, "format": {"json"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []renderSeries
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("/render %s: %v", target, err)
	}
	return out
}

func sumPoints(s renderSeries) (sum, maxv float64) {
	for _, dp := range s.Datapoints {
		if dp[0] != nil {
			sum += *dp[0]
			maxv = max(maxv, *dp[0])
		}
	}
	return
}

type promResp struct {
	Status string
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string
			Value  []any
		}
	}
}

func (s *server) promql(t *testing.T, q string) promResp {
	t.Helper()
	resp, err := http.Get(s.url() + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out promResp
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v: %s", q, err, b)
	}
	return out
}

// TestMetricsFromNodeClients runs an Express app instrumented with
// statsd-client's middleware (like the seed's web-api) and hot-shots with
// DogStatsD tags, then reads the results the ways users do.
func TestMetricsFromNodeClients(t *testing.T) {
	dir := nodeModules(t)
	s := newServer(t, "--flush-interval", "1s")
	cmd := exec.Command("node", "statsd-app.js", fmt.Sprint(s.statsd))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node statsd-app.js: %v\n%s", err, out)
	}
	// Graphite plaintext too, and some garbage StatsD.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.carbon))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "servers.box.load 1.5 %d\nnot a carbon line\n", time.Now().Unix())
	c.Close()
	u, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	fmt.Fprint(u, "bad\nbad:1|zz\nbad:NaN|g")
	u.Close()

	var series []struct {
		Target     string
		Datapoints [][2]*float64
	}
	eventually(t, 10*time.Second, func() error {
		out, err := s.obs("metrics", "query", "aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)", "--from", "-10min", "-o", "json")
		if err != nil {
			return err
		}
		series = nil
		json.Unmarshal([]byte(out), &series)
		got := map[string]float64{}
		for _, s := range series {
			sum, _ := sumPoints(renderSeries{Datapoints: s.Datapoints})
			got[s.Target] = sum
		}
		if len(series) != 2 || got["200"] != 7 || got["500"] != 3 {
			return fmt.Errorf("response codes %v, want 200: 7 and 500: 3", got)
		}
		return nil
	})

	t.Run("render shape", func(t *testing.T) {
		rs := s.render(t, "stats.timers.web-api.outbound.recipe-api.request-time.count")
		if len(rs) != 1 || rs[0].Target != "stats.timers.web-api.outbound.recipe-api.request-time.count" || len(rs[0].Datapoints) < 10 {
			t.Fatalf("render: %+v", rs)
		}
		if sum, _ := sumPoints(rs[0]); sum != 7 {
			t.Fatalf("outbound timer count %v, want 7", sum)
		}
		if rs := s.render(t, "sumSeries(stats_counts.web-api.outbound.*.request-count)"); len(rs) != 1 {
			t.Fatalf("sumSeries: %+v", rs)
		} else if sum, _ := sumPoints(rs[0]); sum != 7 {
			t.Fatalf("sumSeries of request-count %v", sum)
		}
		resp, err := http.Get(s.url() + "/render?target=servers.box.load&from=-10min&format=csv")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "servers.box.load,") || !strings.Contains(string(b), ",1.5") {
			t.Fatalf("csv: %s", b)
		}
	})
	t.Run("hot-shots tags and types", func(t *testing.T) {
		r := s.promql(t, `sum_over_time({__name__="stats_counts.hot.requests",env="test",route="/a"}[10m])`)
		if r.Status != "success" || r.Data.ResultType != "vector" || len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "5" {
			t.Fatalf("hot.requests route=/a: %+v", r)
		}
		r = s.promql(t, `max_over_time({__name__="stats.timers.hot.latency.upper"}[10m])`)
		if len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "58" {
			t.Fatalf("histogram + distribution as one timer: %+v", r)
		}
		r = s.promql(t, `max_over_time({__name__="stats.sets.hot.users.count"}[10m])`)
		if len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "2" {
			t.Fatalf("set count: %+v", r)
		}
	})
	t.Run("events are logs", func(t *testing.T) {
		if evs := s.searchJSON(`type:dogstatsd_event and title:deploy and tags.env:test`); len(evs) != 1 {
			t.Fatalf("events: %v", evs)
		}
		if evs := s.searchJSON(`type:dogstatsd_service_check and check:"db.reachable" and status:OK`); len(evs) != 1 {
			t.Fatalf("service checks: %v", evs)
		}
	})
	t.Run("carbon and bad input counted", func(t *testing.T) {
		if rs := s.render(t, "servers.box.load"); len(rs) != 1 {
			t.Fatalf("carbon: %+v", rs)
		} else if _, m := sumPoints(rs[0]); m != 1.5 {
			t.Fatalf("carbon value %v", m)
		}
		if n := s.metric("obs_carbon_bad_lines_total"); n != 1 {
			t.Fatalf("carbon bad lines %v", n)
		}
		if n := s.metric("obs_statsd_bad_lines_total"); n != 3 {
			t.Fatalf("statsd bad lines %v", n)
		}
	})
	t.Run("find and prometheus metadata", func(t *testing.T) {
		resp, err := http.Get(s.url() + "/metrics/find?query=stats_counts.web-api.inbound.response_code.*")
		if err != nil {
			t.Fatal(err)
		}
		var nodes []map[string]any
		json.NewDecoder(resp.Body).Decode(&nodes)
		resp.Body.Close()
		if len(nodes) != 4 { // 200, 500, GET_fail, GET_recipes_id
			t.Fatalf("find: %v", nodes)
		}
		resp, _ = http.Get(s.url() + "/api/v1/label/route/values")
		var lv struct{ Data []string }
		json.NewDecoder(resp.Body).Decode(&lv)
		resp.Body.Close()
		if fmt.Sprint(lv.Data) != "[/a /b]" {
			t.Fatalf("label values %v", lv.Data)
		}
	})
	t.Run("graphite syntax error points at the spot", func(t *testing.T) {
		_, err := s.obs("metrics", "query", "sumSeries(stats.*")
		if err == nil || !strings.Contains(err.Error(), "position") {
			t.Fatalf("want a positioned error, got %v", err)
		}
	})
}

// TestMetricsSurviveKill9: what was flushed before a kill -9 is read back
// after the restart (TSDB WAL replay).
func TestMetricsSurviveKill9(t *testing.T) {
	s := newServer(t, "--flush-interval", "1s")
	u, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		fmt.Fprint(u, "crash.test:1|c\ncrash.gauge:42|g")
	}
	u.Close()
	eventually(t, 10*time.Second, func() error {
		rs := s.render(t, "stats_counts.crash.test")
		if len(rs) == 1 {
			if sum, _ := sumPoints(rs[0]); sum == 10 {
				return nil
			}
		}
		return fmt.Errorf("not flushed yet: %+v", rs)
	})
	s.kill9()
	recovery := s.start()
	rs := s.render(t, "stats_counts.crash.test")
	if len(rs) != 1 {
		t.Fatalf("after restart: %+v", rs)
	}
	if sum, _ := sumPoints(rs[0]); sum != 10 {
		t.Fatalf("after restart the counter sums to %v, want 10", sum)
	}
	if g := s.render(t, "stats.gauges.crash.gauge"); len(g) != 1 {
		t.Fatalf("gauge lost: %+v", g)
	}
	t.Logf("serving again %v after kill -9", recovery)
}
