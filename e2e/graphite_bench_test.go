package e2e

import (
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestRenderTimeVsGraphite measures /render for 10 series × 24 h of 10 s
// points, at full resolution and with maxDataPoints=1440, on obs and on
// graphite-web in one run (BENCHMARKS.md). Run with OBS_BENCH_GRAPHITE=1
// (make bench-graphite); it is a measurement, never an assertion.
func TestRenderTimeVsGraphite(t *testing.T) {
	if os.Getenv("OBS_BENCH_GRAPHITE") == "" {
		t.Skip("a measurement: OBS_BENCH_GRAPHITE=1 (make bench-graphite) runs it")
	}
	g := startGraphite(t)
	s := newServer(t)
	end := time.Now().Unix() / 10 * 10
	var lines []string
	for i := 0; i < 10; i++ {
		for ts := end - 86400 + 10; ts <= end; ts += 10 {
			lines = append(lines, fmt.Sprintf("bench.host%02d.load %d %d", i, (ts/10+int64(i)*7)%100, ts))
		}
	}
	for off := 0; off < len(lines); off += 20000 {
		chunk := lines[off:min(off+20000, len(lines))]
		sendCarbon(t, g.carbon, chunk)
		sendCarbon(t, s.carbon, chunk)
	}
	p := url.Values{"target": {"bench.*.load"}, "from": {fmt.Sprint(end - 86400 + 60)}, "until": {fmt.Sprint(end)}}
	eventually(t, 10*time.Minute, func() error {
		for _, base := range []string{g.web, s.url()} {
			r, _, err := renderRaw(base, p)
			if err != nil {
				return err
			}
			if len(r) != 10 || r[9].Datapoints[0][0] == nil || r[9].Datapoints[len(r[9].Datapoints)-1][0] == nil {
				return fmt.Errorf("%s: not all points in yet", base)
			}
		}
		return nil
	})
	for _, mdp := range []string{"", "1440"} {
		q := url.Values{}
		for k, v := range p {
			q[k] = v
		}
		if mdp != "" {
			q.Set("maxDataPoints", mdp)
		}
		times := map[string]time.Duration{}
		for name, base := range map[string]string{"graphite-web": g.web, "obs": s.url()} {
			const n = 20
			start := time.Now()
			for i := 0; i < n; i++ {
				if _, _, err := renderRaw(base, q); err != nil {
					t.Fatal(err)
				}
			}
			times[name] = time.Since(start) / n
		}
		t.Logf("10 series x 24 h, maxDataPoints=%q: graphite-web %v, obs %v per render (%.1fx)", mdp,
			times["graphite-web"].Round(100*time.Microsecond), times["obs"].Round(100*time.Microsecond),
			float64(times["graphite-web"])/float64(times["obs"]))
	}
}
