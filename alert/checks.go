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
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

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
}

func newCheck(service string, c configs.CheckConfig) (*Check, error) {
	imp, err := ParseImportance(c.Importance)
	if err != nil {
		return nil, err
	}
	ck := &Check{Name: c.Name, Service: service, Type: c.Type, Importance: imp, Interval: c.Interval.D(),
		Debounce: c.Debounce, Active: c.Active == nil || *c.Active, cfg: c}
	if ck.Interval <= 0 {
		ck.Interval = 60 * time.Second
	}
	if ck.cfg.Timeout <= 0 {
		ck.cfg.Timeout = configs.Duration(10 * time.Second)
	}
	if c.Type == "http" {
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
	}
	return ck, nil
}

// Run executes the check once.
func (c *Check) Run(ctx context.Context, metrics MetricSource, logs LogCounter) Result {
	start := time.Now()
	r := Result{Check: c.Name, Time: start}
	var err error
	switch c.Type {
	case "http":
		err = c.runHTTP(ctx)
	case "tcp":
		err = c.runTCP(ctx)
	case "metric":
		var v float64
		v, err = c.runMetric(ctx, metrics)
		r.Value = &v
	case "log":
		var v float64
		v, err = c.runLog(ctx, logs)
		r.Value = &v
	default:
		err = fmt.Errorf("unknown check type %q", c.Type)
	}
	r.ResponseMs = float64(time.Since(start).Microseconds()) / 1000
	if err == nil && c.cfg.MaxResponseTime > 0 && time.Since(start) > c.cfg.MaxResponseTime.D() {
		err = fmt.Errorf("Response time %.0fms exceeded %s", r.ResponseMs, c.cfg.MaxResponseTime.D())
	}
	r.OK = err == nil
	if err != nil {
		r.Reason = err.Error()
	}
	return r
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
	return err
}

func (c *Check) runHTTP(ctx context.Context) error {
	method := c.cfg.Method
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.Endpoint, nil)
	if err != nil {
		return err
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return c.describe(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c.describe(err)
	}
	ok := false
	for _, r := range c.codes {
		ok = ok || (resp.StatusCode >= r.Lo && resp.StatusCode <= r.Hi)
	}
	if !ok {
		return fmt.Errorf("Wrong code: got %d (expected %s)", resp.StatusCode, codesString(c.codes))
	}
	if c.match != nil && !c.match.Match(body) {
		return fmt.Errorf("Failed to find match regex /%s/ in response body", c.cfg.TextMatch)
	}
	return nil
}

func codesString(rs []configs.StatusRange) string {
	var parts []string
	for _, r := range rs {
		if r.Lo == r.Hi {
			parts = append(parts, fmt.Sprint(r.Lo))
		} else {
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

// runMetric applies Cabot's rules: for > and >= a series fails on its
// maximum, for < and <= on its minimum; the check fails when more series
// fail than allowed_num_failures, when fewer than expected_num_hosts series
// report, and (unless no_data_ok) when there is no data. It returns the
// worst value seen.
func (c *Check) runMetric(ctx context.Context, src MetricSource) (float64, error) {
	window := c.cfg.Window.D()
	if window <= 0 {
		window = 10 * time.Minute
	}
	var series [][]float64
	var err error
	what := c.cfg.Target
	if c.cfg.PromQL != "" {
		what = c.cfg.PromQL
		series, err = src.PromQL(ctx, c.cfg.PromQL, window)
	} else {
		series, err = src.Graphite(ctx, c.cfg.Target, window)
	}
	if err != nil {
		return math.NaN(), fmt.Errorf("metric query failed: %w", err)
	}
	threshold := *c.cfg.Value
	failing, reporting := 0, 0
	worst := math.NaN()
	var failures []string
	for _, vals := range series {
		lo, hi, n := math.Inf(1), math.Inf(-1), 0
		for _, v := range vals {
			if math.IsNaN(v) {
				continue
			}
			lo, hi, n = math.Min(lo, v), math.Max(hi, v), n+1
		}
		if n == 0 {
			continue
		}
		reporting++
		v := hi
		if c.cfg.CheckType == "<" || c.cfg.CheckType == "<=" {
			v = lo
		}
		if math.IsNaN(worst) || (v == hi && v > worst) || (v == lo && v < worst) {
			worst = v
		}
		if compare(c.cfg.CheckType, v, threshold) {
			failing++
			failures = append(failures, fmt.Sprintf("%g %s %g", v, c.cfg.CheckType, threshold))
		}
	}
	switch {
	case reporting == 0 && !c.cfg.NoDataOK:
		return worst, fmt.Errorf("No data for %s in the last %s", what, window)
	case c.cfg.ExpectedNumHosts > 0 && reporting < c.cfg.ExpectedNumHosts:
		return worst, fmt.Errorf("Expected %d hosts reporting %s, got %d", c.cfg.ExpectedNumHosts, what, reporting)
	case failing > c.cfg.AllowedNumFailures:
		return worst, fmt.Errorf("%d series of %s failing: %s", failing, what, strings.Join(failures, ", "))
	}
	return worst, nil
}

func (c *Check) runLog(ctx context.Context, logs LogCounter) (float64, error) {
	window := c.cfg.Window.D()
	if window <= 0 {
		window = 5 * time.Minute
	}
	n, err := logs.CountKQL(ctx, c.cfg.Query, window)
	if err != nil {
		return math.NaN(), fmt.Errorf("log query failed: %w", err)
	}
	v := float64(n)
	if compare(c.cfg.CheckType, v, *c.cfg.Value) {
		return v, fmt.Errorf("%d events matching %s in the last %s (%s %g)", n, c.cfg.Query, window, c.cfg.CheckType, *c.cfg.Value)
	}
	return v, nil
}
