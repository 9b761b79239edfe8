package statsd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/ingest/framing"
)

// MaxFuture is how far ahead of the clock a sample's own timestamp may
// be. Further ahead is a bad line: one far-future sample would move the
// TSDB head so that every later sample looked too old.
const MaxFuture = 10 * time.Minute

// ParseCarbon reads one Graphite plaintext line, `path value timestamp`
// (timestamp in unix seconds; -1 or N means now, as carbon allows). A
// tagged path, name;tag=value;..., becomes the name and labels.
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
		if err != nil || t <= 0 || math.IsInf(t, 0) {
			return Sample{}, fmt.Errorf("timestamp %q is not unix seconds", f[2])
		}
		if t > float64(now.Add(MaxFuture).Unix()) {
			return Sample{}, fmt.Errorf("timestamp %q is more than %v ahead of the clock", f[2], MaxFuture)
		}
		ts = int64(t)
	}
	name, labels, err := carbonTags(string(f[0]))
	if err != nil {
		return Sample{}, err
	}
	return Sample{Name: name, Labels: labels, TS: ts * 1000, Value: v}, nil
}

// carbonTags splits carbon's tagged form, as carbon does: each tag is
// tag=value with a non-empty tag and value, sorted by tag.
func carbonTags(path string) (string, []Label, error) {
	name, rest, tagged := strings.Cut(path, ";")
	if !tagged {
		return path, nil, nil
	}
	name = strings.TrimLeft(name, "~")
	if name == "" {
		return "", nil, fmt.Errorf("tagged path %q has no metric name", path)
	}
	var out []Label
	for _, seg := range strings.Split(rest, ";") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" || v == "" || strings.ContainsAny(k, "!^=") || strings.HasPrefix(v, "~") {
			return "", nil, fmt.Errorf("tagged path %q: bad tag %q (want tag=value)", path, seg)
		}
		if k == "name" || k == "__name__" {
			return "", nil, fmt.Errorf("tagged path %q: %q is the metric name, not a tag", path, k)
		}
		out = append(out, Label{Name: k, Value: v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			out[i-1] = out[i] // the last one wins, as in carbon's dict
			out = append(out[:i], out[i+1:]...)
			i--
		}
	}
	return name, out, nil
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
