package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/logudp"
	"github.com/obs-dev/obs/ingest/procnet"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// BenchmarkLogsIngestUDP sends varied seed-shaped events over real UDP to the real
// listener and store at OBS_BENCH_RATE events/s (default 50,000) for
// OBS_BENCH_SECONDS (default 60), then counts what was stored.
func BenchmarkLogsIngestUDP(b *testing.B) {
	rate := envInt("OBS_BENCH_RATE", 50000)
	secs := envInt("OBS_BENCH_SECONDS", 60)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		st, err := logs.Open(dir, logs.Options{QueueSize: 65536, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		srv := &logudp.Server{Addr: "127.0.0.1:0", Sink: st, Metrics: logudp.NewMetrics(prometheus.NewRegistry())}
		if err := srv.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		conn, err := net.DialUDP("udp", nil, srv.UDPAddr())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sent, sendErrs := 0, 0
		buf := make([]byte, 0, 512)
		// Pace in 1 ms slices so the rate is steady rather than bursty.
		for time.Since(start) < time.Duration(secs)*time.Second {
			due := int(time.Since(start).Seconds() * float64(rate))
			for sent < due {
				buf = VariedEvent(buf, sent, time.Now())
				if _, err := conn.Write(buf); err != nil {
					sendErrs++
				}
				sent++
			}
			time.Sleep(200 * time.Microsecond)
		}
		sendDur := time.Since(start)
		// Wait for the pipeline to drain.
		deadline := time.Now().Add(5 * time.Second)
		for st.Stats.Stored.Load()+st.Stats.Dropped.Load() < int64(sent) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		st.Sync()
		kdrops, _ := procnet.UDPDrops(srv.UDPAddr().Port)
		srv.Close()
		st.Flush()
		stored := st.Stats.Stored.Load()
		st.Close()
		disk := dirBytes(dir)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(sent)/sendDur.Seconds(), "sent/s")
		b.ReportMetric(float64(stored)/sendDur.Seconds(), "stored/s")
		b.ReportMetric(float64(int64(sent)-stored), "lost")
		b.ReportMetric(float64(disk)/float64(stored), "disk-B/event")
		b.Logf("rate %d/s for %v: sent %d, stored %d, lost %d (queue drops %d, kernel drops %d, send errors %d), disk %.1f B/event",
			rate, sendDur.Round(time.Millisecond), sent, stored, int64(sent)-stored, st.Stats.Dropped.Load(), kdrops, sendErrs, float64(disk)/float64(stored))
	}
}

// BenchmarkLogsQuery1M stores OBS_BENCH_EVENTS (default 1,000,000) varied seed-shaped
// events over one hour, then times a newest-first search with limit 100 and
// a count and histogram of a two-term query.
func BenchmarkLogsQuery1M(b *testing.B) {
	n := envInt("OBS_BENCH_EVENTS", 1000000)
	dir := b.TempDir()
	st, err := logs.Open(dir, logs.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	end := time.Now().UTC().Truncate(time.Minute)
	start := end.Add(-time.Hour)
	step := time.Hour / time.Duration(n)
	loadStart := time.Now()
	batch := make([]logs.Entry, 0, 1000)
	var buf []byte
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * step)
		buf = VariedEvent(buf, i, ts)
		batch = append(batch, logs.Entry{TS: ts, Raw: append([]byte(nil), buf...)})
		if len(batch) == cap(batch) {
			st.Append(context.Background(), batch)
			batch = make([]logs.Entry, 0, 1000)
		}
	}
	st.Append(context.Background(), batch)
	st.Flush()
	load := time.Since(loadStart)
	disk := dirBytes(dir)
	b.Logf("stored %d events in %v (%.0f events/s through Append), %d bytes on disk = %.1f B/event",
		n, load.Round(time.Millisecond), float64(n)/load.Seconds(), disk, float64(disk)/float64(n))
	b.ReportMetric(float64(disk)/float64(n), "disk-B/event")

	rng := logs.Range{From: start, To: end}
	ctx := context.Background()
	timeIt := func(name string, runs int, f func() error) time.Duration {
		var ds []time.Duration
		for r := 0; r < runs; r++ {
			t0 := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		p50 := ds[len(ds)/2]
		b.Logf("%-58s p50 %8.2f ms  min %8.2f ms  max %8.2f ms", name, ms(p50), ms(ds[0]), ms(ds[len(ds)-1]))
		return p50
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, q := range []string{`*`, `app:"web-api" AND (severity:error OR severity:warn)`, `fields.status >= 500`, `fields.request_id:req-0000abcd`} {
			m := kql.MustCompile(q)
			p := timeIt(fmt.Sprintf("search limit 100: %s", q), 21, func() error {
				_, err := st.Search(ctx, logs.SearchRequest{Match: m, Range: rng, Limit: 100})
				return err
			})
			if q == `*` {
				b.ReportMetric(ms(p), "search-p50-ms")
			}
		}
		two := kql.MustCompile(`app:"web-api" AND severity:error`)
		var total int
		pc := timeIt("count: app:\"web-api\" AND severity:error", 11, func() error {
			var err error
			total, err = st.CountMatches(ctx, two, rng)
			return err
		})
		ph := timeIt("histogram 1m: app:\"web-api\" AND severity:error", 11, func() error {
			_, _, err := st.Histogram(ctx, two, rng, time.Minute)
			return err
		})
		b.Logf("two-term query matches %d events", total)
		b.ReportMetric(ms(pc), "count-p50-ms")
		b.ReportMetric(ms(ph), "histogram-p50-ms")
	}
}

// BenchmarkLogsIngestTCP and BenchmarkLogsIngestHTTP send OBS_BENCH_EVENTS
// (default 300,000) varied events as fast as the intake takes them, over
// four json_lines connections or four HTTP senders posting NDJSON batches of
// 1,000 (each answered only once stored), into the real listener and store.
// The batches are made before the clock starts; CPU is the whole process's
// (sender included) per million events.
func BenchmarkLogsIngestTCP(b *testing.B)  { benchIngest(b, "tcp") }
func BenchmarkLogsIngestHTTP(b *testing.B) { benchIngest(b, "http") }

func benchIngest(b *testing.B, proto string) {
	n := envInt("OBS_BENCH_EVENTS", 300000)
	for it := 0; it < b.N; it++ {
		dir := b.TempDir()
		st, err := logs.Open(dir, logs.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		m := logudp.NewMetrics(prometheus.NewRegistry())
		srv := &logudp.Server{Addr: "127.0.0.1:0", Sink: st, Metrics: m}
		if err := srv.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		web := httptest.NewServer(logudp.HTTPHandler(st, m, logudp.HTTPOptions{MaxBody: 64 << 20}))
		base := time.Now().Add(-5 * time.Minute)
		var batches [][]byte
		var buf []byte
		for lo := 0; lo < n; lo += 1000 {
			var body []byte
			for i := lo; i < min(n, lo+1000); i++ {
				buf = VariedEvent(buf, i, base.Add(time.Duration(i)*300*time.Microsecond))
				body = append(append(body, buf...), '\n')
			}
			batches = append(batches, body)
		}
		var next atomic.Int64
		cpu0 := cpuSeconds()
		start := time.Now()
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var conn net.Conn
				if proto == "tcp" {
					if conn, err = net.Dial("tcp", srv.UDPAddr().String()); err != nil {
						b.Error(err)
						return
					}
					defer conn.Close()
				}
				for {
					k := int(next.Add(1) - 1)
					if k >= len(batches) {
						return
					}
					if proto == "tcp" {
						conn.Write(batches[k])
						continue
					}
					for {
						resp, err := http.Post(web.URL, "application/x-ndjson", bytes.NewReader(batches[k]))
						if err != nil {
							b.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusServiceUnavailable {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		for st.Stats.Stored.Load() < int64(n) && time.Since(start) < 5*time.Minute {
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		cpu := cpuSeconds() - cpu0
		web.Close()
		srv.Close()
		st.Flush()
		stored := st.Stats.Stored.Load()
		st.Close()
		disk := dirBytes(dir)
		b.ReportMetric(float64(stored)/took.Seconds(), "stored/s")
		b.ReportMetric(cpu/float64(stored)*1e6, "cpu-s/1M")
		b.ReportMetric(float64(disk)/float64(stored), "disk-B/event")
		b.Logf("%s: %d events (avg %d B) stored in %v: %.0f events/s, %.1f CPU s per 1M, %.1f B/event on disk",
			proto, stored, len(batches[0])/1000, took.Round(time.Millisecond), float64(stored)/took.Seconds(),
			cpu/float64(stored)*1e6, float64(disk)/float64(stored))
	}
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
