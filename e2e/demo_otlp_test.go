package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoOTLP is `make run` and `make demo`: recipe-api reports over
// OTLP/HTTP beside web-api's Zipkin, Logstash and StatsD, and what it sends
// is found through obs's own APIs: one trace across both protocols in the
// Zipkin API, its log records by KQL with the trace's id, its histogram
// by Prometheus's name in PromQL, and both in `obs traces show --logs`.
func TestDemoOTLP(t *testing.T) {
	s, _ := demoServer(t, "--gauge-every", "1s")
	zipkinURL := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)

	// A GET / is web-api's SERVER and CLIENT spans (Zipkin) and
	// recipe-api's SERVER span (OTLP), a child of the CLIENT.
	var traceID, serverID string
	eventually(t, 2*time.Minute, func() error {
		var found [][]obsSpan
		s.getJSON(t, zipkinURL, "/api/v2/traces?serviceName=recipe-api&limit=20&lookback=600000", &found)
		for _, tr := range found {
			var root, client, server *obsSpan
			for i, sp := range tr {
				switch {
				case sp.Kind == "SERVER" && sp.LocalEndpoint.ServiceName == "web-api":
					root = &tr[i]
				case sp.Kind == "CLIENT" && sp.LocalEndpoint.ServiceName == "web-api":
					client = &tr[i]
				case sp.Kind == "SERVER" && sp.LocalEndpoint.ServiceName == "recipe-api":
					server = &tr[i]
				}
			}
			if len(tr) != 3 || root == nil || client == nil || server == nil {
				continue
			}
			// Zipkin's model lowercases span names.
			if server.ParentID != client.ID || client.ParentID != root.ID || server.Name != "get /recipes/{id}" ||
				server.Tags["http.route"] != "/recipes/{id}" || server.Tags["otel.scope.name"] != "obs/demo" || len(server.TraceID) != 16 {
				return fmt.Errorf("trace %s: web-api's %+v\nrecipe-api's %+v", server.TraceID, *client, *server)
			}
			traceID, serverID = server.TraceID, server.ID
			return nil
		}
		return fmt.Errorf("no trace of 3 spans with recipe-api's OTLP span in %d traces", len(found))
	})

	// Its log record, by the id the trace page shows (a 64-bit trace id,
	// padded by recipe-api's B3 reading, written back in 16 digits).
	ev := s.waitEvents(fmt.Sprintf(`service.name:"recipe-api" and event_name:"request-incoming" and trace_id:"%s"`, traceID), 1)[0]
	if ev["span_id"] != serverID || ev["message"] != "GET /recipes/42" || ev["severity_text"] != "info" || ev["path"] != "/recipes/42" {
		t.Errorf("recipe-api's log record: %v", ev)
	}
	out, err := s.obs("traces", "show", traceID, "--logs")
	if err != nil || !strings.Contains(out, "web-api → recipe-api (client): get_recipe") || !strings.Contains(out, "recipe-api (server): get /recipes/{id}") ||
		!strings.Contains(out, "recipe-api   info  request-incoming GET /recipes/42") || !strings.Contains(out, "web-api      info  request-incoming") {
		t.Errorf("obs traces show --logs: %v\n%s", err, out)
	}
	t.Logf("obs traces show --logs:\n%s", out)

	// Its request durations, by the name Prometheus's OTLP receiver gives.
	eventually(t, time.Minute, func() error {
		r := s.promql(t, `sum(http_server_request_duration_seconds_count{job="recipe-api",http_route="/recipes/{id}"})`)
		if len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] == "0" {
			return fmt.Errorf("recipe-api's histogram: %+v", r)
		}
		return nil
	})
	for _, sig := range []string{"traces", "logs", "metrics"} {
		if n := s.metric(fmt.Sprintf(`obs_otlp_items_total{signal="%s",transport="http"}`, sig)); n == 0 {
			t.Errorf("no %s over OTLP/HTTP", sig)
		}
	}
	// Nothing refused (a series per reason appears once one is).
	resp, err := http.Get(s.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "obs_otlp_rejected_total{") && !strings.HasSuffix(line, " 0") {
			t.Errorf("refused: %s", line)
		}
	}
}
