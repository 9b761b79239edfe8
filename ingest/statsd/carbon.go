package statsd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/framing"
)

// ParseCarbon reads one Graphite plaintext line, `path value timestamp`
// (timestamp in unix seconds; -1 or N means now, as carbon allows).
func ParseCarbon(line []byte, now time.Time) (Sample, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return Sample{}, fmt.Errorf("want `path value timestamp`, got %d fields", len(f))
	}
	v, ok := parseNumber(f[1])
	if !ok {
		return Sample{}, fmt.Errorf("value %q is not a finite number", f[1])
	}
	var ts int64
	switch string(f[2]) {
	case "-1", "N":
		ts = now.Unix()
	default:
		t, err := strconv.ParseFloat(string(f[2]), 64)
		if err != nil || t <= 0 {
			return Sample{}, fmt.Errorf("timestamp %q is not unix seconds", f[2])
		}
		ts = int64(t)
	}
	return Sample{Name: string(f[0]), TS: ts * 1000, Value: v}, nil
}

// Carbon listens for Graphite plaintext on TCP and UDP.
type Carbon struct {
	Addr string
	Sink Sink

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
	namesMu  sync.Mutex
	names    map[string]struct{}
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
	c.names = map[string]struct{}{}
	if c.MaxNames <= 0 {
		c.MaxNames = 100000
	}
	c.pair.Go(func() { c.readUDP(ctx) })
	c.pair.ServeTCP(func(conn net.Conn) { c.serveTCP(ctx, conn) })
	return nil
}

// TCPAddr is the bound address.
func (c *Carbon) TCPAddr() net.Addr { return c.pair.TCP.Addr() }

func (c *Carbon) store(ctx context.Context, lines [][]byte) {
	now := time.Now()
	batch := make([]Sample, 0, len(lines))
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		s, err := ParseCarbon(l, now)
		if err != nil {
			c.bad.Inc()
			continue
		}
		if !c.admit(s.Name) {
			c.rejected.Inc()
			continue
		}
		batch = append(batch, s)
	}
	c.good.Add(float64(len(batch)))
	c.Sink.Write(ctx, batch)
}

// admit enforces the distinct-name cap.
func (c *Carbon) admit(name string) bool {
	c.namesMu.Lock()
	defer c.namesMu.Unlock()
	if _, ok := c.names[name]; ok {
		return true
	}
	if len(c.names) >= c.MaxNames {
		return false
	}
	c.names[name] = struct{}{}
	return true
}

func (c *Carbon) readUDP(ctx context.Context) {
	buf := make([]byte, 65536)
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
		c.store(ctx, bytes.Split(buf[:n], []byte("\n")))
	}
}

// serveTCP stores a client's lines in batches of up to 1,000.
func (c *Carbon) serveTCP(ctx context.Context, conn net.Conn) {
	var pending [][]byte
	framing.ReadLines(conn, 64<<10, func() {
		// Store what we have before waiting for more.
		if len(pending) > 0 {
			c.store(ctx, pending)
			pending = pending[:0]
		}
		if c.Pause != nil {
			c.Pause(ctx)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
	}, func(line []byte, tooLong bool) error {
		if tooLong {
			c.bad.Inc()
			return nil
		}
		pending = append(pending, append([]byte(nil), line...))
		if len(pending) >= 1000 {
			c.store(ctx, pending)
			pending = pending[:0]
		}
		return nil
	})
	if len(pending) > 0 {
		c.store(ctx, pending)
	}
}

// Close stops both listeners.
func (c *Carbon) Close() error {
	if c.pair == nil {
		return nil
	}
	return c.pair.Close()
}
