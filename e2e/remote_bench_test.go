package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestRemoteWriteThroughput (make bench-remote; OBS_BENCH_REMOTE=1) is the
// BENCHMARKS.md figure for forwarding: obs with storage both takes the same
// carbon samples into its embedded TSDB and forwards them to the engine,
// in one run, and reports both rates. Knobs: OBS_BENCH_SERIES (10,000),
// OBS_BENCH_ROUNDS (200 samples a series), OBS_BENCH_ENGINE
// (victoria-metrics or thanos; default both, one after the other).
func TestRemoteWriteThroughput(t *testing.T) {
	if os.Getenv("OBS_BENCH_REMOTE") == "" {
		t.Skip("set OBS_BENCH_REMOTE=1 (make bench-remote)")
	}
	engines := []string{"victoria-metrics", "thanos"}
	if e := os.Getenv("OBS_BENCH_ENGINE"); e != "" {
		engines = []string{e}
	}
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			var e *engine
			if name == "thanos" {
				e = startThanos(t)
			} else {
				e = startVictoriaMetrics(t)
			}
			benchForward(t, e)
		})
	}
}

func benchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func benchForward(t *testing.T, e *engine) {
	series, rounds := benchEnv("OBS_BENCH_SERIES", 10000), benchEnv("OBS_BENCH_ROUNDS", 200)
	total := float64(series * rounds)
	s := newServer(t, "--metrics-storage", "both", "--metrics-remote-write", e.writeURL,
		"--metrics-remote-query", e.queryURL, "--flush-interval", "10s")
	written0 := s.metric("obs_metrics_samples_written_total")
	sent0 := s.metric("obs_remote_write_samples_sent_total")
	// Round r of every series, oldest first: each series' samples arrive
	// in time order, as an engine without out-of-order ingestion needs.
	base := time.Now().Unix() - 2*int64(rounds) - 60
	start := time.Now()
	go sendBench(t, s, "bench", series, rounds, base)
	var embedded, forwarded time.Duration
	deadline := time.Now().Add(10 * time.Minute)
	for (embedded == 0 || forwarded == 0) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if embedded == 0 && s.metric("obs_metrics_samples_written_total")-written0 >= total {
			embedded = time.Since(start)
		}
		if forwarded == 0 && s.metric("obs_remote_write_samples_sent_total")-sent0 >= total {
			forwarded = time.Since(start)
		}
	}
	if embedded == 0 || forwarded == 0 {
		t.Fatalf("not done in 10 minutes: embedded %v, forwarded %v", embedded, forwarded)
	}
	t.Logf("figures: %s: %d samples (%d series x %d) by carbon: embedded TSDB %.0f samples/s (%s), forwarded to %s %.0f samples/s (%s until the engine had them all); peak queue %v KiB; retries %v",
		e.name, series*rounds, series, rounds, total/embedded.Seconds(), embedded.Round(10*time.Millisecond),
		e.name, total/forwarded.Seconds(), forwarded.Round(10*time.Millisecond),
		s.metric("obs_remote_write_queue_bytes")/1024, s.metric("obs_remote_write_retries_total"))
	// The forwarder alone: the same number of samples wait on disk while
	// the engine is down, then drain.
	for _, p := range e.writers {
		p.kill9()
	}
	queued0 := s.metric("obs_remote_write_samples_pending")
	go sendBench(t, s, "bench", series, rounds, base+int64(rounds))
	eventually(t, 5*time.Minute, func() error {
		if q := s.metric("obs_remote_write_samples_pending") - queued0; q < total {
			return fmt.Errorf("%v of %v queued", q, total)
		}
		return nil
	})
	queueKiB := s.metric("obs_remote_write_queue_bytes") / 1024
	sent1 := s.metric("obs_remote_write_samples_sent_total")
	for _, p := range e.writers {
		p.start()
	}
	up := time.Now()
	waitSent(t, s, "obs_remote_write_samples", 5*time.Minute)
	drain := time.Since(up)
	t.Logf("figures: %s: drain of a backlog of %.0f samples (%.0f KiB on disk): %.0f samples/s (%s)",
		e.name, s.metric("obs_remote_write_samples_sent_total")-sent1, queueKiB,
		(s.metric("obs_remote_write_samples_sent_total")-sent1)/drain.Seconds(), drain.Round(10*time.Millisecond))
	if d := s.metric(`obs_remote_write_samples_dropped_total{reason="rejected"}`); d != 0 {
		t.Errorf("%v samples refused", d)
	}
}

// sendBench writes rounds x series carbon lines over one TCP connection.
func sendBench(t *testing.T, s *server, prefix string, series, rounds int, base int64) {
	c, err := net.Dial("tcp", loopback(s.carbon))
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 1<<20)
	var line []byte
	for r := range rounds {
		for i := range series {
			line = fmt.Appendf(line[:0], "%s.host%03d.app%02d.metric%d %d %d\n", prefix, i/100, i%100/10, i%10, (i*31+r*7)%1000, base+int64(r))
			w.Write(line)
		}
	}
	w.Flush()
}
