package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// telemetrygen, the OpenTelemetry Collector's own load generator (built
// from the module proxy into the engine cache), sends traces, logs and
// metrics over OTLP/HTTP and OTLP/gRPC as fast as obs takes them; every
// item it reports sent is then found in obs's stores.
func TestOTLPTelemetrygen(t *testing.T) {
	gen := engineBinary(t, "telemetrygen")
	s := newServer(t)
	const traces, logCount, points = 5000, 20000, 5000
	for _, transport := range []string{"grpc", "http"} {
		endpoint, extra := s.otlpGRPC, []string{}
		if transport == "http" {
			endpoint, extra = s.otlpHTTP, []string{"--otlp-http"}
		}
		// run returns the generator's wall time and the CPU obs spent meanwhile.
		run := func(signal string, args ...string) (time.Duration, time.Duration) {
			t.Helper()
			cpu0 := processCPU(t, s.cmd.Process.Pid)
			cmd := exec.Command(gen, append(append([]string{signal, "--otlp-endpoint", endpoint, "--otlp-insecure", "--workers", "1"}, extra...), args...)...)
			// Unthrottled, the generator outruns any exporter, and the Go
			// SDK's batch span processor drops what does not fit its queue
			// (2048 spans) before sending: a queue that holds the whole run
			// makes "generated" mean "sent".
			cmd.Env = append(os.Environ(), fmt.Sprintf("OTEL_BSP_MAX_QUEUE_SIZE=%d", 4*traces))
			started := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(started)
			if err != nil {
				t.Fatalf("telemetrygen %s over %s: %v\n%s", signal, transport, err, out)
			}
			if !strings.Contains(string(out), signal+" generated") {
				t.Fatalf("telemetrygen %s over %s said nothing of what it sent:\n%s", signal, transport, out)
			}
			return took, processCPU(t, s.cmd.Process.Pid) - cpu0
		}

		// Traces: each is a client span and one child.
		svc := "tg-" + transport
		took, cpu := run("traces", "--traces", fmt.Sprint(traces), "--rate", "0", "--service", svc)
		var found [][]zspan
		s.getJSON(t, s.url(), fmt.Sprintf("/api/v2/traces?serviceName=%s&limit=100000&lookback=3600000", svc), &found)
		spans := 0
		for _, tr := range found {
			spans += len(tr)
		}
		if len(found) != traces || spans != 2*traces {
			t.Errorf("%s: %d traces, %d spans stored; sent %d, %d", transport, len(found), spans, traces, 2*traces)
		}
		t.Logf("figures: telemetrygen over %s: %d spans in %v, %.0f spans/s end to end (fsynced), obs CPU %.1fµs/span, all stored",
			transport, 2*traces, took.Round(time.Millisecond), float64(2*traces)/took.Seconds(), float64(cpu.Microseconds())/float64(2*traces))

		// Logs.
		took, cpu = run("logs", "--logs", fmt.Sprint(logCount), "--rate", "0", "--service", svc+"-logs", "--body", "load "+transport)
		if n := len(s.searchJSON(fmt.Sprintf(`service.name:"%s-logs"`, svc))); n != logCount {
			t.Errorf("%s: %d log records stored, sent %d", transport, n, logCount)
		}
		t.Logf("figures: telemetrygen over %s: %d log records in %v, %.0f records/s, obs CPU %.1fµs/record, all stored",
			transport, logCount, took.Round(time.Millisecond), float64(logCount)/took.Seconds(), float64(cpu.Microseconds())/float64(logCount))

		// Metrics: one gauge point per export. By default every point is
		// the same series, and two dated the same millisecond with other
		// values are one sample too many for the TSDB (Prometheus refuses
		// the second as well): --unique-timeseries gives each its series.
		name := "tg_" + transport
		took, cpu = run("metrics", "--metrics", fmt.Sprint(points), "--rate", "0", "--unique-timeseries", "--otlp-metric-name", name, "--service", svc)
		r := s.promql(t, fmt.Sprintf(`sum(count_over_time(%s[1h]))`, name))
		if len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != fmt.Sprint(points) {
			t.Errorf("%s: samples stored %+v, sent %d", transport, r.Data.Result, points)
		}
		t.Logf("figures: telemetrygen over %s: %d data points in %v, %.0f points/s (one export each), obs CPU %.1fµs/point, all stored",
			transport, points, took.Round(time.Millisecond), float64(points)/took.Seconds(), float64(cpu.Microseconds())/float64(points))
	}
	for _, sig := range []string{"traces", "logs", "metrics"} {
		for _, tr := range []string{"grpc", "http"} {
			if n, _ := metricErr(s, fmt.Sprintf(`obs_otlp_requests_refused_total{reason="busy",signal="%s",transport="%s"}`, sig, tr)); n > 0 {
				t.Logf("figures: %s over %s: %v requests answered busy and retried", sig, tr, n)
			}
		}
	}
}

// processCPU is the user and system CPU time a process has used so far
// (Linux /proc; clock ticks of 1/100 s).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
