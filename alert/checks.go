package alert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"

	"github.com/obs-dev/obs/alert/redact"
	"github.com/obs-dev/obs/configs"
)

// MetricSource evaluates a Graphite target or a PromQL expression over a
// window and returns one value list per series.
type MetricSource interface {
	Graphite(ctx context.Context, target string, window time.Duration) ([][]float64, error)
	PromQL(ctx context.Context, expr string, window time.Duration) ([][]float64, error)
}

// LogCounter counts log events matching a KQL query over a window.
type LogCounter interface {
	CountKQL(ctx context.Context, query string, window time.Duration) (int, error)
}

// Check is a configured check.
type Check struct {
	Name       string
	Service    string
	Type       string
	Importance Status
	Interval   time.Duration
	Debounce   int
	Active     bool
	cfg        configs.CheckConfig
	codes      []configs.StatusRange
	match      *regexp.Regexp
	client     *http.Client
	userAgent  string
	// graphite is the external render API a Graphite target is read from;
	// nil: obs's own store.
	graphite *configs.GraphiteAPIConfig
	// src and env are what the check was built from: an unchanged check
	// keeps running across a reload or an edit of another check.
	src configs.CheckConfig
	env checkEnv
}

// checkEnv is what checks take from the top of the config file.
type checkEnv struct {
	UserAgent string
	Graphite  configs.GraphiteAPIConfig
}

func newCheck(service string, c configs.CheckConfig, env checkEnv) (*Check, error) {
	imp, err := ParseImportance(c.Importance)
	if err != nil {
		return nil, err
	}
	ck := &Check{Name: c.Name, Service: service, Type: c.Type, Importance: imp, Interval: c.Interval.D(),
		Debounce: c.Debounce, Active: c.Active == nil || *c.Active, cfg: c, userAgent: env.UserAgent, src: c, env: env}
	if ck.Interval <= 0 {
		ck.Interval = 60 * time.Second
	}
	if ck.cfg.Timeout <= 0 {
		ck.cfg.Timeout = configs.Duration(10 * time.Second)
	}
	switch c.Type {
	case "http":
		if ck.codes, err = configs.ParseStatusCodes(c.StatusCode); err != nil {
			return nil, err
		}
		if c.TextMatch != "" {
			if ck.match, err = regexp.Compile(c.TextMatch); err != nil {
				return nil, err
			}
		}
		verify := c.VerifyTLS == nil || *c.VerifyTLS
		ck.client = &http.Client{Timeout: ck.cfg.Timeout.D(),
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: !verify}, DisableKeepAlives: true}}
	case "metric":
		switch {
		case c.Source == "obs" || c.PromQL != "":
		case c.GraphiteAPI != nil:
			ck.graphite = c.GraphiteAPI
		case c.Source == "graphite" || env.Graphite.URL != "":
			if env.Graphite.URL == "" {
				return nil, errors.New("source graphite needs graphite_api")
			}
			g := env.Graphite
			ck.graphite = &g
		}
		if ck.graphite != nil {
			ck.client = &http.Client{Timeout: ck.cfg.Timeout.D()}
		}
	}
	return ck, nil
}

// Run executes the check once.
func (c *Check) Run(ctx context.Context, metrics MetricSource, logs LogCounter) Result {
	start := time.Now()
	r := Result{Check: c.Name, Time: start}
	var err error
	var raw []byte
	switch c.Type {
	case "http":
		raw, err = c.runHTTP(ctx)
	case "tcp":
		err = c.runTCP(ctx)
	case "icmp":
		err = c.runICMP(ctx)
	case "metric":
		r.Value, raw, err = c.runMetric(ctx, metrics)
	case "log":
		r.Value, err = c.runLog(ctx, logs)
	default:
		err = fmt.Errorf("unknown check type %q", c.Type)
	}
	r.ResponseMs = float64(time.Since(start).Microseconds()) / 1000
	if err == nil && c.cfg.MaxResponseTime > 0 && time.Since(start) > c.cfg.MaxResponseTime.D() {
		err = fmt.Errorf("Response time %.0fms exceeded %s", r.ResponseMs, c.cfg.MaxResponseTime.D())
	}
	r.OK = err == nil
	if err != nil {
		r.Reason = redact.String(err.Error(), c.urls(), c.secrets()...)
		r.RawData = rawData(raw)
	}
	return r
}

// urls and secrets are what must not show in a reason.
func (c *Check) urls() []string {
	u := []string{c.cfg.Endpoint}
	if c.graphite != nil {
		u = append(u, c.graphite.URL)
	}
	return u
}

func (c *Check) secrets() []string {
	s := []string{c.cfg.Password}
	if c.graphite != nil {
		s = append(s, c.graphite.Password)
	}
	return s
}

// describe turns network errors into Cabot-like reasons.
func (c *Check) describe(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("Timed out after %s", c.cfg.Timeout.D())
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("Request error occurred: %w", ue.Err) // the URL is in the check already
	}
	return err
}

// maxBody bounds what an HTTP check reads of a response (text_match runs
// over it).
const maxBody = 1 << 20

// runHTTP applies Cabot's HttpStatusCheck rules: basic auth when a user
// name or a password is set, the configured User-Agent, any status when
// status_code is blank, and the body kept as raw data when it fails.
func (c *Check) runHTTP(ctx context.Context) ([]byte, error) {
	method := c.cfg.Method
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.Endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.describe(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, c.describe(err)
	}
	ok := false
	for _, r := range c.codes {
		ok = ok || (resp.StatusCode >= r.Lo && resp.StatusCode <= r.Hi)
	}
	if !ok {
		return body, fmt.Errorf("Wrong code: got %d (expected %s)", resp.StatusCode, codesString(c.codes))
	}
	if c.match != nil && !c.match.Match(body) {
		return body, fmt.Errorf("Failed to find match regex /%s/ in response body", c.cfg.TextMatch)
	}
	return nil, nil
}

func codesString(rs []configs.StatusRange) string {
	var parts []string
	for _, r := range rs {
		switch {
		case r == configs.AnyStatus:
			parts = append(parts, "any")
		case r.Lo == r.Hi:
			parts = append(parts, fmt.Sprint(r.Lo))
		default:
			parts = append(parts, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
		}
	}
	return strings.Join(parts, ", ")
}

func (c *Check) runTCP(ctx context.Context) error {
	d := net.Dialer{Timeout: c.cfg.Timeout.D()}
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Address)
	if err != nil {
		return c.describe(err)
	}
	return conn.Close()
}

// runICMP pings as Cabot's ICMPStatusCheck (ping -c 1): the check passes
// when any echo comes back. It uses an unprivileged ICMP datagram socket
// (Linux lets the groups in net.ipv4.ping_group_range open one) and falls
// back to a raw socket, which needs CAP_NET_RAW.
func (c *Check) runICMP(ctx context.Context) error {
	count := max(c.cfg.Count, 1)
	ping := func(privileged bool) (*probing.Statistics, error) {
		p, err := probing.NewPinger(c.cfg.Host)
		if err != nil {
			return nil, fmt.Errorf("cannot resolve %s: %w", c.cfg.Host, err)
		}
		p.Count, p.Timeout, p.Interval = count, c.cfg.Timeout.D(), 200*time.Millisecond
		p.SetPrivileged(privileged)
		if err := p.RunWithContext(ctx); err != nil {
			return nil, err
		}
		return p.Statistics(), nil
	}
	st, err := ping(false)
	if err != nil && (errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPROTONOSUPPORT)) {
		var err2 error
		if st, err2 = ping(true); err2 != nil {
			return fmt.Errorf("cannot send pings: this user may not open ICMP sockets (allow its group in sysctl net.ipv4.ping_group_range, or give obs CAP_NET_RAW): %w", err)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	if st.PacketsRecv == 0 {
		return fmt.Errorf("No reply from %s (%d pings sent)", c.cfg.Host, st.PacketsSent)
	}
	return nil
}

func compare(op string, v, threshold float64) bool {
	switch op {
	case ">":
		return v > threshold
	case ">=":
		return v >= threshold
	case "<":
		return v < threshold
	case "<=":
		return v <= threshold
	case "==":
		return v == threshold
	}
	return false
}

// seriesFailure applies Cabot's GraphiteStatusCheck rule to one series:
// > and >= compare its maximum, < and <= its minimum, and == fails when any
// datapoint equals the value. It returns the value that failed, or the one
// compared when none did, and whether the series has data.
func seriesFailure(op string, vals []float64, threshold float64) (v float64, failed, hasData bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range vals {
		if math.IsNaN(x) {
			continue
		}
		hasData = true
		lo, hi = math.Min(lo, x), math.Max(hi, x)
		if op == "==" && x == threshold {
			failed = true
		}
	}
	switch op {
	case "==":
		if failed {
			return threshold, true, hasData
		}
		return hi, false, hasData
	case "<", "<=":
		return lo, compare(op, lo, threshold), hasData
	}
	return hi, compare(op, hi, threshold), hasData
}

// runMetric applies Cabot's rules to every series: the check fails when
// more series fail than allowed_num_failures, or when fewer series have
// data than expected_num_hosts. No data at all passes, as in Cabot, unless
// no_data_ok is false. It returns the worst value seen (nil without data)
// and, from an external Graphite, its answer as raw data.
func (c *Check) runMetric(ctx context.Context, src MetricSource) (*Value, []byte, error) {
	window := c.cfg.Window.D()
	if window <= 0 {
		window = 10 * time.Minute
	}
	var series [][]float64
	var raw []byte
	var err error
	what := c.cfg.Target
	if src == nil && c.graphite == nil {
		// An engine built without a metric store (tests, tools) fails the
		// check with a reason instead of crashing the engine.
		return nil, nil, errors.New("metric query failed: no metric store")
	}
	switch {
	case c.cfg.PromQL != "":
		what = c.cfg.PromQL
		series, err = src.PromQL(ctx, c.cfg.PromQL, window)
	case c.graphite != nil:
		series, raw, err = renderGraphite(ctx, c.client, *c.graphite, c.cfg.Target, window, time.Now())
	default:
		series, err = src.Graphite(ctx, c.cfg.Target, window)
	}
	if err != nil {
		return nil, raw, fmt.Errorf("metric query failed: %w", err)
	}
	threshold := *c.cfg.Value
	low := c.cfg.CheckType == "<" || c.cfg.CheckType == "<="
	worse := func(a float64, b *Value) bool {
		return b == nil || (low && a < float64(*b)) || (!low && a > float64(*b))
	}
	failing, reporting := 0, 0
	var worstFailed, worstSeen *Value
	var failures []string
	for _, vals := range series {
		v, failed, hasData := seriesFailure(c.cfg.CheckType, vals, threshold)
		if !hasData {
			continue
		}
		reporting++
		if worse(v, worstSeen) {
			worstSeen = valuePtr(v)
		}
		if failed {
			failing++
			failures = append(failures, fmt.Sprintf("%g %s %g", v, c.cfg.CheckType, threshold))
			if worse(v, worstFailed) {
				worstFailed = valuePtr(v)
			}
		}
	}
	worst := worstSeen
	if worstFailed != nil {
		worst = worstFailed
	}
	noDataOK := c.cfg.NoDataOK == nil || *c.cfg.NoDataOK
	switch {
	case failing > c.cfg.AllowedNumFailures:
		return worst, raw, fmt.Errorf("%d series of %s failing: %s", failing, what, strings.Join(failures, ", "))
	case reporting < c.cfg.ExpectedNumHosts:
		return worst, raw, fmt.Errorf("Hosts missing | %d/%d hosts reporting %s", reporting, c.cfg.ExpectedNumHosts, what)
	case reporting == 0 && !noDataOK:
		return worst, raw, fmt.Errorf("No data for %s in the last %s", what, window)
	}
	return worst, nil, nil
}

func (c *Check) runLog(ctx context.Context, logs LogCounter) (*Value, error) {
	window := c.cfg.Window.D()
	if window <= 0 {
		window = 5 * time.Minute
	}
	n, err := logs.CountKQL(ctx, c.cfg.Query, window)
	if err != nil {
		return nil, fmt.Errorf("log query failed: %w", err)
	}
	v := float64(n)
	if compare(c.cfg.CheckType, v, *c.cfg.Value) {
		return valuePtr(v), fmt.Errorf("%d events matching %s in the last %s (%s %g)", n, c.cfg.Query, window, c.cfg.CheckType, *c.cfg.Value)
	}
	return valuePtr(v), nil
}
