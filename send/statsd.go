package send

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/obs-dev/obs/ingest/statsd"
)

// StatsDLines checks each line as obs's StatsD intake will read it (so a
// typo is refused here rather than counted as a bad line there) and
// joins them into one datagram, as StatsD clients batch.
func StatsDLines(lines []string) ([]byte, error) {
	if len(lines) == 0 {
		return nil, fmt.Errorf("no StatsD lines, e.g. 'deploys:1|c'")
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\n\r") {
			return nil, fmt.Errorf("%q: one line per argument", l)
		}
		b := []byte(l)
		if statsd.Classify(b) == statsd.LineMetrics && statsd.ParseLine(b, func(statsd.Metric) {}) > 0 {
			return nil, fmt.Errorf("%q is not a StatsD line: want name:value|type, type one of c, ms, g, s, h, d (e.g. 'deploys:1|c')", l)
		}
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// StatsD writes metrics as a StatsD client does, every name under Prefix
// (statsd-client's prefix option: "web-api" makes "web-api.<name>").
type StatsD struct {
	Conn   *Conn
	Prefix string
}

func (s StatsD) send(name, value, typ string) error {
	if s.Prefix != "" {
		name = s.Prefix + "." + name
	}
	return s.Conn.Send([]byte(name + ":" + value + "|" + typ))
}

// Increment adds n to a counter.
func (s StatsD) Increment(name string, n int64) error {
	return s.send(name, strconv.FormatInt(n, 10), "c")
}

// Timing records a duration in milliseconds.
func (s StatsD) Timing(name string, d time.Duration) error {
	return s.send(name, strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64), "ms")
}

// Gauge sets a gauge; v must not be negative (StatsD reads a sign as a delta).
func (s StatsD) Gauge(name string, v float64) error {
	if v < 0 {
		return fmt.Errorf("gauge %s: %v is negative, which StatsD reads as a change", name, v)
	}
	return s.send(name, strconv.FormatFloat(v, 'f', -1, 64), "g")
}
