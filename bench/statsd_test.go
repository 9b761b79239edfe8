package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obs-dev/obs/ingest/procnet"
	"github.com/obs-dev/obs/ingest/statsd"
	"github.com/obs-dev/obs/store/metrics"
)

// datagram builds a packet of n seed-like StatsD lines.
func datagram(n, seed int) []byte {
	var b []byte
	kinds := []string{"c", "ms", "g", "c|@0.5"}
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, '\n')
		}
		b = fmt.Appendf(b, "web-api.bench.m%d.n%d:%d|%s", (seed+i)%50, i, (seed*7+i)%500, kinds[i%len(kinds)])
	}
	return b
}

// blast sends packets as fast as one goroutine can (or at rate per second
// when rate > 0) for d, returning how many were sent.
func blast(addr *net.UDPAddr, packets [][]byte, d time.Duration, rate int) int {
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetWriteBuffer(8 << 20)
	start := time.Now()
	sent := 0
	for time.Since(start) < d {
		due := sent + 256
		if rate > 0 {
			due = int(time.Since(start).Seconds() * float64(rate))
		}
		for i := 0; i < 256 && sent < due; i++ {
			conn.Write(packets[sent%len(packets)])
			sent++
		}
		if rate > 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return sent
}

type discard struct{}

func (discard) Write(context.Context, []statsd.Sample) error { return nil }

func startStatsD(b *testing.B, sink statsd.Sink) *statsd.Server {
	srv := &statsd.Server{Addr: "127.0.0.1:0", Agg: statsd.NewAggregator(statsd.Options{FlushInterval: 10 * time.Second}), Sink: sink, Readers: envInt("OBS_BENCH_READERS", 2)}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv
}

func waitTotals(srv *statsd.Server, wantPackets int) (int64, int64) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		p, m := srv.Agg.Totals()
		if int(p) >= wantPackets || time.Now().After(deadline) {
			return p, m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkStatsD20PerDatagram sends datagrams of 20 metrics at
// OBS_BENCH_STATSD_RATE metrics/s (default 3,000,000) for OBS_BENCH_SECONDS
// (default 10) into the real listener, aggregator and TSDB flushes.
func BenchmarkStatsD20PerDatagram(b *testing.B) {
	rate := envInt("OBS_BENCH_STATSD_RATE", 3000000)
	secs := envInt("OBS_BENCH_SECONDS", 10)
	for i := 0; i < b.N; i++ {
		st, err := metrics.Open(b.TempDir(), metrics.Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv := startStatsD(b, st)
		var packets [][]byte
		for j := 0; j < 64; j++ {
			packets = append(packets, datagram(20, j))
		}
		start := time.Now()
		senders := envInt("OBS_BENCH_SENDERS", 2)
		var wg sync.WaitGroup
		var total atomic.Int64
		for k := 0; k < senders; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				total.Add(int64(blast(srv.UDPAddr(), packets, time.Duration(secs)*time.Second, rate/20/senders)))
			}()
		}
		wg.Wait()
		sent := int(total.Load())
		dur := time.Since(start)
		p, m := waitTotals(srv, sent)
		kd, _ := procnet.UDPDrops(srv.UDPAddr().Port)
		srv.Close()
		st.Close()
		lost := float64(sent*20-int(m)) / float64(sent*20) * 100
		b.ReportMetric(float64(m)/dur.Seconds(), "metrics/s")
		b.ReportMetric(lost, "%lost")
		b.Logf("20/datagram at %d metrics/s for %v: sent %d metrics in %d datagrams, accepted %d (%d datagrams), lost %.3f%% (kernel drops %d)",
			rate, dur.Round(time.Millisecond), sent*20, sent, m, p, lost, kd)
	}
}

// BenchmarkStatsD1PerDatagram compares obs's packet rate for one metric per
// datagram with a bare Go UDP reader's in the same run, both fed by a
// sender going as fast as it can for OBS_BENCH_SECONDS (default 10) each.
func BenchmarkStatsD1PerDatagram(b *testing.B) {
	secs := envInt("OBS_BENCH_SECONDS", 10)
	d := time.Duration(secs) * time.Second
	var packets [][]byte
	for j := 0; j < 64; j++ {
		packets = append(packets, datagram(1, j))
	}
	for i := 0; i < b.N; i++ {
		// Bare reader: read and count, nothing else.
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		conn.SetReadBuffer(32 << 20)
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 65536)
			for {
				if _, err := conn.Read(buf); err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				got.Add(1)
			}
		}()
		start := time.Now()
		bareSent := blast(conn.LocalAddr().(*net.UDPAddr), packets, d, 0)
		bareDur := time.Since(start)
		time.Sleep(200 * time.Millisecond)
		bare := got.Load()
		conn.Close()
		<-done

		srv := startStatsD(b, discard{})
		start = time.Now()
		obsSent := blast(srv.UDPAddr(), packets, d, 0)
		obsDur := time.Since(start)
		p, _ := waitTotals(srv, obsSent)
		srv.Close()

		bareRate, obsRate := float64(bare)/bareDur.Seconds(), float64(p)/obsDur.Seconds()
		b.ReportMetric(bareRate, "bare-pkts/s")
		b.ReportMetric(obsRate, "obs-pkts/s")
		b.ReportMetric(obsRate/bareRate*100, "%of-bare")
		b.Logf("1/datagram: bare reader got %d of %d (%.0f/s); obs got %d of %d (%.0f/s) = %.1f%% of bare",
			bare, bareSent, bareRate, p, obsSent, obsRate, obsRate/bareRate*100)
	}
}
