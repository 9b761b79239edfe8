package logudp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/framing"
	"github.com/obs-dev/obs/ingest/procnet"
	"github.com/obs-dev/obs/store/logs"
)

// MaxDatagram is the largest UDP payload accepted (Logstash's default buffer).
const MaxDatagram = 65536

// MaxLine bounds one TCP json_lines line; longer lines are counted and skipped.
const MaxLine = 1 << 20

// Sink is where events go: TryAppend for UDP (drop and count when full),
// Append for TCP (wait: TCP has backpressure).
type Sink interface {
	TryAppend([]logs.Entry) bool
	Append(context.Context, []logs.Entry) error
}

// Metrics are the ingest counters exported on /metrics.
type Metrics struct {
	Datagrams prometheus.Counter
	Lines     prometheus.Counter
	Events    *prometheus.CounterVec // by transport
	BadInput  *prometheus.CounterVec // by kind: json, timestamp, line_too_long
	Dropped   prometheus.Counter
	TCPConns  prometheus.Gauge
}

// NewMetrics registers the counters; dropped is the store's drop count so
// obs_logs_dropped_total reports drops wherever they happen.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Datagrams: prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_logs_udp_datagrams_total", Help: "UDP datagrams received on the logs port."}),
		Lines:     prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_logs_tcp_lines_total", Help: "json_lines lines received over TCP."}),
		Events:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_logs_received_total", Help: "Log events received, by transport."}, []string{"transport"}),
		BadInput:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_logs_bad_input_total", Help: "Bad log input, by kind (json: kept with _jsonparsefailure; timestamp: kept with _timestampparsefailure; line_too_long: skipped)."}, []string{"kind"}),
		TCPConns:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "obs_logs_tcp_connections", Help: "Open json_lines TCP connections."}),
	}
	for _, k := range []string{"json", "timestamp", "line_too_long"} {
		m.BadInput.WithLabelValues(k)
	}
	for _, t := range []string{"udp", "tcp", "http"} {
		m.Events.WithLabelValues(t)
	}
	reg.MustRegister(m.Datagrams, m.Lines, m.Events, m.BadInput, m.TCPConns)
	return m
}

// Count records what Normalize found.
func (m *Metrics) Count(transport string, r Result) {
	m.Events.WithLabelValues(transport).Add(float64(len(r.Entries)))
	if r.JSONFailures > 0 {
		m.BadInput.WithLabelValues("json").Add(float64(r.JSONFailures))
	}
	if r.TimestampFailure > 0 {
		m.BadInput.WithLabelValues("timestamp").Add(float64(r.TimestampFailure))
	}
}

// Server listens on one address for UDP datagrams and TCP json_lines.
type Server struct {
	Addr    string
	Sink    Sink
	Log     *slog.Logger
	Metrics *Metrics
	// Readers is the number of goroutines reading the UDP socket.
	Readers int
	// Shed, when set and true, drops datagrams unread (memory pressure).
	Shed func() bool

	udp    *net.UDPConn
	tcp    net.Listener
	wg     sync.WaitGroup
	cancel context.CancelFunc
	// Conns caps concurrent TCP clients (Max, default 1024).
	Conns framing.Conns
}

// Start binds both sockets and starts serving; it returns once bound.
func (s *Server) Start(ctx context.Context) error {
	ua, err := net.ResolveUDPAddr("udp", s.Addr)
	if err != nil {
		return fmt.Errorf("logs udp address %q: %w", s.Addr, err)
	}
	s.udp, err = net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("listen logs udp %s: %w", s.Addr, err)
	}
	if err := framing.BigReadBuffer(s.udp, 32<<20); err != nil && s.Log != nil {
		s.Log.Warn("set UDP receive buffer", "err", err)
	}
	// TCP on the same port as UDP got (the address may have said port 0).
	s.tcp, err = net.Listen("tcp", s.udp.LocalAddr().String())
	if err != nil {
		s.udp.Close()
		return fmt.Errorf("listen logs tcp %s: %w", s.Addr, err)
	}
	ctx, s.cancel = context.WithCancel(ctx)
	n := s.Readers
	if n <= 0 {
		n = 2
	}
	for i := 0; i < n; i++ {
		s.wg.Add(1)
		go s.readUDP()
	}
	s.wg.Add(1)
	go s.acceptTCP(ctx)
	return nil
}

// ConnsRejectedCollector exports refused TCP connections.
func (s *Server) ConnsRejectedCollector() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_logs_tcp_rejected_total",
		Help: "json_lines TCP connections refused at the connection cap."},
		func() float64 { return float64(s.Conns.Rejected.Load()) })
}

// KernelDropsCollector exports the kernel's drops on the bound UDP socket.
func (s *Server) KernelDropsCollector() prometheus.Collector {
	port := s.UDPAddr().Port
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_logs_udp_kernel_drops",
		Help: "Datagrams the kernel dropped on the logs UDP socket (receive buffer full), from /proc/net/udp."},
		func() float64 { n, _ := procnet.UDPDrops(port); return float64(n) })
}

// UDPAddr is the bound UDP address.
func (s *Server) UDPAddr() *net.UDPAddr { return s.udp.LocalAddr().(*net.UDPAddr) }

func (s *Server) readUDP() {
	defer s.wg.Done()
	buf := make([]byte, MaxDatagram+1)
	for {
		n, addr, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.Metrics.Datagrams.Inc()
		if s.Shed != nil && s.Shed() {
			continue
		}
		payload := append([]byte(nil), buf[:n]...)
		res := Normalize(payload, time.Now(), addr.Addr().Unmap().String())
		s.Metrics.Count("udp", res)
		s.Sink.TryAppend(res.Entries)
	}
}

func (s *Server) acceptTCP(ctx context.Context) {
	defer s.wg.Done()
	s.Conns.Accept(s.tcp, &s.wg, func(c net.Conn) {
		s.Metrics.TCPConns.Inc()
		defer s.Metrics.TCPConns.Dec()
		s.serveTCP(ctx, c)
	})
}

// idleTimeout closes TCP clients that send nothing for this long, so that
// slow or stuck senders cannot hold connections forever.
const idleTimeout = 5 * time.Minute

func (s *Server) serveTCP(ctx context.Context, c net.Conn) {
	sender := ""
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		sender = ta.AddrPort().Addr().Unmap().String()
	}
	err := framing.ReadLines(c, MaxLine, func() { c.SetReadDeadline(time.Now().Add(idleTimeout)) }, func(line []byte, tooLong bool) error {
		s.Metrics.Lines.Inc()
		if tooLong {
			s.Metrics.BadInput.WithLabelValues("line_too_long").Inc()
			return nil
		}
		res := Normalize(line, time.Now(), sender)
		s.Metrics.Count("tcp", res)
		return s.Sink.Append(ctx, res.Entries)
	})
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) && s.Log != nil {
		s.Log.Debug("logs tcp connection ended", "peer", c.RemoteAddr().String(), "err", err)
	}
}

// Close stops reading, closes client connections and waits for the readers.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	var errs []error
	if s.udp != nil {
		errs = append(errs, s.udp.Close())
	}
	if s.tcp != nil {
		errs = append(errs, s.tcp.Close())
	}
	s.Conns.CloseAll()
	s.wg.Wait()
	return errors.Join(errs...)
}
