package statsd

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"

	"github.com/obs-dev/obs/ingest/framing"
)

// CarbonSink is where Carbon appends: a TSDB (store/metrics.Store). One
// transaction per batch; series are appended by the reference the last
// append returned.
type CarbonSink = storage.Appendable

// Carbon listens for Graphite plaintext on TCP and UDP.
type Carbon struct {
	Addr string
	Sink CarbonSink

	// MaxNames caps distinct metric names taken over plaintext (default
	// 100,000); new names beyond it are refused and counted.
	MaxNames int
	// Conns caps concurrent TCP clients (Max, default 1024).
	Conns framing.Conns
	// Shed, when set and true, drops a UDP datagram unread; Pause, when
	// set, holds a TCP reader back (memory pressure).
	Shed  func() bool
	Pause func(context.Context)

	pair     *framing.Pair
	bad      prometheus.Counter
	good     prometheus.Counter
	rejected prometheus.Counter
	index    *carbonIndex
}

// RegisterMetrics exports the listener's counters; call before Start.
func (c *Carbon) RegisterMetrics(reg prometheus.Registerer) {
	c.bad = prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_carbon_bad_lines_total", Help: "Graphite plaintext lines that could not be parsed."})
	c.good = prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_carbon_samples_total", Help: "Graphite plaintext samples received."})
	c.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_carbon_rejected_names_total", Help: "Graphite plaintext samples refused because their name is new beyond the distinct-name cap."})
	reg.MustRegister(c.bad, c.good, c.rejected,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_carbon_tcp_rejected_total", Help: "Graphite plaintext TCP connections refused at the connection cap."},
			func() float64 { return float64(c.Conns.Rejected.Load()) }))
}

// Start binds TCP and UDP on Addr.
func (c *Carbon) Start(ctx context.Context) error {
	if c.bad == nil {
		c.RegisterMetrics(prometheus.NewRegistry())
	}
	var err error
	if c.pair, err = framing.ListenPair("carbon", c.Addr, 4<<20, &c.Conns); err != nil {
		return err
	}
	if c.MaxNames <= 0 {
		c.MaxNames = 100000
	}
	c.index = newCarbonIndex(c.MaxNames)
	c.pair.Go(func() { c.readUDP(ctx) })
	c.pair.ServeTCP(func(conn net.Conn) { c.serveTCP(ctx, conn) })
	return nil
}

// TCPAddr is the bound address.
func (c *Carbon) TCPAddr() net.Addr { return c.pair.TCP.Addr() }

func (c *Carbon) readUDP(ctx context.Context) {
	buf := make([]byte, 65536)
	var b carbonBatch
	for {
		n, err := c.pair.UDP.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if c.Shed != nil && c.Shed() {
			continue
		}
		// A datagram is a batch: it arrived whole.
		framing.EachLine(buf[:n], b.add)
		c.flush(ctx, &b)
	}
}

// serveTCP stores a client's lines in batches: whatever one read brought,
// up to carbonBatchLines.
func (c *Carbon) serveTCP(ctx context.Context, conn net.Conn) {
	var b carbonBatch
	framing.ReadLines(conn, 64<<10, func() {
		// Store what we have before waiting for more.
		c.flush(ctx, &b)
		if c.Pause != nil {
			c.Pause(ctx)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
	}, func(line []byte, tooLong bool) error {
		if tooLong {
			b.bad++
			return nil
		}
		b.add(line)
		if b.full() {
			c.flush(ctx, &b)
		}
		return nil
	})
	c.flush(ctx, &b)
}

// Close stops both listeners.
func (c *Carbon) Close() error {
	if c.pair == nil {
		return nil
	}
	return c.pair.Close()
}
