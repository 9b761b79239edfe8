package e2e

// The reliability suite (issue "Hardening"): crash, hostile input, overload,
// cardinality, disk full and retention against the real binary. CI runs it
// at a small scale; `make soak` sets OBS_SOAK=1 for the figures in
// RELIABILITY.md. Each test logs a "figures:" line.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func soak() bool { return os.Getenv("OBS_SOAK") != "" }

// scale picks the CI size or the soak size.
func scale(ci, full int) int {
	if soak() {
		return full
	}
	return ci
}

// rss reads a process's resident and peak resident memory (kB) from /proc.
func rss(pid int) (cur, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			cur = v
		case "VmHWM:":
			peak = v
		}
	}
	return
}

// metricSum adds every sample of a metric family (all label sets).
func (s *server) metricSum(name string) float64 {
	resp, err := http.Get(s.url() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

func (s *server) healthText() string {
	resp, err := http.Get(s.url() + "/health")
	if err != nil {
		return "unreachable: " + err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// logCount is the histogram total of a query over the last day.
func (s *server) logCount(t *testing.T, q string) int { return s.logCountSince(t, "1d", q) }

// logCountSince is the histogram total of a query from now-since to now+1h.
func (s *server) logCountSince(t *testing.T, since, q string) int {
	var h struct{ Total int }
	s.getJSON(t, s.url(), "/api/logs/histogram?interval=1h&from=now-"+since+"&to=now%2B1h&q="+url.QueryEscape(q), &h)
	return h.Total
}

func spansJSON(svc string, trace0, n int, ts time.Time) []byte {
	var out []map[string]any
	for i := 0; i < n; i++ {
		out = append(out, map[string]any{"traceId": fmt.Sprintf("%016x", trace0+i+1), "id": fmt.Sprintf("%016x", trace0+i+1),
			"name": "op", "kind": "SERVER", "timestamp": ts.UnixMicro(), "duration": 1000,
			"localEndpoint": map[string]any{"serviceName": svc}})
	}
	b, _ := json.Marshal(out)
	return b
}

func (s *server) postSpans(body []byte) int {
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", s.zipkin), "application/json", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *server) traceIDs(t *testing.T, svc string) map[string]bool {
	var res [][]zspan
	s.getJSON(t, s.url(), fmt.Sprintf("/api/v2/traces?serviceName=%s&limit=1000000&lookback=%d", svc, 30*24*3600*1000), &res)
	out := map[string]bool{}
	for _, tr := range res {
		for _, sp := range tr {
			out[sp.TraceID] = true
		}
	}
	return out
}

// 1. kill -9 during steady ingest of all three signals.
func TestReliabilityCrash(t *testing.T) {
	s := newServer(t, "--flush-interval", "1s")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var logsSent, spansSent, hits atomic.Int64
	wg.Add(3)
	go func() { // logs
		defer wg.Done()
		c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fmt.Fprintf(c, `{"app":"crash","seq":%d}`, i)
			logsSent.Add(1)
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	go func() { // metrics
		defer wg.Done()
		c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
		defer c.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			fmt.Fprint(c, "crash.hits:1|c")
			hits.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	go func() { // spans
		defer wg.Done()
		for i := 0; ; i += 10 {
			select {
			case <-stop:
				return
			default:
			}
			if s.postSpans(spansJSON("crash-svc", i, 10, time.Now())) == 202 {
				spansSent.Add(10)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(time.Duration(scale(3, 20)) * time.Second)
	// What is searchable now: how many crash events, up to which seq.
	newest := s.searchJSON(`app:crash`, "--from", "now-1h", "--to", "now+1h", "--limit", "1")
	maxSeq := int(newest[0]["seq"].(float64))
	countBefore := s.logCount(t, fmt.Sprintf("app:crash and seq <= %d", maxSeq))
	tracesBefore := s.traceIDs(t, "crash-svc")
	rs := s.render(t, "stats_counts.crash.hits")
	var metricBefore float64
	if len(rs) == 1 {
		metricBefore, _ = sumPoints(rs[0])
	}
	s.kill9()
	close(stop)
	wg.Wait()
	recovery := s.start()

	lostLogs := countBefore - s.logCount(t, fmt.Sprintf("app:crash and seq <= %d", maxSeq))
	if lostLogs < 0 {
		lostLogs = 0 // events in flight at the snapshot were stored later
	}
	tracesAfter := s.traceIDs(t, "crash-svc")
	lostSpans := 0
	for id := range tracesBefore {
		if !tracesAfter[id] {
			lostSpans++
		}
	}
	metricAfter := 0.0
	if rs := s.render(t, "stats_counts.crash.hits"); len(rs) == 1 {
		metricAfter, _ = sumPoints(rs[0])
	}
	t.Logf("figures: crash: logs sent %d, searchable before kill %d, lost %d; spans sent %d, searchable before %d, lost %d; "+
		"statsd hits sent %d, flushed before kill %.0f, after restart %.0f; serving again after %v",
		logsSent.Load(), countBefore, lostLogs, spansSent.Load(), len(tracesBefore), lostSpans, hits.Load(), metricBefore, metricAfter, recovery)
	if lostLogs > 0 || lostSpans > 0 || metricAfter < metricBefore {
		t.Fatalf("data searchable before kill -9 is gone: logs %d, spans %d, metric %.0f < %.0f", lostLogs, lostSpans, metricAfter, metricBefore)
	}
}

// 2. Hostile input on every port, with good data at the same time.
func TestReliabilityHostileInput(t *testing.T) {
	s := newServer(t)
	logsAddr := fmt.Sprintf("127.0.0.1:%d", s.logsUDP)
	statsdAddr := fmt.Sprintf("127.0.0.1:%d", s.statsd)
	carbonAddr := fmt.Sprintf("127.0.0.1:%d", s.carbon)

	// Slow-loris: clients that open TCP connections and trickle bytes.
	var lorises []net.Conn
	for _, addr := range []string{logsAddr, statsdAddr, carbonAddr} {
		for i := 0; i < 20; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Write([]byte("{"))
				lorises = append(lorises, c)
			}
		}
	}
	defer func() {
		for _, c := range lorises {
			c.Close()
		}
	}()

	random := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	udp := func(addr string, payloads ...[]byte) {
		c, _ := net.Dial("udp", addr)
		defer c.Close()
		for _, p := range payloads {
			c.Write(p)
			time.Sleep(200 * time.Microsecond)
		}
	}
	deep := []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000))
	bigString := []byte(`{"app":"hostile","message":"` + strings.Repeat("x", 60000) + `"}`)
	badLogs := [][]byte{random(1000), random(65000), []byte("{\"a\":\"\xff\xfe\"}"), deep, []byte(`{"n":1e400}`), []byte("not json")}
	udp(logsAddr, badLogs...)
	udp(logsAddr, bigString)
	badStatsd := [][]byte{random(500), []byte("x:NaN|g\ny:Inf|c\nz:1e400|ms\nw:1|zz\nv"), random(60000)}
	udp(statsdAddr, badStatsd...)
	udp(carbonAddr, []byte("a.b NaN 1\nnot a line\n"), random(2000))
	// Over TCP: a 1 MB string line (kept: it is valid JSON) and a 2 MB line (too long).
	if c, err := net.Dial("tcp", logsAddr); err == nil {
		fmt.Fprintf(c, `{"app":"hostile-tcp","message":"%s"}`+"\n", strings.Repeat("y", 1<<20-100))
		c.Write(append(bytes.Repeat([]byte("z"), 2<<20), '\n'))
		c.Close()
	}
	// Zipkin: wrong types, garbage, gzip lies, and too large.
	for _, body := range []string{`[{"traceId":123,"id":"0000000000000001"}]`, `[{"traceId":"0000000000000001","id":"0000000000000001","duration":"long"}]`, string(random(3000))} {
		s.postSpans([]byte(body))
	}
	req, _ := http.NewRequest("POST", s.url()+"/api/v2/spans", bytes.NewReader(random(100)))
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	big := bytes.Repeat([]byte("a"), 17<<20)
	resp, _ := http.Post(s.url()+"/api/v2/spans", "application/json", bytes.NewReader(big))
	code413a := resp.StatusCode
	resp, _ = http.Post(s.url()+"/api/logs", "application/x-ndjson", bytes.NewReader(big))
	code413b := resp.StatusCode

	// Good data, at the same time.
	var good [][]byte
	for i := 0; i < 200; i++ {
		good = append(good, []byte(fmt.Sprintf(`{"app":"good","seq":%d}`, i)))
	}
	udp(logsAddr, good...)
	udp(statsdAddr, bytes.Repeat([]byte("good.count:1|c\n"), 50))
	if s.postSpans(spansJSON("good-svc", 5000, 20, time.Now())) != 202 {
		t.Fatal("good spans refused")
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.searchJSON(`app:good`)); n != 200 {
			return fmt.Errorf("good logs %d/200", n)
		}
		if n := len(s.traceIDs(t, "good-svc")); n != 20 {
			return fmt.Errorf("good traces %d/20", n)
		}
		if n := len(s.searchJSON(`app:hostile-tcp`)); n != 1 {
			return fmt.Errorf("1 MB event %d/1", n)
		}
		return nil
	})
	figures := map[string]float64{}
	for _, m := range []string{`obs_logs_bad_input_total{kind="json"}`, `obs_logs_bad_input_total{kind="line_too_long"}`,
		"obs_statsd_bad_lines_total", "obs_carbon_bad_lines_total", `obs_zipkin_bad_requests_total{reason="decode"}`,
		`obs_zipkin_bad_requests_total{reason="too_large"}`, `obs_zipkin_bad_requests_total{reason="gzip"}`} {
		figures[m] = s.metric(m)
		if figures[m] == 0 {
			t.Errorf("%s not counted", m)
		}
	}
	t.Logf("figures: hostile: %v; 413s: %d %d; slow-loris connections open: %d; health %q", figures, code413a, code413b, len(lorises), strings.TrimSpace(s.healthText()))
	if code413a != 413 || code413b != 413 {
		t.Fatalf("oversize bodies: %d, %d", code413a, code413b)
	}
	if !strings.HasPrefix(s.healthText(), "OK") {
		t.Fatalf("health %q", s.healthText())
	}
}

// 3. Overload under a small --max-memory: UDP logs and StatsD at twice the
// benchmark rate while large HTTP posts pile up. The guard must engage (and
// say so on /health), shed every intake it sees (UDP dropped and counted,
// HTTP 503 + Retry-After), keep RSS near the bound, and let go by itself:
// normal ingest of logs and StatsD resumes within 10 s of the load ending.
func TestReliabilityOverload(t *testing.T) {
	const limitMiB = 80 // low enough that the lean log store still reaches it under this load
	s := newServer(t, "--max-memory", fmt.Sprintf("%dMiB", limitMiB), "--flush-interval", "1s")
	secs := scale(6, 30)
	rate := 100000 // twice the 50,000/s benchmark
	var sent, posts503, posts202 atomic.Int64
	var peak int64
	var degraded atomic.Value
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				_, p := rss(s.cmd.Process.Pid)
				atomic.StoreInt64(&peak, max(atomic.LoadInt64(&peak), p))
				if h := s.healthText(); strings.HasPrefix(h, "DEGRADED") && strings.Contains(h, "shedding input since") {
					degraded.Store(h)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
			defer c.Close()
			start := time.Now()
			n := 0
			for time.Now().Before(deadline) {
				due := int(time.Since(start).Seconds() * float64(rate/2))
				for ; n < due; n++ {
					fmt.Fprintf(c, `{"@timestamp":"%s","app":"load","k":%d,"seq":%d,"severity":"info","fields":{"path":"/recipes/%d"}}`,
						time.Now().UTC().Format(time.RFC3339Nano), k, n, n%100)
					sent.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		}(k)
	}
	wg.Add(1)
	go func() { // StatsD alongside
		defer wg.Done()
		c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
		defer c.Close()
		for time.Now().Before(deadline) {
			fmt.Fprint(c, "load.hits:1|c\nload.t:12|ms\nload.g:3|g")
			time.Sleep(100 * time.Microsecond)
		}
	}()
	ev := `{"app":"load-http","message":"` + strings.Repeat("x", 200) + `"}` + "\n"
	body := []byte(strings.Repeat(ev, 30000)) // ~7 MiB per post
	for k := 0; k < 6; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := http.Post(s.url()+"/api/logs", "application/x-ndjson", bytes.NewReader(body))
				if err != nil {
					continue
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 503:
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
					posts503.Add(1)
				case 202:
					posts202.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	ended := time.Now()
	// Ingest recovers by itself: markers sent after the load are stored.
	c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	sc, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	eventually(t, 10*time.Second, func() error {
		if h := s.healthText(); !strings.HasPrefix(h, "OK") {
			return fmt.Errorf("health still %q", h)
		}
		fmt.Fprint(c, `{"app":"after-load"}`)
		fmt.Fprint(sc, "after.load:1|c")
		if s.logCount(t, `app:after-load`) == 0 {
			return fmt.Errorf("log marker not searchable")
		}
		if rs := s.render(t, "stats_counts.after.load"); len(rs) != 1 {
			return fmt.Errorf("statsd marker not flushed")
		}
		return nil
	})
	recovered := time.Since(ended)
	c.Close()
	sc.Close()
	close(done)
	stored := s.metric("obs_logs_stored_total")
	dropped := s.metric("obs_logs_dropped_total")
	kernel := s.metric("obs_logs_udp_kernel_drops")
	shed := s.metricSum("obs_memory_shed_total")
	pk := atomic.LoadInt64(&peak)
	t.Logf("figures: overload: %d UDP events/s + StatsD + 6 senders posting 7 MiB for %ds with --max-memory %dMiB: UDP sent %d, stored %.0f events in all "+
		"(queue drops %.0f, kernel drops %.0f, shed %.0f); HTTP posts 202 %d, 503 %d; peak RSS %d MiB; logs and StatsD ingest back %.1fs after the load ended",
		rate, secs, limitMiB, sent.Load(), stored, dropped, kernel, shed, posts202.Load(), posts503.Load(), pk/1024, recovered.Seconds())
	if degraded.Load() == nil || shed == 0 || posts503.Load() == 0 {
		t.Fatalf("the guard never engaged: /health DEGRADED seen %v, shed %.0f, HTTP 503s %d", degraded.Load() != nil, shed, posts503.Load())
	}
	// The guard gives the runtime what the bound leaves after mapped
	// files and the binary, so RSS stays at the bound; a sample may catch
	// a moment past it before a GC.
	if pk*1024 > (limitMiB+16)<<20 {
		t.Fatalf("peak RSS %d MiB over the %d MiB bound", pk/1024, limitMiB)
	}
}

// 4. Cardinality: many distinct metric names and log field names.
func TestReliabilityCardinality(t *testing.T) {
	s := newServer(t, "--flush-interval", "1s")
	names := scale(150000, 1000000)
	c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.statsd))
	var pkt bytes.Buffer
	for i := 0; i < names; i++ {
		fmt.Fprintf(&pkt, "card.m%07d:1|c\n", i)
		if pkt.Len() > 1200 {
			c.Write(pkt.Bytes())
			pkt.Reset()
			if i%20000 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	c.Write(pkt.Bytes())
	c.Close()
	// Distinct log field names: each event has 50 keys of its own.
	fieldNames := scale(200000, 1000000)
	lc, _ := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	w := bufio.NewWriter(lc)
	for e := 0; e < fieldNames/50; e++ {
		w.WriteString(`{"app":"wide"`)
		for k := 0; k < 50; k++ {
			fmt.Fprintf(w, `,"f%07d":%d`, e*50+k, k)
		}
		w.WriteString("}\n")
	}
	w.Flush()
	lc.Close()
	eventually(t, 30*time.Second, func() error {
		if s.metric("obs_statsd_rejected_series_total") == 0 {
			return fmt.Errorf("no statsd names rejected yet")
		}
		if n := s.metric("obs_logs_stored_total"); n < float64(fieldNames/50) {
			return fmt.Errorf("wide events stored %.0f", n)
		}
		if n := s.metric("obs_metrics_series"); n < 100000 {
			return fmt.Errorf("tsdb series %.0f: not flushed yet", n)
		}
		return nil
	})
	_, peak := rss(s.cmd.Process.Pid)
	rejected := s.metric("obs_statsd_rejected_series_total")
	series := s.metric("obs_metrics_series")
	fieldsRejected := s.metric("obs_logs_fields_rejected_total")
	t.Logf("figures: cardinality: %d distinct StatsD names: %.0f rejected by the 100,000 cap, %.0f TSDB series; %d distinct log field names in %d events: %.0f not indexed (per-block cap %d); peak RSS %d MiB",
		names, rejected, series, fieldNames, fieldNames/50, fieldsRejected, 1000, peak/1024)
	if series > 2*100000+100 {
		t.Fatalf("the series cap did not hold: %.0f series", series)
	}
	if n := len(s.searchJSON(`app:wide`)); n != fieldNames/50 {
		t.Fatalf("wide events searchable %d/%d", n, fieldNames/50)
	}
}

// 5. Disk full: the data dir on a small tmpfs.
func TestReliabilityDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	defer exec.Command("umount", "-l", dir).Run()
	s := &server{t: t, data: dir}
	s.start()
	defer s.stop()
	send := func(app string, n int) {
		c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
		defer c.Close()
		for i := 0; i < n; i++ {
			fmt.Fprintf(c, `{"app":%q,"seq":%d,"pad":"%s"}`, app, i, strings.Repeat("p", 200))
			time.Sleep(100 * time.Microsecond)
		}
	}
	send("before", 500)
	eventually(t, 5*time.Second, func() error {
		if n := len(s.searchJSON(`app:before`)); n != 500 {
			return fmt.Errorf("before: %d", n)
		}
		return nil
	})
	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	f, _ := os.Create(filler)
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	send("during", 3000)
	var health string
	eventually(t, 10*time.Second, func() error {
		health = s.healthText()
		if !strings.HasPrefix(health, "DEGRADED") && !strings.HasPrefix(health, "DOWN") {
			return fmt.Errorf("health %q", health)
		}
		return nil
	})
	if !strings.Contains(health, "logs_store DEGRADED") || !strings.Contains(health, "no space left") {
		t.Fatalf("health does not say why: %q", health)
	}
	// Queries keep working on what is stored.
	if n := len(s.searchJSON(`app:before`)); n != 500 {
		t.Fatalf("queries during disk full: %d/500", n)
	}
	// Space returns: writing resumes, nothing old is damaged.
	os.Remove(filler)
	send("after", 500)
	eventually(t, 15*time.Second, func() error {
		if n := len(s.searchJSON(`app:after`)); n != 500 {
			return fmt.Errorf("after: %d/500", n)
		}
		if !strings.HasPrefix(s.healthText(), "OK") {
			return fmt.Errorf("health %q", s.healthText())
		}
		return nil
	})
	during := len(s.searchJSON(`app:during`))
	writeErrs := s.metric("obs_logs_write_errors_total")
	s.stop()
	s.start() // and it all reopens cleanly
	if n := len(s.searchJSON(`app:before`)); n != 500 {
		t.Fatalf("old data damaged: %d/500 after reopen", n)
	}
	if n := len(s.searchJSON(`app:after`)); n != 500 {
		t.Fatalf("data written after the disk filled lost on reopen: %d/500", n)
	}
	t.Logf("figures: disk full: health %q; during the full disk %d of 3000 events stored, %.0f counted as write errors; 500/500 stored after space returned; old data intact after reopen",
		strings.TrimSpace(health), during, writeErrs)
}

// 6. Retention removes expired days while ingest and queries go on.
func TestReliabilityRetention(t *testing.T) {
	// Days 5 days old are written under a 7-day retention, then obs is
	// restarted with 2 days: the old days must go on schedule while live
	// ingest and queries go on. (Under a 2-day retention from the start,
	// events that old are stored at their receive time, tagged.)
	s := newServer(t)
	old := time.Now().AddDate(0, 0, -5).UTC()
	c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	for i := 0; i < 100; i++ {
		fmt.Fprintf(c, `{"@timestamp":%q,"app":"old","seq":%d}`, old.Format(time.RFC3339), i)
	}
	c.Close()
	s.postSpans(spansJSON("old-svc", 9000, 10, old))
	eventually(t, 10*time.Second, func() error {
		if n := s.logCountSince(t, "30d", "app:old"); n != 100 {
			return fmt.Errorf("%d old events stored", n)
		}
		return nil
	})
	s.stop()
	s.extra = []string{"--logs-retention", "2d", "--traces-retention", "2d", "--retention-check", "1s"}
	s.start()
	stop := make(chan struct{})
	var queryErrs atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // ingest continues
		defer wg.Done()
		c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			fmt.Fprintf(c, `{"app":"live","seq":%d}`, i)
		}
	}()
	go func() { // queries continue
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := http.Get(s.url() + "/api/logs/search?q=app:live&from=now-1h"); err != nil {
				queryErrs.Add(1)
			}
		}
	}()
	oldDay := filepath.Join(s.data, "logs", "logs-"+old.Format("2006.01.02"))
	eventually(t, 10*time.Second, func() error {
		if _, err := os.Stat(oldDay); err == nil {
			return fmt.Errorf("%s still there", oldDay)
		}
		if len(s.traceIDs(t, "old-svc")) != 0 {
			return fmt.Errorf("expired spans still found")
		}
		return nil
	})
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	oldLeft := s.logCountSince(t, "30d", "app:old")
	live := len(s.searchJSON(`app:live`))
	t.Logf("figures: retention: old day and spans removed within the 1s schedule after a restart with 2d; %d old events left; %d live events stored meanwhile; %d query errors", oldLeft, live, queryErrs.Load())
	if oldLeft != 0 || live == 0 || queryErrs.Load() != 0 {
		t.Fatalf("retention: old %d, live %d, query errors %d", oldLeft, live, queryErrs.Load())
	}
}

// A small --max-disk with more data than it holds: the oldest days go,
// counted, the newest stay whole and searchable, nothing else is lost.
func TestReliabilityDiskBudget(t *testing.T) {
	s := newServer(t, "--max-disk", "400KiB", "--retention-check", "1s")
	now := time.Now().UTC()
	perDay := 6000
	for d := 5; d >= 0; d-- {
		ts := now.Add(-time.Duration(d)*24*time.Hour - time.Hour)
		var body bytes.Buffer
		for i := 0; i < perDay; i++ {
			fmt.Fprintf(&body, `{"@timestamp":"%s","app":"budget","day":%d,"seq":%d,"message":"GET /recipes/%d took %dms user=u%d id=%x"}`+"\n",
				ts.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), d, i, i*7919%5000, i*31%900, i*13%10000, i*2654435761)
		}
		resp, err := http.Post(s.url()+"/api/logs", "application/x-ndjson", &body)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("post day %d: %v %v", d, err, resp)
		}
		resp.Body.Close()
	}
	var removed float64
	eventually(t, 30*time.Second, func() error {
		removed = s.metricSum("obs_disk_budget_removed_total")
		used := s.metric("obs_disk_used_bytes")
		if removed == 0 || used > 400<<10 {
			return fmt.Errorf("removed %v partitions, %v bytes used", removed, used)
		}
		return nil
	})
	count := func(d int) int {
		return s.logCountSince(t, "8d", fmt.Sprintf("app:budget and day:%d", d))
	}
	kept := 0
	for d := 0; d <= 5; d++ {
		switch n := count(d); {
		case n == perDay:
			kept++
			if d > 0 && count(d-1) != perDay {
				t.Fatalf("day -%d kept but the newer day -%d is not whole", d, d-1)
			}
		case n == 0:
		default:
			t.Fatalf("day -%d: %d of %d events: a day was cut, not removed whole", d, n, perDay)
		}
	}
	t.Logf("figures: disk budget 400 KiB: 6 days of %d events posted, %.0f oldest days removed, %d newest kept whole, %.0f bytes used",
		perDay, removed, kept, s.metric("obs_disk_used_bytes"))
	if count(0) != perDay {
		t.Fatal("the newest day is not intact")
	}
}

// postDays posts n events to each of the given days back from now.
func (s *server) postDays(t *testing.T, app string, n int, daysBack ...int) {
	t.Helper()
	now := time.Now().UTC()
	for _, d := range daysBack {
		var body bytes.Buffer
		ts := now.Add(-time.Duration(d)*24*time.Hour - time.Hour)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&body, `{"@timestamp":"%s","app":"%s","day":%d,"seq":%d}`+"\n", ts.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), app, d, i)
		}
		resp, err := http.Post(s.url()+"/api/logs", "application/x-ndjson", &body)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("post day -%d: %v %v", d, err, resp)
		}
		resp.Body.Close()
	}
}

// Each kind of damage to one day's files: obs still starts, serves the
// other days whole, and says what it could not repair on /health.
func TestReliabilityStartsAfterCorruption(t *testing.T) {
	damage := []struct {
		name   string
		file   string // under the day's directory
		do     func(path string) error
		health string // what /health must say ("" : repaired, OK)
	}{
		// obs-logs 1 kept a bleve index per day; obs-logs 2 blocks carry their
		// own dictionaries and bloom filters and a leftover index is removed.
		{"leftover bleve index", "blocks.bleve/index_meta.json", func(p string) error {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			return os.WriteFile(p, []byte("{garbage"), 0o600)
		}, ""},
		{"WAL", "wal-00000002.log", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte{0x99, 0x01, 0, 0})
			return err
		}, ""},
		{"block", "segment.dat", func(p string) error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("XXXXXXXX"), 2) // inside the first block's header
			return err
		}, "damaged"},
		{"segment", "segment.dat", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}, "moved aside"},
	}
	var starts []string
	for _, c := range damage {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t)
			s.postDays(t, "corrupt", 2500, 2, 1, 0) // a block and a head (in its WAL) each
			s.kill9()
			day := "logs-" + time.Now().UTC().Add(-24*time.Hour-time.Hour).Format("2006.01.02")
			if err := c.do(filepath.Join(s.data, "logs", day, c.file)); err != nil {
				t.Fatal(err)
			}
			took := s.start()
			starts = append(starts, fmt.Sprintf("%s %.1fs", c.name, took.Seconds()))
			for _, d := range []int{2, 0} {
				if n := s.logCountSince(t, "8d", fmt.Sprintf("app:corrupt and day:%d", d)); n != 2500 {
					t.Fatalf("undamaged day -%d: %d events after restart", d, n)
				}
			}
			h := s.healthText()
			if c.health == "" && !strings.HasPrefix(h, "OK") || c.health != "" && !strings.Contains(h, c.health) {
				t.Fatalf("/health %q, want %q", h, c.health)
			}
		})
	}
	t.Logf("figures: corruption: obs started after each case: %s", strings.Join(starts, ", "))
}

// A second obs serve on the same data directory exits at once, naming the
// first one's pid.
func TestReliabilitySecondServeExitsAtOnce(t *testing.T) {
	s := newServer(t)
	cmd := exec.Command(obsBin, "serve", "--data", s.data, "--http", "127.0.0.1:0", "--logs-udp", "127.0.0.1:0",
		"--statsd", "127.0.0.1:0", "--carbon", "127.0.0.1:0", "--zipkin", "127.0.0.1:0")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	want := fmt.Sprintf("is in use by pid %d", s.cmd.Process.Pid)
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("second serve: %v: %s (want %q)", err, out, want)
	}
	t.Logf("figures: a second obs serve on the same data directory exited in %v", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Fatalf("second serve took %v to give up", took)
	}
}

// Bad retention values are refused with a clear error.
func TestReliabilityRetentionValidated(t *testing.T) {
	for _, v := range []string{"1h", "12h", "0d", "1.5d"} {
		out, err := exec.Command(obsBin, "serve", "--data", t.TempDir(), "--logs-retention", v).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--logs-retention: retention must be whole days, at least 1d") {
			t.Fatalf("--logs-retention %s: %v: %s", v, err, out)
		}
	}
}

// 10,000 datagrams each dated on another day: one client's wrong clock must
// not open thousands of days. Events outside the bounds land today, tagged.
func TestReliabilityManyEventDays(t *testing.T) {
	s := newServer(t)
	fds := func() int {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
		return len(ents)
	}
	before := fds()
	c, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	defer c.Close()
	n := scale(10000, 10000)
	base := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		fmt.Fprintf(c, `{"@timestamp":"%s","app":"clock","seq":%d}`, base.Add(time.Duration(i)*24*time.Hour).Format(time.RFC3339), i)
		if i%200 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	eventually(t, 20*time.Second, func() error {
		if got := s.metric("obs_logs_stored_total"); int(got) != n {
			return fmt.Errorf("stored %v of %d", got, n)
		}
		return nil
	})
	parts := s.metric("obs_logs_partitions")
	after := fds()
	skewed := s.logCount(t, "app:clock and tags:_timestampskew")
	t.Logf("figures: %d events on %d distinct days: %.0f day partitions, open files %d -> %d, %d stored at receive time tagged _timestampskew",
		n, n, parts, before, after, skewed)
	if parts > 10 || after-before > 40 {
		t.Fatalf("%.0f partitions, %d more open files", parts, after-before)
	}
}

// The disk budget removes the span store's oldest hours too, whole, and
// keeps the newest.
func TestReliabilityDiskBudgetTraces(t *testing.T) {
	s := newServer(t, "--max-disk", "1MiB", "--retention-check", "1s")
	now := time.Now().UTC().Truncate(time.Second)
	const perHour = 3000
	for d := 5; d >= 0; d-- {
		start := now.Add(-time.Duration(d)*24*time.Hour - 2*time.Hour)
		var spans []map[string]any
		for i := 0; i < perHour; i++ {
			spans = append(spans, map[string]any{
				"traceId": fmt.Sprintf("%08x%08x", d+1, i), "id": fmt.Sprintf("%016x", i+1), "name": fmt.Sprintf("get /recipes/%d", i%97),
				"timestamp": start.Add(time.Duration(i) * time.Millisecond).UnixMicro(), "duration": 1000 + i%5000,
				"localEndpoint": map[string]any{"serviceName": fmt.Sprintf("budget%d", d)},
				"tags":          map[string]string{"http.path": fmt.Sprintf("/recipes/%d", i*7919%5000), "user": fmt.Sprintf("u%x", i*2654435761)},
			})
		}
		body, _ := json.Marshal(spans)
		if code := s.postSpans(body); code != 202 {
			t.Fatalf("post spans of day -%d: %d", d, code)
		}
	}
	eventually(t, 30*time.Second, func() error {
		if s.metricSum(`obs_disk_budget_removed_total{signal="traces"}`) == 0 {
			return fmt.Errorf("no span hour removed yet; %v bytes used", s.metric("obs_disk_used_bytes"))
		}
		return nil
	})
	if n := len(s.traceIDs(t, "budget0")); n != perHour {
		t.Fatalf("newest hour: %d of %d traces", n, perHour)
	}
	if n := len(s.traceIDs(t, "budget5")); n != 0 {
		t.Fatalf("oldest hour still has %d traces after the budget removed span hours", n)
	}
	t.Logf("figures: disk budget 1 MiB: 6 hours of %d spans, %.0f span hours removed, %.0f bytes used", perHour,
		s.metricSum(`obs_disk_budget_removed_total{signal="traces"}`), s.metric("obs_disk_used_bytes"))
}
