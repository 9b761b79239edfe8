// Package configs defines obs's configuration: the YAML file's schema, its
// defaults, ${VAR} expansion and validation that names the bad key and line.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Example is configs/obs.example.yaml, which documents every key.
//
//go:embed obs.example.yaml
var Example []byte

// Config is the whole file. Every key is optional.
type Config struct {
	Data    string        `yaml:"data"`
	HTTP    string        `yaml:"http"`
	Logs    LogsConfig    `yaml:"logs"`
	StatsD  StatsDConfig  `yaml:"statsd"`
	Metrics MetricsConfig `yaml:"metrics"`
	Carbon  CarbonConfig  `yaml:"carbon"`
	Zipkin  ZipkinConfig  `yaml:"zipkin"`
}

// ZipkinConfig configures the Zipkin collector and span store.
type ZipkinConfig struct {
	Addr      string   `yaml:"addr"`
	Retention Duration `yaml:"retention"`
	// MaxBody bounds one POST of spans, in bytes (413 beyond).
	MaxBody int64 `yaml:"max_body"`
}

// StatsDConfig mirrors the Etsy daemon's options that change results.
type StatsDConfig struct {
	Addr             string      `yaml:"addr"`
	FlushInterval    Duration    `yaml:"flush_interval"`
	PercentThreshold []float64   `yaml:"percent_threshold"`
	DeleteIdleStats  bool        `yaml:"delete_idle_stats"`
	DeleteCounters   *bool       `yaml:"delete_counters"`
	DeleteTimers     *bool       `yaml:"delete_timers"`
	DeleteGauges     *bool       `yaml:"delete_gauges"`
	DeleteSets       *bool       `yaml:"delete_sets"`
	MaxSeries        int         `yaml:"max_series"`
	Histogram        []Histogram `yaml:"histogram"`
}

// Histogram is one entry of Etsy's histogram option.
type Histogram struct {
	Metric string    `yaml:"metric"`
	Bins   []float64 `yaml:"bins"` // .inf for Etsy's "inf"
}

// MetricsConfig configures the TSDB.
type MetricsConfig struct {
	Retention Duration `yaml:"retention"`
}

// CarbonConfig configures the Graphite plaintext listener.
type CarbonConfig struct {
	Addr string `yaml:"addr"`
}

// LogsConfig configures log ingest and storage.
type LogsConfig struct {
	UDP       string   `yaml:"udp"`
	Retention Duration `yaml:"retention"`
	// QueueSize bounds the datagrams and lines waiting between the sockets
	// and the store.
	QueueSize int `yaml:"queue_size"`
}

// Default is the configuration with no file, flags or environment.
func Default() Config {
	return Config{
		Data: "./obs-data",
		HTTP: "127.0.0.1:8000",
		Logs: LogsConfig{UDP: "127.0.0.1:7777", Retention: Duration(7 * 24 * time.Hour), QueueSize: 65536},
		StatsD: StatsDConfig{Addr: "127.0.0.1:8125", FlushInterval: Duration(10 * time.Second),
			PercentThreshold: []float64{90}, MaxSeries: 100000},
		Metrics: MetricsConfig{Retention: Duration(15 * 24 * time.Hour)},
		Carbon:  CarbonConfig{Addr: "127.0.0.1:2003"},
		Zipkin:  ZipkinConfig{Addr: "127.0.0.1:9411", Retention: Duration(7 * 24 * time.Hour), MaxBody: 16 << 20},
	}
}

// Duration is a YAML duration that also takes d (days) and w (weeks).
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration is time.ParseDuration plus d (days) and w (weeks), the units
// retention and windows are usually given in.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad duration %q (want e.g. 90s, 15m, 12h, 7d, 2w)", s)
			}
			return time.Duration(n * float64(u.d)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 90s, 15m, 12h, 7d, 2w)", s)
	}
	return d, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} (and ${VAR:-default}) from the environment.
func expandEnv(b []byte) []byte {
	return envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := envRef.FindSubmatch(m)
		if v, ok := os.LookupEnv(string(sub[1])); ok {
			return []byte(v)
		}
		return sub[3]
	})
}

// Load reads a config file over the defaults. Unknown keys and bad values
// are errors that name the key and its line.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := Parse(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML into cfg (which holds the defaults) and validates it.
func Parse(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(expandEnv(b)))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // io.EOF: empty file
		return cleanYAMLError(err)
	}
	var root yaml.Node
	yaml.Unmarshal(expandEnv(b), &root)
	return cfg.validate(&root)
}

// cleanYAMLError turns "field foo not found in type configs.LogsConfig"
// into "unknown key foo".
func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	re := regexp.MustCompile(`field (\S+) not found in type \S+`)
	msg = re.ReplaceAllString(msg, "unknown key $1")
	return errors.New(strings.TrimSpace(msg))
}

// lineOf finds the line of a dotted key in the parsed document (0 if absent).
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line, next = n.Content[i].Line, n.Content[i+1]
			}
		}
		n = next
	}
	return line
}

func (c *Config) validate(root *yaml.Node) error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		prefix := key
		if l := lineOf(root, key); l > 0 {
			prefix = fmt.Sprintf("line %d: %s", l, key)
		}
		errs = append(errs, fmt.Errorf("%s: %s", prefix, fmt.Sprintf(format, args...)))
	}
	for key, addr := range map[string]string{"http": c.HTTP, "logs.udp": c.Logs.UDP, "statsd.addr": c.StatsD.Addr, "carbon.addr": c.Carbon.Addr, "zipkin.addr": c.Zipkin.Addr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "want host:port, got %q", addr)
		}
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	if c.Logs.Retention < 0 {
		bad("logs.retention", "must not be negative")
	}
	if c.Logs.QueueSize < 0 {
		bad("logs.queue_size", "must not be negative")
	}
	if c.StatsD.FlushInterval.D() < time.Millisecond {
		bad("statsd.flush_interval", "must be at least 1ms")
	}
	for _, p := range c.StatsD.PercentThreshold {
		if p == 0 || p < -100 || p > 100 {
			bad("statsd.percent_threshold", "%v is not a percentage in [-100, 100] other than 0", p)
		}
	}
	if c.StatsD.MaxSeries < 0 {
		bad("statsd.max_series", "must not be negative")
	}
	if c.Zipkin.MaxBody <= 0 {
		bad("zipkin.max_body", "must be positive")
	}
	if c.Zipkin.Retention < 0 {
		bad("zipkin.retention", "must not be negative")
	}
	if c.Metrics.Retention < 0 {
		bad("metrics.retention", "must not be negative")
	}
	return errors.Join(errs...)
}
