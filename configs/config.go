// Package configs defines obs's configuration: the YAML file's schema, its
// defaults, ${VAR} expansion and validation that names the bad key and line.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
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

// MemoryShare is 1/div of MaxMemory, within [lo, hi]: what a cache or a
// queue gets of the memory bound. Caches are kept small beside the bound
// on purpose: a dev box's queries mostly touch the last minutes, and a
// cache that fills for an hour reads as a leak in RSS.
func (c Config) MemoryShare(div, lo, hi int64) int64 {
	return min(max(int64(c.MaxMemory)/div, lo), hi)
}

// Config is the whole file. Every key is optional.
type Config struct {
	Data string `yaml:"data"`
	HTTP string `yaml:"http"`
	// MaxMemory bounds obs's heap: the Go runtime's soft limit, and UDP
	// input is shed (counted) while the heap is near it.
	MaxMemory Bytes `yaml:"max_memory"`
	// MaxDisk bounds what obs keeps on disk, all signals together: over
	// it, the oldest partitions go first. 0 means the smaller of 20 GiB
	// and 20% of the data directory's filesystem.
	MaxDisk Bytes `yaml:"max_disk"`
	// AuthToken is required by the UI and every API when set; obs refuses
	// to listen on a non-loopback address without one.
	AuthToken string `yaml:"auth_token"`
	// AllowedHosts are Host names obs answers to besides IP addresses and
	// localhost (a reverse proxy's name); any other name is refused, so a
	// DNS-rebinding page cannot read obs.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// RetentionCheck is how often logs and traces look for expired days.
	RetentionCheck Duration      `yaml:"retention_check"`
	Logs           LogsConfig    `yaml:"logs"`
	StatsD         StatsDConfig  `yaml:"statsd"`
	Metrics        MetricsConfig `yaml:"metrics"`
	Carbon         CarbonConfig  `yaml:"carbon"`
	Zipkin         ZipkinConfig  `yaml:"zipkin"`
	OTLP           OTLPConfig    `yaml:"otlp"`

	Twilio TwilioConfig `yaml:"twilio"`
	Users  []UserConfig `yaml:"users"`
	// PublicURL is the base of the links in texts and webhooks (Cabot's
	// WWW_SCHEME + WWW_HTTP_HOST): an address a phone can open. Empty: the
	// --http address, which only opens on this machine.
	PublicURL string `yaml:"public_url"`
	// Rotation and Calendar say who is on call (Cabot's duty officers); at
	// most one of them.
	Rotation *RotationConfig `yaml:"rotation"`
	Calendar CalendarConfig  `yaml:"calendar"`
	// Fallback names the user paged whenever no shift covers the time
	// (Cabot's fallback officer).
	Fallback string `yaml:"fallback"`
	// HTTPUserAgent is the User-Agent of HTTP checks (Cabot's
	// HTTP_USER_AGENT); a check's headers may override it.
	HTTPUserAgent string `yaml:"http_user_agent"`
	// GraphiteAPI is an external Graphite render API that metric checks
	// read instead of obs's own store (Cabot's GRAPHITE_API, GRAPHITE_USER,
	// GRAPHITE_PASS); a check may name its own or ask for source: obs.
	GraphiteAPI GraphiteAPIConfig `yaml:"graphite_api"`
	// AlertInterval and NotificationInterval are Cabot's reminder periods
	// for ERROR/CRITICAL and for WARNING.
	AlertInterval        Duration        `yaml:"alert_interval"`
	NotificationInterval Duration        `yaml:"notification_interval"`
	Services             []ServiceConfig `yaml:"services"`
}

// TwilioConfig uses Cabot's variable names for the credentials.
type TwilioConfig struct {
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	From       string `yaml:"from"`
	// APIURL sends the same REST calls to another base URL (a test double).
	APIURL string `yaml:"api_url"`
}

// CalendarConfig reads the on-call rota from an iCal feed (Cabot's
// CALENDAR_ICAL_URL): each event whose title is a user's name is a shift.
type CalendarConfig struct {
	ICalURL string   `yaml:"ical_url"`
	Refresh Duration `yaml:"refresh"`
}

// GraphiteAPIConfig is a Graphite render API and its basic-auth credentials.
type GraphiteAPIConfig struct {
	URL      string `yaml:"url" json:"url,omitempty"`
	User     string `yaml:"user" json:"user,omitempty"`
	Password string `yaml:"password" json:"password,omitempty"`
}

// UserConfig is someone who can be paged.
type UserConfig struct {
	Name  string `yaml:"name"`
	Phone string `yaml:"phone"`
}

// RotationConfig puts users on call in turn, one period each from start.
type RotationConfig struct {
	Users  []string  `yaml:"users"`
	Period Duration  `yaml:"period"`
	Start  time.Time `yaml:"start"`
}

// ServiceConfig is a Cabot service with its checks.
type ServiceConfig struct {
	Name          string   `yaml:"name" json:"name,omitempty"`
	URL           string   `yaml:"url" json:"url,omitempty"`
	Runbook       string   `yaml:"runbook" json:"runbook,omitempty"`
	Notify        []string `yaml:"notify" json:"notify,omitempty"`
	Channels      []string `yaml:"channels" json:"channels,omitempty"`
	Webhook       string   `yaml:"webhook" json:"webhook,omitempty"`
	AlertsEnabled *bool    `yaml:"alerts_enabled" json:"alerts_enabled,omitempty"`
	// Maintenance windows silence the service.
	Maintenance []WindowConfig `yaml:"maintenance" json:"maintenance,omitempty"`
	Checks      []CheckConfig  `yaml:"checks" json:"checks,omitempty"`
}

// WindowConfig is a maintenance window.
type WindowConfig struct {
	Start time.Time `yaml:"start" json:"start,omitempty"`
	End   time.Time `yaml:"end" json:"end,omitempty"`
}

// CheckConfig is one check; which keys apply depends on type.
type CheckConfig struct {
	Name       string   `yaml:"name" json:"name,omitempty"`
	Type       string   `yaml:"type" json:"type,omitempty"` // http, metric, log, tcp, icmp
	Importance string   `yaml:"importance" json:"importance,omitempty"`
	Interval   Duration `yaml:"interval" json:"interval,omitempty"`
	Debounce   int      `yaml:"debounce" json:"debounce,omitempty"`
	Active     *bool    `yaml:"active" json:"active,omitempty"`
	Timeout    Duration `yaml:"timeout" json:"timeout,omitempty"`

	// http
	Endpoint        string            `yaml:"endpoint" json:"endpoint,omitempty"`
	Method          string            `yaml:"method" json:"method,omitempty"`
	Headers         map[string]string `yaml:"headers" json:"headers,omitempty"`
	Username        string            `yaml:"username" json:"username,omitempty"`
	Password        string            `yaml:"password" json:"password,omitempty"`
	StatusCode      any               `yaml:"status_code" json:"status_code"` // 200, [200, 204], "200-299"; "" or "any": any status
	TextMatch       string            `yaml:"text_match" json:"text_match,omitempty"`
	VerifyTLS       *bool             `yaml:"verify_tls" json:"verify_tls,omitempty"`
	MaxResponseTime Duration          `yaml:"max_response_time" json:"max_response_time,omitempty"`

	// metric (Graphite target or PromQL) and log (KQL)
	Target             string   `yaml:"target" json:"target,omitempty"`
	PromQL             string   `yaml:"promql" json:"promql,omitempty"`
	Query              string   `yaml:"query" json:"query,omitempty"`
	CheckType          string   `yaml:"check_type" json:"check_type,omitempty"` // >, >=, <, <=, ==
	Value              *float64 `yaml:"value" json:"value,omitempty"`
	Window             Duration `yaml:"window" json:"window,omitempty"`
	ExpectedNumHosts   int      `yaml:"expected_num_hosts" json:"expected_num_hosts,omitempty"`
	AllowedNumFailures int      `yaml:"allowed_num_failures" json:"allowed_num_failures,omitempty"`
	// NoDataOK: a metric check with no data passes (Cabot) unless
	// expected_num_hosts is set; false is obs's stricter choice.
	NoDataOK *bool `yaml:"no_data_ok" json:"no_data_ok,omitempty"`
	// Source is where a Graphite target is read: obs (the embedded store)
	// or graphite (GraphiteAPI, the check's or the global one). Empty:
	// graphite when an API is configured, else obs.
	Source      string             `yaml:"source" json:"source,omitempty"`
	GraphiteAPI *GraphiteAPIConfig `yaml:"graphite_api" json:"graphite_api,omitempty"`

	// tcp
	Address string `yaml:"address" json:"address,omitempty"`

	// icmp: Host is pinged Count times (default 1, as Cabot's ping -c 1).
	Host  string `yaml:"host" json:"host,omitempty"`
	Count int    `yaml:"count" json:"count,omitempty"`
}

// ZipkinConfig configures the Zipkin collector and span store.
type ZipkinConfig struct {
	Addr      string   `yaml:"addr"`
	Retention Duration `yaml:"retention"`
	// MaxBody bounds one POST of spans, in bytes (413 beyond).
	MaxBody int64 `yaml:"max_body"`
	// CORSOrigins may read the Zipkin query API from other origins (a
	// Zipkin UI served elsewhere); "*" for any. Posting spans is open to
	// any origin, as Zipkin's collector is by default.
	CORSOrigins []string `yaml:"cors_origins"`
	// Storage is where spans live: embedded (the default), remote (a
	// Zipkin-compatible collector and its engine's query API, such as
	// Jaeger) or both. The key sits here, beside retention, because this
	// section is the traces section (flags --traces-*).
	Storage string       `yaml:"storage"`
	Remote  RemoteConfig `yaml:"remote"`
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

// MetricsConfig configures where metrics live: the embedded TSDB, a
// remote engine, or both.
type MetricsConfig struct {
	Retention Duration `yaml:"retention"`
	// Storage is embedded (the default), remote or both (see RemoteConfig).
	Storage string       `yaml:"storage"`
	Remote  RemoteConfig `yaml:"remote"`
}

// Storage choices of a signal.
const (
	StorageEmbedded = "embedded"
	StorageRemote   = "remote"
	StorageBoth     = "both"
)

// RemoteConfig names the distributed engine a signal is forwarded to and
// read back from (docs/SCALING.md). Each signal that can live in an engine
// has its own: metrics today, traces and logs beside it later.
type RemoteConfig struct {
	// WriteURL receives what obs stores (metrics: a Prometheus
	// remote-write endpoint; traces: a Zipkin collector's
	// /api/v2/spans, or an OTLP/HTTP endpoint's /v1/traces).
	WriteURL string `yaml:"write_url"`
	// QueryURL is the engine's query API (metrics: the base of its
	// Prometheus /api/v1; traces: the base of Jaeger's /api).
	QueryURL string `yaml:"query_url"`
	// Read is where queries go with storage both: remote (the default:
	// the engine has every host's data) or embedded (this box's copy).
	Read string `yaml:"read"`
	// QueryKind (logs only) is what QueryURL is: victorialogs (the
	// default; KQL compiled to LogsQL) or elasticsearch (Elasticsearch or
	// OpenSearch; KQL compiled to the query DSL as Kibana does).
	QueryKind string `yaml:"query_kind"`
	// QueryIndex (logs only, elasticsearch) is the index pattern searched;
	// default: logs.index with each %{...} part a wildcard (nodejs-*).
	QueryIndex string `yaml:"query_index"`
	// Credentials for both URLs (user:password@ in a URL works too);
	// never shown by obs.
	Username    string            `yaml:"username"`
	Password    string            `yaml:"password"`
	BearerToken string            `yaml:"bearer_token"`
	Headers     map[string]string `yaml:"headers"`
	Timeout     Duration          `yaml:"timeout"`
	// QueueMaxSize bounds the disk queue of what the engine has not taken
	// yet (default 1GiB); past it the oldest data goes, counted.
	QueueMaxSize Bytes `yaml:"queue_max_size"`
}

// Kinds of logs.remote.query_url.
const (
	QueryVictoriaLogs  = "victorialogs"
	QueryElasticsearch = "elasticsearch"
)

// Writes reports whether storage sends to the engine.
func Writes(storage string) bool { return storage == StorageRemote || storage == StorageBoth }

// ReadsRemote reports whether queries go to the engine.
func ReadsRemote(storage string, r RemoteConfig) bool {
	return storage == StorageRemote || storage == StorageBoth && r.Read != StorageEmbedded
}

// ValidateLogsStorage checks logs.storage and what it needs. It never
// quotes the URL (it may carry a password).
func ValidateLogsStorage(l LogsConfig) error {
	switch l.Storage {
	case "", StorageEmbedded:
	case StorageBoth:
		if u, err := url.Parse(l.Remote.WriteURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("logs.remote.write_url: storage both needs the http(s) URL of the store's _bulk API")
		}
		if l.Remote.QueueMaxSize != 0 && l.Remote.QueueMaxSize < 1<<20 {
			return errors.New("logs.remote.queue_max_size: must be at least 1MiB (or 0 for 1GiB)")
		}
		if l.Remote.QueryURL != "" {
			if u, err := url.Parse(l.Remote.QueryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("logs.remote.query_url: want the http(s) URL of VictoriaLogs (or a vlselect), e.g. http://vl:9428, or of Elasticsearch/OpenSearch, e.g. http://es:9200")
			}
		}
		switch l.Remote.QueryKind {
		case "", QueryVictoriaLogs, QueryElasticsearch:
		default:
			return fmt.Errorf("logs.remote.query_kind: %q is not victorialogs or elasticsearch (elasticsearch serves OpenSearch too)", l.Remote.QueryKind)
		}
		if l.Remote.QueryIndex != "" && strings.ContainsAny(l.Remote.QueryIndex, " \"/?#") {
			return errors.New("logs.remote.query_index: an index pattern such as nodejs-* (no spaces or any of \"/?#)")
		}
		switch l.Remote.Read {
		case "", StorageRemote, StorageEmbedded:
		default:
			return fmt.Errorf("logs.remote.read: %q is not remote or embedded", l.Remote.Read)
		}
	case StorageRemote:
		return errors.New("logs.storage: remote is not supported yet (searches read obs's own copy): use both")
	default:
		return fmt.Errorf("logs.storage: %q is not embedded or both", l.Storage)
	}
	return nil
}

// ValidateStorage checks a signal's storage choice (key: "metrics"). It
// never quotes a URL: one may carry a password.
func ValidateStorage(key, storage string, r RemoteConfig) error {
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, k, fmt.Sprintf(format, args...)))
	}
	switch storage {
	case "", StorageEmbedded:
		return nil
	case StorageRemote, StorageBoth:
	default:
		bad("storage", "%q is not embedded, remote or both", storage)
		return errors.Join(errs...)
	}
	for _, kv := range [][2]string{{"remote.write_url", r.WriteURL}, {"remote.query_url", r.QueryURL}} {
		if u, err := url.Parse(kv[1]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(kv[0], "storage %s needs an http(s) URL of the engine", storage)
		}
	}
	switch r.Read {
	case "", StorageRemote:
	case StorageEmbedded:
		if storage != StorageBoth {
			bad("remote.read", "embedded reads need storage both")
		}
	default:
		bad("remote.read", "%q is not remote or embedded", r.Read)
	}
	if r.QueueMaxSize != 0 && r.QueueMaxSize < 1<<20 {
		bad("remote.queue_max_size", "must be at least 1MiB (or 0 for 1GiB)")
	}
	// The engine of these signals has one query API: a kind set here
	// would be ignored, so it is refused.
	if r.QueryKind != "" {
		bad("remote.query_kind", "only logs.remote has a query_kind")
	}
	if r.QueryIndex != "" {
		bad("remote.query_index", "only logs.remote has a query_index")
	}
	return errors.Join(errs...)
}

// OTLPConfig configures the OpenTelemetry receiver's listeners. Spans,
// log records and data points go to the same stores as Zipkin spans,
// Logstash events and StatsD metrics; a body's limit is zipkin.max_body.
type OTLPConfig struct {
	// HTTP is OTLP/HTTP (POST /v1/traces, /v1/metrics, /v1/logs); "off"
	// turns it off.
	HTTP string `yaml:"http"`
	// GRPC is OTLP/gRPC (the three Export services); "off" turns it off.
	GRPC string `yaml:"grpc"`
}

// Off is the address that turns a listener off.
const Off = "off"

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
	// MaxFuture: an event dated further ahead of its receive time (or
	// older than the retention) is stored at its receive time, tagged
	// _timestampskew, its own time kept in _@timestamp: one client's wrong
	// clock must not create partitions that never expire.
	MaxFuture Duration `yaml:"max_future"`
	// Storage is where events go: embedded (the default) or both, which
	// also forwards every event to a distributed log store through the
	// Elasticsearch _bulk API (Elasticsearch, OpenSearch, VictoriaLogs),
	// through a disk queue; searches read obs's own copy.
	Storage string       `yaml:"storage"`
	Remote  RemoteConfig `yaml:"remote"`
	// Remote.QueryURL, when set, is VictoriaLogs (or a vlselect), or
	// Elasticsearch/OpenSearch with Remote.QueryKind elasticsearch:
	// searches, Discover and log checks read it (KQL compiled to LogsQL or
	// to the query DSL) unless Remote.Read is embedded.
	// Index names the forwarded events' index, Logstash's way: the
	// seed's nodejs-%{+YYYY.MM.dd} by default.
	Index string `yaml:"index"`
}

// Default is the configuration with no file, flags or environment.
func Default() Config {
	return Config{
		Data:           "./obs-data",
		HTTP:           "127.0.0.1:8000",
		MaxMemory:      1 << 30,
		RetentionCheck: Duration(time.Minute),
		Logs: LogsConfig{UDP: "127.0.0.1:7777", Retention: Duration(7 * 24 * time.Hour), QueueSize: 65536,
			MaxFuture: Duration(24 * time.Hour), Storage: StorageEmbedded, Index: "nodejs-%{+YYYY.MM.dd}",
			Remote: RemoteConfig{Timeout: Duration(30 * time.Second), QueueMaxSize: 1 << 30, QueryKind: QueryVictoriaLogs}},
		StatsD: StatsDConfig{Addr: "127.0.0.1:8125", FlushInterval: Duration(10 * time.Second),
			PercentThreshold: []float64{90}, MaxSeries: 100000},
		Metrics: MetricsConfig{Retention: Duration(15 * 24 * time.Hour), Storage: StorageEmbedded,
			Remote: RemoteConfig{Read: StorageRemote, Timeout: Duration(30 * time.Second), QueueMaxSize: 1 << 30}},
		Carbon: CarbonConfig{Addr: "127.0.0.1:2003"},
		OTLP:   OTLPConfig{HTTP: "127.0.0.1:4318", GRPC: "127.0.0.1:4317"},
		Zipkin: ZipkinConfig{Addr: "127.0.0.1:9411", Retention: Duration(7 * 24 * time.Hour), MaxBody: 16 << 20,
			Storage: StorageEmbedded, Remote: RemoteConfig{Read: StorageRemote, Timeout: Duration(30 * time.Second), QueueMaxSize: 1 << 30}},
		Twilio: TwilioConfig{AccountSID: os.Getenv("TWILIO_ACCOUNT_SID"), AuthToken: os.Getenv("TWILIO_AUTH_TOKEN"),
			From: os.Getenv("TWILIO_OUTGOING_NUMBER"), APIURL: os.Getenv("TWILIO_API_URL")},
		Calendar:      CalendarConfig{ICalURL: os.Getenv("CALENDAR_ICAL_URL"), Refresh: Duration(30 * time.Minute)},
		HTTPUserAgent: "obs",
		GraphiteAPI: GraphiteAPIConfig{URL: os.Getenv("GRAPHITE_API"), User: os.Getenv("GRAPHITE_USER"),
			Password: os.Getenv("GRAPHITE_PASS")},
		AlertInterval:        Duration(10 * time.Minute),
		NotificationInterval: Duration(2 * time.Hour),
	}
}

// CheckRetention accepts whole days, at least one: stores drop whole day
// partitions, so "12h" could only mean one day or none, and "0d" used to
// silently keep everything.
func CheckRetention(d time.Duration) error {
	if d < 24*time.Hour || d%(24*time.Hour) != 0 {
		return fmt.Errorf("retention must be whole days, at least 1d (e.g. 7d, 2w), got %s", fmtDays(d))
	}
	return nil
}

func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
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

// MarshalJSON writes the duration as the config file would ("30s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

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

// Bytes is a size: a number of bytes, or with KiB, MiB, GiB (or KB, MB, GB).
type Bytes int64

func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseBytes(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = Bytes(v)
	return nil
}

// ParseBytes reads 1073741824, 1GiB, 512MiB, 1.5GB and friends.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || v < 0 {
				break
			}
			return int64(v * u.mult), nil
		}
	}
	return 0, fmt.Errorf("bad size %q (want e.g. 1GiB, 512MiB or a number of bytes)", s)
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

// lineOf finds the line of a key path such as services[0].checks[1].type
// in the parsed document (0 if absent).
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(strings.ReplaceAll(strings.ReplaceAll(path, "[", "."), "]", ""), ".") {
		if n == nil {
			return line
		}
		if idx, err := strconv.Atoi(part); err == nil && n.Kind == yaml.SequenceNode {
			if idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
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
	bad := reporter(root, &errs)
	for key, addr := range map[string]string{"http": c.HTTP, "logs.udp": c.Logs.UDP, "statsd.addr": c.StatsD.Addr, "carbon.addr": c.Carbon.Addr, "zipkin.addr": c.Zipkin.Addr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "want host:port, got %q", addr)
		}
	}
	for key, addr := range map[string]string{"otlp.http": c.OTLP.HTTP, "otlp.grpc": c.OTLP.GRPC} {
		if _, _, err := net.SplitHostPort(addr); err != nil && addr != Off {
			bad(key, "want host:port or %q, got %q", Off, addr)
		}
	}
	if c.MaxMemory < 64<<20 {
		bad("max_memory", "must be at least 64MiB, got %d bytes", c.MaxMemory)
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	for key, d := range map[string]Duration{"logs.retention": c.Logs.Retention, "zipkin.retention": c.Zipkin.Retention,
		"metrics.retention": c.Metrics.Retention} {
		if err := CheckRetention(d.D()); err != nil {
			bad(key, "%v", err)
		}
	}
	if err := ValidateStorage("metrics", c.Metrics.Storage, c.Metrics.Remote); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateStorage("zipkin", c.Zipkin.Storage, c.Zipkin.Remote); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateLogsStorage(c.Logs); err != nil {
		errs = append(errs, err)
	}
	if c.Logs.MaxFuture.D() < time.Minute {
		bad("logs.max_future", "must be at least 1m")
	}
	if c.MaxDisk != 0 && c.MaxDisk < 1<<20 {
		bad("max_disk", "must be at least 1MiB (or 0 for the default), got %d bytes", c.MaxDisk)
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
	c.validateAlerting(bad)
	return errors.Join(errs...)
}

var importances = map[string]bool{"": true, "warning": true, "error": true, "critical": true}
var comparators = map[string]bool{">": true, ">=": true, "<": true, "<=": true, "==": true}
var channels = map[string]bool{"sms": true, "call": true, "webhook": true, "log": true}

func (c *Config) validateAlerting(bad func(key, format string, args ...any)) {
	users := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			bad(key+".name", "every user needs a name")
		}
		if users[strings.ToLower(u.Name)] && u.Name != "" {
			bad(key+".name", "user %q is defined twice (names are matched without case, as calendar titles are)", u.Name)
		}
		if u.Phone != "" && !validPhone(u.Phone) {
			bad(key+".phone", "%q is not an E.164 number like +15551230001", u.Phone)
		}
		users[strings.ToLower(u.Name)] = true
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("public_url", "want an http(s) URL such as https://obs.example.com, got %q", c.PublicURL)
		}
	}
	if c.Rotation != nil {
		for i, u := range c.Rotation.Users {
			if !users[strings.ToLower(u)] {
				bad(fmt.Sprintf("rotation.users[%d]", i), "no user named %q under users", u)
			}
		}
		if c.Rotation.Period <= 0 {
			bad("rotation.period", "must be positive, e.g. 168h")
		}
		if len(c.Rotation.Users) == 0 {
			bad("rotation.users", "must name at least one user")
		}
		if c.Calendar.ICalURL != "" {
			bad("calendar.ical_url", "set either rotation or calendar.ical_url, not both")
		}
	}
	if c.Calendar.ICalURL != "" {
		if u, err := url.Parse(c.Calendar.ICalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("calendar.ical_url", "want an http(s) URL of an iCal feed, got %q", c.Calendar.ICalURL)
		}
		if c.Calendar.Refresh < Duration(time.Second) {
			bad("calendar.refresh", "must be at least 1s (Cabot: 30m)")
		}
	}
	if c.Fallback != "" && !users[strings.ToLower(c.Fallback)] {
		bad("fallback", "no user named %q under users", c.Fallback)
	}
	if c.GraphiteAPI.URL != "" {
		validateGraphiteAPI("graphite_api", c.GraphiteAPI, bad)
	}
	names := NewServiceNames()
	for i, s := range c.Services {
		ValidateService(fmt.Sprintf("services[%d]", i), s, c, names, bad)
	}
}

// ServiceNames are the service and check names taken so far: both must be
// unique across obs.yaml and the services created through the API.
type ServiceNames struct{ Services, Checks map[string]bool }

// NewServiceNames returns an empty set.
func NewServiceNames() ServiceNames {
	return ServiceNames{Services: map[string]bool{}, Checks: map[string]bool{}}
}

// ValidateService checks one service as the config file's services[i] is
// checked, against cfg's users and the names already taken (which it adds
// to). key prefixes every key it reports ("services[0]", or "" for a
// service sent on its own to the API).
func ValidateService(key string, s ServiceConfig, cfg *Config, names ServiceNames, bad func(key, format string, args ...any)) {
	k := func(sub string) string {
		if key == "" {
			return sub
		}
		return key + "." + sub
	}
	users := map[string]bool{}
	for _, u := range cfg.Users {
		users[strings.ToLower(u.Name)] = true
	}
	if !validName(s.Name) {
		bad(k("name"), "needs a name of letters, digits, '.', '_' or '-', got %q", s.Name)
	}
	if names.Services[s.Name] {
		bad(k("name"), "service %q is defined twice", s.Name)
	}
	names.Services[s.Name] = true
	for j, u := range s.Notify {
		if !users[strings.ToLower(u)] {
			bad(fmt.Sprintf("%s[%d]", k("notify"), j), "no user named %q under users", u)
		}
	}
	for j, ch := range s.Channels {
		if !channels[ch] {
			bad(fmt.Sprintf("%s[%d]", k("channels"), j), "%q is not one of sms, call, webhook, log", ch)
		}
		if ch == "webhook" && s.Webhook == "" {
			bad(k("webhook"), "the webhook channel needs a webhook URL")
		}
	}
	if s.Webhook != "" {
		if u, err := url.Parse(s.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(k("webhook"), "want an http(s) URL")
		}
	}
	for j, w := range s.Maintenance {
		if !w.End.After(w.Start) {
			bad(fmt.Sprintf("%s[%d]", k("maintenance"), j), "end must be after start")
		}
	}
	for j, ck := range s.Checks {
		ValidateCheck(fmt.Sprintf("%s[%d]", k("checks"), j), ck, cfg, names, bad)
	}
}

// ValidateCheck checks one check; key prefixes the keys it reports.
func ValidateCheck(ckey string, ck CheckConfig, cfg *Config, names ServiceNames, bad func(key, format string, args ...any)) {
	k := func(sub string) string {
		if ckey == "" {
			return sub
		}
		return ckey + "." + sub
	}
	if !validName(ck.Name) {
		bad(k("name"), "needs a name of letters, digits, '.', '_' or '-', got %q", ck.Name)
	}
	if names.Checks[ck.Name] {
		bad(k("name"), "check %q is defined twice", ck.Name)
	}
	names.Checks[ck.Name] = true
	if !importances[strings.ToLower(ck.Importance)] {
		bad(k("importance"), "%q is not warning, error or critical", ck.Importance)
	}
	if ck.Interval < 0 || ck.Debounce < 0 || ck.Timeout < 0 {
		bad(ckey, "interval, debounce and timeout must not be negative")
	}
	switch ck.Type {
	case "http":
		if u, err := url.Parse(ck.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(k("endpoint"), "an http check needs an http(s) endpoint URL, got %q", ck.Endpoint)
		}
		if _, err := ParseStatusCodes(ck.StatusCode); err != nil {
			bad(k("status_code"), "%v", err)
		}
		if ck.TextMatch != "" {
			if _, err := regexp.Compile(ck.TextMatch); err != nil {
				bad(k("text_match"), "bad regular expression: %v", err)
			}
		}
	case "metric":
		if (ck.Target == "") == (ck.PromQL == "") {
			bad(k("target"), "a metric check needs exactly one of target (Graphite) and promql")
		}
		switch ck.Source {
		case "", "obs":
		case "graphite":
			if ck.PromQL != "" {
				bad(k("source"), "an external Graphite reads Graphite targets, not promql")
			}
			if ck.GraphiteAPI == nil && cfg.GraphiteAPI.URL == "" {
				bad(k("source"), "source graphite needs graphite_api (here or at the top of the file)")
			}
		default:
			bad(k("source"), "%q is not obs or graphite", ck.Source)
		}
		if ck.GraphiteAPI != nil {
			validateGraphiteAPI(k("graphite_api"), *ck.GraphiteAPI, bad)
			if ck.PromQL != "" {
				bad(k("graphite_api"), "an external Graphite reads Graphite targets, not promql")
			}
		}
		if ck.ExpectedNumHosts < 0 || ck.AllowedNumFailures < 0 {
			bad(ckey, "expected_num_hosts and allowed_num_failures must not be negative")
		}
		validateThreshold(ck, k, bad)
	case "log":
		if ck.Query == "" {
			bad(k("query"), "a log check needs a KQL query")
		}
		validateThreshold(ck, k, bad)
	case "tcp":
		if _, _, err := net.SplitHostPort(ck.Address); err != nil {
			bad(k("address"), "want host:port, got %q", ck.Address)
		}
	case "icmp":
		if ck.Host == "" || strings.ContainsAny(ck.Host, " /") {
			bad(k("host"), "an icmp check needs a host name or IP address, got %q", ck.Host)
		}
		if ck.Count < 0 || ck.Count > 100 {
			bad(k("count"), "must be between 1 and 100 (0: 1)")
		}
	default:
		bad(k("type"), "%q is not one of http, metric, log, tcp, icmp", ck.Type)
	}
}

func validateThreshold(ck CheckConfig, k func(string) string, bad func(key, format string, args ...any)) {
	if !comparators[ck.CheckType] {
		bad(k("check_type"), "%q is not one of >, >=, <, <=, ==", ck.CheckType)
	}
	if ck.Value == nil {
		bad(k("value"), "needs a threshold value")
	} else if math.IsNaN(*ck.Value) {
		bad(k("value"), "must be a number, not NaN")
	}
}

func validateGraphiteAPI(key string, g GraphiteAPIConfig, bad func(key, format string, args ...any)) {
	if u, err := url.Parse(g.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key+".url", "want the http(s) base URL of a Graphite render API, e.g. http://graphite.example.com/")
	}
}

// validName keeps names usable in URLs, metric paths and the CLI.
func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validPhone(p string) bool {
	if len(p) < 8 || len(p) > 16 || p[0] != '+' {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// AnyStatus is what a blank status_code means: any status passes (Cabot).
var AnyStatus = StatusRange{0, 999}

// ParseStatusCodes reads status_code: a code, a list of codes, or a range
// "200-299"; the default is 200; "" or "any" accept any status, as a blank
// status code does in Cabot.
func ParseStatusCodes(v any) ([]StatusRange, error) {
	one := func(x any) ([]StatusRange, error) {
		switch t := x.(type) {
		case int:
			return []StatusRange{{t, t}}, nil
		case string:
			if s := strings.TrimSpace(t); s == "" || strings.EqualFold(s, "any") {
				return []StatusRange{AnyStatus}, nil
			}
			if lo, hi, ok := strings.Cut(t, "-"); ok {
				a, e1 := strconv.Atoi(strings.TrimSpace(lo))
				b, e2 := strconv.Atoi(strings.TrimSpace(hi))
				if e1 != nil || e2 != nil || a > b {
					return nil, fmt.Errorf("bad status range %q", t)
				}
				return []StatusRange{{a, b}}, nil
			}
			n, err := strconv.Atoi(strings.TrimSpace(t))
			if err != nil {
				return nil, fmt.Errorf("bad status code %q", t)
			}
			return []StatusRange{{n, n}}, nil
		}
		return nil, fmt.Errorf("status_code must be a code, a list or a range like 200-299, got %v", x)
	}
	switch t := v.(type) {
	case nil:
		return []StatusRange{{200, 200}}, nil
	case []any:
		var out []StatusRange
		for _, x := range t {
			r, err := one(x)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
		return out, nil
	}
	return one(v)
}

// ParseService decodes one service as the API receives it (YAML, or JSON,
// which YAML reads too) and validates it as a services: entry of the file,
// against cfg's users and the names already taken. Errors name the key and
// line. ${VAR} is not expanded: a request must not read obs's environment.
func ParseService(b []byte, cfg *Config, names ServiceNames) (ServiceConfig, error) {
	var s ServiceConfig
	err := decodeStrict(b, &s, func(bad func(key, format string, args ...any)) {
		ValidateService("", s, cfg, names, bad)
	})
	return s, err
}

// ParseCheck decodes and validates one check as ParseService does.
func ParseCheck(b []byte, cfg *Config, names ServiceNames) (CheckConfig, error) {
	var c CheckConfig
	err := decodeStrict(b, &c, func(bad func(key, format string, args ...any)) {
		ValidateCheck("", c, cfg, names, bad)
	})
	return c, err
}

func decodeStrict(b []byte, v any, validate func(bad func(key, format string, args ...any))) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body: want a YAML or JSON object")
		}
		return cleanYAMLError(err)
	}
	var root yaml.Node
	yaml.Unmarshal(b, &root)
	var errs []error
	validate(reporter(&root, &errs))
	return errors.Join(errs...)
}

// reporter returns the function validation calls for each bad key: it
// finds the key's line in the document and collects the error.
func reporter(root *yaml.Node, errs *[]error) func(key, format string, args ...any) {
	return func(key, format string, args ...any) {
		prefix := key
		if l := lineOf(root, key); l > 0 {
			prefix = fmt.Sprintf("line %d: %s", l, key)
		}
		*errs = append(*errs, fmt.Errorf("%s: %s", prefix, fmt.Sprintf(format, args...)))
	}
}
