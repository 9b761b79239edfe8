package logudp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
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
		BadInput:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_logs_bad_input_total", Help: "Bad log input, by kind (json: kept with _jsonparsefailure; timestamp: kept with _timestampparsefailure; timestamp_skew: stored at receive time with _timestampskew; line_too_long: skipped)."}, []string{"kind"}),
		TCPConns:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "obs_logs_tcp_connections", Help: "Open json_lines TCP connections."}),
	}
	for _, k := range []string{"json", "timestamp", "timestamp_skew", "line_too_long"} {
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
	if r.TimestampSkew > 0 {
		m.BadInput.WithLabelValues("timestamp_skew").Add(float64(r.TimestampSkew))
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
	// Bounds keep an event's day near its receive time.
	Bounds Bounds
	// Shed, when set and true, drops datagrams unread; Pause, when set,
	// holds a TCP reader back (memory pressure).
	Shed  func() bool
	Pause func(context.Context)

	pair   *framing.Pair
	cancel context.CancelFunc
	// Conns caps concurrent TCP clients (Max, default 1024).
	Conns framing.Conns
}

// Start binds both sockets and starts serving; it returns once bound.
func (s *Server) Start(ctx context.Context) error {
	var err error
	if s.pair, err = framing.ListenPair("logs", s.Addr, 32<<20, &s.Conns); err != nil {
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
		s.Metrics.TCPConns.Inc()
		defer s.Metrics.TCPConns.Dec()
		s.serveTCP(ctx, c)
	})
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
func (s *Server) UDPAddr() *net.UDPAddr { return s.pair.UDPAddr() }

func (s *Server) readUDP() {
	buf := make([]byte, MaxDatagram+1)
	for {
		n, addr, err := s.pair.UDP.ReadFromUDPAddrPort(buf)
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
		res := s.Bounds.Normalize(payload, time.Now(), addr.Addr().Unmap().String())
		s.Metrics.Count("udp", res)
		s.Sink.TryAppend(res.Entries)
	}
}

// idleTimeout closes TCP clients that send nothing for this long, so that
// slow or stuck senders cannot hold connections forever.
const idleTimeout = 5 * time.Minute

// tcpBatch bounds the events a TCP connection hands the store at once.
const tcpBatch = 1000

func (s *Server) serveTCP(ctx context.Context, c net.Conn) {
	sender := ""
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		sender = ta.AddrPort().Addr().Unmap().String()
	}
	// Lines that arrived together go to the store as one batch; the batch
	// is handed over before the connection is read again, so a store that
	// is behind stops this sender (backpressure) instead of queueing more.
	var pending []logs.Entry
	var failed error
	handOver := func() {
		if len(pending) > 0 && failed == nil {
			failed = s.Sink.Append(ctx, pending)
		}
		pending = nil
	}
	err := framing.ReadLines(c, MaxLine, func() {
		handOver()
		if s.Pause != nil {
			s.Pause(ctx)
		}
		c.SetReadDeadline(time.Now().Add(idleTimeout))
	}, func(line []byte, tooLong bool) error {
		s.Metrics.Lines.Inc()
		if tooLong {
			s.Metrics.BadInput.WithLabelValues("line_too_long").Inc()
			return nil
		}
		// The line points into the reader's buffer, which the next read
		// reuses, and a stored event keeps its bytes: copy it.
		res := s.Bounds.Normalize(bytes.Clone(line), time.Now(), sender)
		s.Metrics.Count("tcp", res)
		pending = append(pending, res.Entries...)
		if len(pending) >= tcpBatch {
			handOver()
		}
		return failed
	})
	handOver()
	if err == nil {
		err = failed
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) && s.Log != nil {
		s.Log.Debug("logs tcp connection ended", "peer", c.RemoteAddr().String(), "err", err)
	}
}

// Close stops reading, closes client connections and waits for the readers.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.pair == nil {
		return nil
	}
	return s.pair.Close()
}
