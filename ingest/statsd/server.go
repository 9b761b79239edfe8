package statsd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/ipv4"

	"github.com/obs-dev/obs/ingest/framing"
	"github.com/obs-dev/obs/ingest/procnet"
	"github.com/obs-dev/obs/store/logs"
)

// Sink stores flushed samples.
type Sink interface {
	Write(ctx context.Context, samples []Sample) error
}

// EventSink takes DogStatsD events and service checks as log events.
type EventSink interface {
	TryAppend([]logs.Entry) bool
}

// Server listens for StatsD on UDP and TCP and flushes the aggregate.
type Server struct {
	Addr    string
	Agg     *Aggregator
	Sink    Sink
	Events  EventSink
	Log     *slog.Logger
	Readers int
	// Shed, when set and true, drops datagrams unparsed; Pause, when set,
	// holds a TCP reader back (memory pressure).
	Shed  func() bool
	Pause func(context.Context)

	pair   *framing.Pair
	cancel context.CancelFunc
	// Conns caps concurrent TCP clients (Max, default 1024).
	Conns framing.Conns

	flushErrors prometheus.Counter
	badEvents   prometheus.Counter
}

// RegisterMetrics exports the server's counters; call before Start.
func (s *Server) RegisterMetrics(reg prometheus.Registerer) {
	s.flushErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_statsd_flush_errors_total", Help: "Flushes whose samples the metrics store refused in part or whole."})
	s.badEvents = prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_statsd_bad_events_total", Help: "DogStatsD event and service-check lines that could not be read."})
	reg.MustRegister(s.flushErrors, s.badEvents,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_statsd_rejected_series_total", Help: "New StatsD names refused by the distinct-series cap."},
			func() float64 { s.Agg.mu.Lock(); defer s.Agg.mu.Unlock(); return float64(s.Agg.Rejected) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_statsd_tcp_rejected_total", Help: "StatsD TCP connections refused at the connection cap."},
			func() float64 { return float64(s.Conns.Rejected.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_statsd_packets_total", Help: "StatsD packets (UDP datagrams, TCP lines) received."},
			func() float64 { p, _ := s.Agg.Totals(); return float64(p) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_statsd_metrics_total", Help: "StatsD metric values received."},
			func() float64 { _, m := s.Agg.Totals(); return float64(m) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_statsd_udp_kernel_drops", Help: "Datagrams the kernel dropped on the StatsD UDP socket, from /proc/net/udp."},
			func() float64 { n, _ := procnet.UDPDrops(s.UDPAddr().Port); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_statsd_bad_lines_total", Help: "StatsD lines that could not be parsed (also flushed as statsd.bad_lines_seen)."},
			func() float64 { s.Agg.mu.Lock(); defer s.Agg.mu.Unlock(); return float64(s.Agg.totalBad) }),
	)
}

// Start binds UDP and TCP on Addr and starts the readers and the flusher.
func (s *Server) Start(ctx context.Context) error {
	if s.flushErrors == nil {
		s.RegisterMetrics(prometheus.NewRegistry())
	}
	var err error
	if s.pair, err = framing.ListenPair("statsd", s.Addr, 32<<20, &s.Conns); err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	n := s.Readers
	if n <= 0 {
		n = 2
	}
	for i := 0; i < n; i++ {
		s.pair.Go(s.readUDP)
	}
	s.pair.ServeTCP(func(c net.Conn) {
		framing.ReadLines(c, 64<<10, func() {
			if s.Pause != nil {
				s.Pause(ctx)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		},
			func(line []byte, tooLong bool) error {
				if tooLong {
					s.Agg.Bad(1)
					return nil
				}
				s.Agg.AddLines(line, s.other)
				return nil
			})
	})
	s.pair.Go(func() { s.flusher(ctx) })
	return nil
}

// UDPAddr is the bound address.
func (s *Server) UDPAddr() *net.UDPAddr { return s.pair.UDPAddr() }

// readUDP takes up to udpBatch datagrams per system call (recvmmsg): at
// StatsD packet rates the per-datagram syscall was the reader's largest cost.
func (s *Server) readUDP() {
	pc := ipv4.NewPacketConn(s.pair.UDP)
	msgs := make([]ipv4.Message, udpBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 65536)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		for i := 0; i < n; i++ {
			if s.Shed != nil && s.Shed() {
				continue
			}
			s.Agg.AddLines(msgs[i].Buffers[0][:msgs[i].N], s.other)
		}
	}
}

const udpBatch = 32

// other stores DogStatsD events and service checks as log events.
func (s *Server) other(kind LineKind, line []byte) {
	e, err := DogStatsDLogEvent(kind, line, time.Now())
	if err != nil {
		s.badEvents.Inc()
		return
	}
	if s.Events != nil {
		s.Events.TryAppend([]logs.Entry{e})
	}
}

func (s *Server) flusher(ctx context.Context) {
	t := time.NewTicker(s.Agg.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.flush(now)
		}
	}
}

func (s *Server) flush(now time.Time) {
	samples := s.Agg.Flush(now)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Sink.Write(ctx, samples); err != nil {
		s.flushErrors.Inc()
		if s.Log != nil {
			s.Log.Error("store statsd flush", "samples", len(samples), "err", err)
		}
	}
}

// Close stops the listeners, waits for readers and makes the final flush.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.pair == nil {
		return nil
	}
	err := s.pair.Close()
	s.flush(time.Now())
	return err
}
