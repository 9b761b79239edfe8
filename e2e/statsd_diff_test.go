package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// statsdDatagrams are sent to both Etsy's daemon and obs: every metric
// type, sample rates, gauge deltas, multi-value and multi-line packets,
// keys that need sanitising, DogStatsD tags as Etsy 0.9 names them, and
// bad lines Etsy counts in statsd.bad_lines_seen.
var statsdDatagrams = []string{
	"t.c1:1|c", "t.c1:2|c|@0.5", "t.c2:-3|c", "t.c3:1.5|c\nt.c3:2.25|c", "t.multi:1|c:7|ms",
	"t.t1:100|ms", "t.t1:200|ms|@0.1", "t.t1:3|ms\nt.t1:44|ms\nt.t1:5.5|ms\nt.t1:61|ms", "t.t1:7|ms\nt.t1:8|ms\nt.t1:9|ms\nt.t1:1000|ms",
	"t.t2:0|ms", "t.t3:5|ms",
	"t.g1:10|g", "t.g1:+5|g", "t.g1:-3|g", "t.g2:-5|g", "t.g3:0|g", "t.g3:+2|g", "t.g4:1.5e3|g",
	"t.s1:a|s", "t.s1:b|s", "t.s1:a|s", "t.s2:1|s",
	"t.key with  spaces:1|c", "t/slash:2|c", "t.weird$%^:3|c",
	"t.tagged:1|c|#env:prod,host:a", "t.tagged:4|c|#env:prod,host:a", "t.ttag:12|ms|#env:prod", "t.gtag:3|g|#env:test",
	"bad", "bad:1", "bad:x|c", "bad:1|c|@x", "bad:-1|ms", "bad:NaN|g", "bad:|c", "bad:1|c|@-1", "bad:1|g|@",
}

// statsdTimeDependent are flushed by both but measure the daemon itself.
var statsdTimeDependent = []string{"stats.statsd.processing_time", "stats.gauges.statsd.timestamp_lag"}

// statsdEtsyOnly are Etsy metrics obs does not flush, with the reason.
var statsdEtsyOnly = map[string]string{
	"stats.statsd.graphiteStats.": "the Etsy graphite backend's own bookkeeping (last flush, flush time and length); obs has no graphite backend",
}

// TestStatsDDifferential sends the same datagrams to Etsy's statsd 0.9.0
// (graphite backend pointed at a listener here) and to obs, then holds
// every metric of the flush that took them to the same value.
func TestStatsDDifferential(t *testing.T) {
	dir := nodeModules(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules/statsd/stats.js")); err != nil {
		t.Fatalf("Etsy statsd missing: run `npm ci --prefix e2e/testdata/node`")
	}
	flushes := newGraphiteListener(t)
	cfg := filepath.Join(t.TempDir(), "statsd.js")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{address: "127.0.0.1", mgmt_address: "127.0.0.1",
  backends: ["./backends/graphite"], graphiteHost: "127.0.0.1", graphitePort: %d,
  flushInterval: 5000, percentThreshold: [90], deleteIdleStats: false}`, flushes.port)), 0o644)
	// any-port.js makes Etsy's statsd bind free ports and say which.
	etsy := exec.Command("node", "-r", "./any-port.js", "node_modules/statsd/stats.js", cfg)
	etsy.Dir = dir
	etsyLog := newLineWatch(`listening udp (\d+)`)
	etsy.Stdout, etsy.Stderr = etsyLog, etsyLog
	if err := etsy.Start(); err != nil {
		t.Fatal(err)
	}
	etsyExited := make(chan struct{})
	go func() { etsy.Wait(); close(etsyExited) }()
	t.Cleanup(func() { etsy.Process.Kill(); <-etsyExited })
	etsyPort, _ := strconv.Atoi(etsyLog.wait(t, "Etsy statsd", etsyExited)[1])
	s := newServer(t, "--flush-interval", "5s")

	// Send when neither daemon is within a second of a flush, so that
	// the whole burst lands in one flush of each.
	etsyPhase := flushes.waitFlush(t, 15*time.Second)
	obsPhase := obsFlushPhase(t, s)
	for {
		now := time.Now()
		if far(now, etsyPhase) && far(now, obsPhase) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sent := time.Now()
	for _, addr := range []int{etsyPort, s.statsd} {
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", addr))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range statsdDatagrams {
			fmt.Fprint(c, d)
		}
		c.Close()
	}
	packets := strconv.Itoa(len(statsdDatagrams))
	var want map[string]float64
	eventually(t, 20*time.Second, func() error {
		for _, f := range flushes.since(sent) {
			if f["stats_counts.statsd.packets_received"] != 0 {
				want = f
				return nil
			}
		}
		return fmt.Errorf("no Etsy flush with the packets yet:\n%s", tail(etsyLog.String(), 2000))
	})
	if fmt.Sprint(want["stats_counts.statsd.packets_received"]) != packets {
		t.Fatalf("Etsy saw %v packets in one flush, want %s: the burst was split", want["stats_counts.statsd.packets_received"], packets)
	}
	var got map[string]float64
	eventually(t, 20*time.Second, func() error {
		got = obsFlushWith(t, s, "stats_counts.statsd.packets_received", float64(len(statsdDatagrams)))
		if got == nil {
			return fmt.Errorf("no obs flush with all %s packets yet", packets)
		}
		return nil
	})
	compared := 0
	for name, w := range want {
		if skipStatsD(name) {
			continue
		}
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: obs did not flush it (Etsy: %v)", name, w)
			continue
		}
		if !sameValue(&w, &g) {
			t.Errorf("%s = %v, Etsy %v", name, g, w)
		}
		compared++
	}
	for name, g := range got {
		if _, ok := want[name]; !ok && !skipStatsD(name) {
			t.Errorf("%s = %v: obs flushed it, Etsy did not", name, g)
		}
	}
	if want["stats_counts.statsd.bad_lines_seen"] == 0 {
		t.Error("no bad lines counted: the suite sends some")
	}
	t.Logf("%d flushed metrics agree with Etsy statsd 0.9.0", compared)
}

func skipStatsD(name string) bool {
	for _, p := range statsdTimeDependent {
		if name == p {
			return true
		}
	}
	for p := range statsdEtsyOnly {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// far: t is at least a second from the next and the last flush of a
// 5 s cycle with the given phase.
func far(t, phase time.Time) bool {
	d := t.Sub(phase) % (5 * time.Second)
	if d < 0 {
		d += 5 * time.Second
	}
	return d > time.Second && d < 4*time.Second
}

// graphiteListener takes the Etsy graphite backend's plaintext, one
// connection per flush.
type graphiteListener struct {
	port int
	mu   sync.Mutex
	got  []flush
	cond chan struct{}
}

type flush struct {
	at      time.Time
	metrics map[string]float64
}

func newGraphiteListener(t *testing.T) *graphiteListener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	g := &graphiteListener{port: l.Addr().(*net.TCPAddr).Port, cond: make(chan struct{}, 100)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				f := flush{at: time.Now(), metrics: map[string]float64{}}
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					parts := strings.Fields(sc.Text())
					if len(parts) == 3 {
						v, _ := strconv.ParseFloat(parts[1], 64)
						f.metrics[parts[0]] = v
					}
				}
				g.mu.Lock()
				g.got = append(g.got, f)
				g.mu.Unlock()
				g.cond <- struct{}{}
			}()
		}
	}()
	return g
}

func (g *graphiteListener) waitFlush(t *testing.T, timeout time.Duration) time.Time {
	select {
	case <-g.cond:
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.got[len(g.got)-1].at
	case <-time.After(timeout):
		t.Fatal("Etsy statsd never flushed")
	}
	return time.Time{}
}

func (g *graphiteListener) since(t time.Time) []map[string]float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []map[string]float64
	for _, f := range g.got {
		if f.at.After(t) {
			out = append(out, f.metrics)
		}
	}
	return out
}

// obsSamples reads every raw sample of the last minute through the
// Prometheus API: name (Graphite form, tags included) -> time -> value.
func obsSamples(t *testing.T, s *server) map[string]map[float64]float64 {
	t.Helper()
	q := url.Values{"query": {`{__name__=~"stats.*|statsd.*"}[1m]`}}
	resp, err := http.Get(s.url() + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[float64]float64{}
	for _, ser := range r.Data.Result {
		name := ser.Metric["__name__"]
		var tags []string
		for k, v := range ser.Metric {
			if k != "__name__" {
				tags = append(tags, k+"="+v)
			}
		}
		sort.Strings(tags)
		for _, tg := range tags {
			name += ";" + tg
		}
		out[name] = map[float64]float64{}
		for _, p := range ser.Values {
			v, _ := strconv.ParseFloat(p[1].(string), 64)
			out[name][p[0].(float64)] = v
		}
	}
	return out
}

// obsFlushPhase waits for obs's next flush and returns when it was seen.
func obsFlushPhase(t *testing.T, s *server) time.Time {
	count := func() int { return len(obsSamples(t, s)["stats_counts.statsd.packets_received"]) }
	n := count()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if count() > n {
			return time.Now()
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("obs never flushed")
	return time.Time{}
}

// obsFlushWith returns obs's flush in which metric had value v.
func obsFlushWith(t *testing.T, s *server, metric string, v float64) map[string]float64 {
	all := obsSamples(t, s)
	for ts, x := range all[metric] {
		if x != v {
			continue
		}
		out := map[string]float64{}
		for name, pts := range all {
			if y, ok := pts[ts]; ok {
				out[name] = y
			}
		}
		return out
	}
	return nil
}
