package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/alert/oncall"
	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/store/metrics"
)

// SampleWriter stores check results as metrics (obs.checks.<check>.up and
// .response_ms), so that checks graph like any metric.
type SampleWriter interface {
	Write(ctx context.Context, samples []metrics.Sample) error
}

// Options wire the engine to the rest of obs.
type Options struct {
	Config  configs.Config
	DataDir string // state.json, services.yaml, calendar.ics
	// BaseURL is the link base when the config has no public_url: the
	// listen address, which only opens on this machine.
	BaseURL string
	Metrics MetricSource
	Logs    LogCounter
	Samples SampleWriter
	Twilio  *Twilio // nil: SMS and calls are recorded as failed
	Log     *slog.Logger
	Out     io.Writer // the "log" channel (stdout)
	Now     func() time.Time
	// RetryEvery is how often pending check results are written and a
	// failed state write is retried (1s). Alerts, acknowledgements and
	// definitions are written at once.
	RetryEvery time.Duration
}

// Errors the API tells apart.
var (
	ErrNotFound = errors.New("not found")
	ErrReadOnly = errors.New("declared in the config file: edit obs.yaml instead")
	ErrInvalid  = errors.New("invalid")
	ErrConflict = errors.New("conflict")
)

// AckedError refuses a second acknowledgement while one is unexpired, as
// Cabot does ("don't allow users to jump on each other").
type AckedError struct {
	Service string
	By      string
	Until   time.Time
}

func (e *AckedError) Error() string {
	by := e.By
	if by == "" {
		by = "someone"
	}
	return fmt.Sprintf("%s is already acknowledged by %s until %s", e.Service, by, e.Until.UTC().Format(time.RFC3339))
}

// svcDef is a service and where it was declared.
type svcDef struct {
	cfg      configs.ServiceConfig
	fromFile bool
}

type runner struct {
	check  *Check
	cancel context.CancelFunc
}

type engineMetrics struct {
	unpaged            *prometheus.CounterVec
	sent               *prometheus.CounterVec
	stateWriteFailures prometheus.Counter
}

// Engine schedules checks, keeps status and sends alerts.
type Engine struct {
	opts       Options
	log        *slog.Logger
	m          engineMetrics
	retryEvery time.Duration

	mu          sync.Mutex
	cfg         configs.Config
	services    map[string]*svcDef
	order       []string
	checks      map[string]*Check
	users       map[string]string // name -> phone
	rota        *oncall.Rota
	cal         *oncall.Calendar
	calCancel   context.CancelFunc
	stored      []configs.ServiceConfig // created through the API, as stored
	defProblems []string

	st           persisted
	saveErr      error
	saveErrSince time.Time
	dirty        bool
	startProblem string

	ctx     context.Context // Start's; nil before
	stop    context.CancelFunc
	runners map[string]*runner
	wg      sync.WaitGroup // check loops, the calendar, the saver
	sends   sync.WaitGroup
}

// New loads persisted state and the stored services and builds the
// services; Start runs them.
func New(o Options) (*Engine, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Second
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create alerts dir: %w", err)
	}
	e := &Engine{opts: o, log: o.Log, retryEvery: o.RetryEvery, runners: map[string]*runner{},
		m: engineMetrics{
			unpaged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_alerts_unpaged_total",
				Help: "Alerts that had nobody to page: no notify user, no shift on call and no fallback."}, []string{"service"}),
			sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obs_alerts_sent_total",
				Help: "Alerts sent, by kind (alert, reminder, recovery, test)."}, []string{"kind"}),
			stateWriteFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "obs_alerts_state_write_failures_total",
				Help: "Failed writes of the alert state (retried)."}),
		}}
	if err := e.loadState(); err != nil {
		return nil, err
	}
	if err := e.loadStored(); err != nil {
		return nil, err
	}
	if err := e.configure(o.Config); err != nil {
		return nil, err
	}
	if o.Config.PublicURL == "" && (len(e.order) > 0 || o.Twilio != nil) {
		e.log.Warn("public_url is not set: links in alerts point at " + strings.TrimRight(o.BaseURL, "/") +
			", which only opens on this machine; set public_url to an address phones can reach")
	}
	return e, nil
}

// Collectors are the engine's own metrics for /metrics.
func (e *Engine) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.m.unpaged, e.m.sent, e.m.stateWriteFailures}
}

func (e *Engine) env(cfg configs.Config) checkEnv {
	return checkEnv{UserAgent: cfg.HTTPUserAgent, Graphite: cfg.GraphiteAPI}
}

// configure builds services and checks from the config file and the
// stored ones, and swaps them in. Stored services that clash with the file
// or no longer validate (a user removed from obs.yaml) are not run and are
// reported (Err); they stay stored. A check whose definition is unchanged
// keeps running undisturbed.
func (e *Engine) configure(cfg configs.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	env := e.env(cfg)
	services := map[string]*svcDef{}
	checks := map[string]*Check{}
	var order []string
	names := configs.NewServiceNames()
	var problems []string
	build := func(s configs.ServiceConfig, fromFile bool) error {
		built := map[string]*Check{}
		for _, c := range s.Checks {
			if old := e.checks[c.Name]; old != nil && old.Service == s.Name && reflect.DeepEqual(old.src, c) && old.env == env {
				built[c.Name] = old
				continue
			}
			ck, err := newCheck(s.Name, c, env)
			if err != nil {
				return fmt.Errorf("service %s check %s: %w", s.Name, c.Name, err)
			}
			built[c.Name] = ck
		}
		services[s.Name] = &svcDef{cfg: s, fromFile: fromFile}
		order = append(order, s.Name)
		for n, c := range built {
			checks[n] = c
		}
		return nil
	}
	for _, s := range cfg.Services {
		names.Services[s.Name] = true
		for _, c := range s.Checks {
			names.Checks[c.Name] = true
		}
		if err := build(s, true); err != nil {
			return err
		}
	}
	for _, s := range e.stored {
		var errs []error
		configs.ValidateService("", s, &cfg, names, func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
		})
		if err := errors.Join(errs...); err != nil {
			problems = append(problems, fmt.Sprintf("stored service %s is not run: %v", s.Name, strings.ReplaceAll(err.Error(), "\n", "; ")))
			continue
		}
		if err := build(s, false); err != nil {
			problems = append(problems, fmt.Sprintf("stored service %s is not run: %v", s.Name, err))
		}
	}
	for _, p := range problems {
		e.log.Error("stored service not run", "problem", p)
	}
	users := map[string]string{}
	for _, u := range cfg.Users {
		users[u.Name] = u.Phone
	}
	e.setCalendarLocked(cfg)
	e.cfg, e.services, e.order, e.checks, e.users, e.defProblems = cfg, services, order, checks, users, problems
	e.rota = oncall.NewRota(cfg, e.cal)
	now := e.opts.Now()
	for name := range services {
		if e.st.Services[name] == nil {
			e.st.Services[name] = &serviceState{Since: now}
		}
	}
	for name := range checks {
		if e.st.Checks[name] == nil {
			e.st.Checks[name] = &checkState{}
		}
	}
	if e.ctx != nil {
		e.syncRunnersLocked()
	}
	return nil
}

// setCalendarLocked keeps the calendar when its URL is unchanged, so that
// a reload neither refetches nor forgets it.
func (e *Engine) setCalendarLocked(cfg configs.Config) {
	url := cfg.Calendar.ICalURL
	if e.cal != nil && e.cal.URL() == url && url != "" {
		return
	}
	if e.calCancel != nil {
		e.calCancel()
		e.calCancel = nil
	}
	e.cal = nil
	if url == "" {
		return
	}
	e.cal = oncall.NewCalendar(url, cfg.Calendar.Refresh.D(), filepath.Join(e.opts.DataDir, "calendar.ics"), e.log.With("part", "calendar"))
	if e.ctx != nil {
		e.startCalendarLocked()
	}
}

func (e *Engine) startCalendarLocked() {
	ctx, cancel := context.WithCancel(e.ctx)
	e.calCancel = cancel
	cal := e.cal
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		cal.Run(ctx)
	}()
}

// syncRunnersLocked stops the loops of checks that are gone, changed or
// inactive and starts loops for active checks without one.
func (e *Engine) syncRunnersLocked() {
	for name, r := range e.runners {
		if c := e.checks[name]; c != r.check || !c.Active {
			r.cancel()
			delete(e.runners, name)
		}
	}
	for name, c := range e.checks {
		if !c.Active || e.runners[name] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(e.ctx)
		e.runners[name] = &runner{check: c, cancel: cancel}
		e.wg.Add(1)
		go e.loop(ctx, c)
	}
}

// Start runs every active check on its interval, the calendar fetches and
// the retry of failed state writes, until Stop.
func (e *Engine) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ctx, e.stop = context.WithCancel(ctx)
	done := e.ctx.Done() // read here: Stop clears e.ctx
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.retrySaves(done)
	}()
	if e.cal != nil {
		e.startCalendarLocked()
	}
	e.syncRunnersLocked()
}

// Stop ends the loops, waits for alerts being sent and writes the state
// if its last write failed.
func (e *Engine) Stop() {
	// The context goes under the lock before the wait: a Reload racing
	// with Stop then sees a stopped engine and starts no loop, instead of
	// adding to the WaitGroup while it is being waited on (a panic CI hit).
	e.mu.Lock()
	stop := e.stop
	e.ctx, e.stop, e.calCancel = nil, nil, nil
	e.runners = map[string]*runner{}
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
	e.wg.Wait()
	e.sends.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dirty {
		e.saveLocked()
	}
}

// Reload swaps in a new configuration (SIGHUP), keeping state.
func (e *Engine) Reload(ctx context.Context, cfg configs.Config) error {
	return e.configure(cfg)
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
}

// loop runs a check, then waits its interval (not counting the run) with
// ±10% jitter so that checks do not all fire together.
func (e *Engine) loop(ctx context.Context, c *Check) {
	defer e.wg.Done()
	first := time.Duration(rand.Float64() * float64(min(c.Interval, 2*time.Second)))
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.handle(ctx, c, c.Run(ctx, e.opts.Metrics, e.opts.Logs))
		t.Reset(jitter(c.Interval))
	}
}

// RunNow runs a check at once and returns its result.
func (e *Engine) RunNow(ctx context.Context, name string) (Result, error) {
	e.mu.Lock()
	c := e.checks[name]
	e.mu.Unlock()
	if c == nil {
		return Result{}, fmt.Errorf("no check named %q: %w", name, ErrNotFound)
	}
	r := c.Run(ctx, e.opts.Metrics, e.opts.Logs)
	e.handle(ctx, c, r)
	return r, nil
}

func (e *Engine) handle(ctx context.Context, c *Check, r Result) {
	if ctx.Err() != nil {
		return // shutting down: a cancelled request is not a failure
	}
	if e.opts.Samples != nil {
		up := 0.0
		if r.OK {
			up = 1
		}
		ts := r.Time.UnixMilli()
		e.opts.Samples.Write(ctx, []metrics.Sample{
			{Name: "obs.checks." + c.Name + ".up", TS: ts, Value: up},
			{Name: "obs.checks." + c.Name + ".response_ms", TS: ts, Value: r.ResponseMs},
		})
	}
	e.mu.Lock()
	if e.checks[c.Name] != c {
		e.mu.Unlock()
		return // edited or removed while it ran
	}
	cs := e.st.Checks[c.Name]
	rr := r
	cs.Last = &rr
	if !r.OK {
		cs.LastFailure = &rr
	}
	r.RawData = "" // kept on the last result and the last failure only
	cs.History = append(cs.History, r)
	if len(cs.History) > keepResults {
		cs.History = cs.History[len(cs.History)-keepResults:]
	}
	if n := len(cs.Runs); n > 0 && cs.Runs[n-1].OK == r.OK {
		cs.Runs[n-1].Last, cs.Runs[n-1].N = r.Time, cs.Runs[n-1].N+1
	} else {
		cs.Runs = append(cs.Runs, Run{Start: r.Time, Last: r.Time, OK: r.OK, N: 1})
		if len(cs.Runs) > keepRuns {
			cs.Runs = cs.Runs[len(cs.Runs)-keepRuns:]
		}
	}
	if r.OK {
		cs.Failures, cs.Failing = 0, false // recover on the first success
	} else {
		cs.Failures++
		cs.Failing = cs.Failures > c.Debounce
	}
	alert := e.evaluateLocked(c.Service)
	if alert != nil {
		// Written before it is sent: a crash must not page twice.
		e.saveLocked()
	} else {
		// A result alone waits for the saver (RetryEvery): a state write
		// with a full history costs tens of milliseconds and an fsync.
		e.dirty = true
	}
	e.mu.Unlock()
	if alert != nil {
		e.send(alert)
	}
}

// statusLocked is the most severe importance among failing active checks.
func (e *Engine) statusLocked(service string) (Status, []string) {
	status := Passing
	var reasons []string
	for _, c := range e.services[service].cfg.Checks {
		ck := e.checks[c.Name]
		cs := e.st.Checks[c.Name]
		if ck == nil || !ck.Active || cs == nil || !cs.Failing {
			continue
		}
		status = max(status, ck.Importance)
		if cs.Last != nil {
			reasons = append(reasons, c.Name+": "+cs.Last.Reason)
		}
	}
	return status, reasons
}

func inMaintenance(s configs.ServiceConfig, now time.Time) bool {
	for _, w := range s.Maintenance {
		if !now.Before(w.Start) && now.Before(w.End) {
			return true
		}
	}
	return false
}

func (e *Engine) interval(s Status) time.Duration {
	if s == Warning {
		return e.cfg.NotificationInterval.D()
	}
	return e.cfg.AlertInterval.D()
}

// evaluateLocked applies Cabot's rules and returns the alert to send, if
// any. An unexpired acknowledgement silences everything, a recovery too,
// and a recovery does not end it: a flap inside the window stays silent.
func (e *Engine) evaluateLocked(service string) *Alert {
	def, ok := e.services[service]
	if !ok {
		return nil
	}
	svc := def.cfg
	ss := e.st.Services[service]
	now := e.opts.Now()
	status, reasons := e.statusLocked(service)
	prev := ss.Status
	ss.Status = status
	if status != prev {
		ss.History = append(ss.History, StatusChange{Time: now, Status: status})
		if len(ss.History) > keepChanges {
			ss.History = ss.History[len(ss.History)-keepChanges:]
		}
	}
	quiet := inMaintenance(svc, now) || (svc.AlertsEnabled != nil && !*svc.AlertsEnabled) || now.Before(ss.AckUntil)
	if status == Passing {
		if prev == Passing || quiet {
			return nil
		}
		ss.LastAlert, ss.LastAlertStatus = now, Passing
		return e.newAlertLocked(svc, status, prev, "recovery",
			fmt.Sprintf("Service %s is back to normal: %s", svc.Name, e.link(svc.Name)))
	}
	if quiet {
		return nil
	}
	kind := ""
	switch {
	case status > prev || status > ss.LastAlertStatus:
		kind = "alert" // worse, or severity rose since the last alert
	case now.Sub(ss.LastAlert) >= e.interval(status):
		kind = "reminder"
	default:
		return nil
	}
	ss.LastAlert, ss.LastAlertStatus = now, status
	msg := fmt.Sprintf("Service %s reporting %s status: %s", svc.Name, status, e.link(svc.Name))
	// A text is read on a lock screen: the first reasons, each clipped,
	// and the link to the incident page for the rest.
	for i, r := range reasons {
		if i == smsReasons {
			msg += fmt.Sprintf("\n+%d more failing", len(reasons)-i)
			break
		}
		msg += "\n" + clipRunes(r, smsReasonRunes)
	}
	if svc.Runbook != "" {
		msg += "\nRunbook: " + svc.Runbook
	}
	return e.newAlertLocked(svc, status, prev, kind, msg)
}

// How much of the failing checks' reasons an alert's text carries.
const (
	smsReasons     = 3
	smsReasonRunes = 100
)

// clipRunes keeps the first n runes of s, marking a cut with "…".
func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// link is the service's page: public_url when set (an address a phone
// can open), else the listen address.
func (e *Engine) link(service string) string {
	base := e.cfg.PublicURL
	if base == "" {
		base = e.opts.BaseURL
	}
	return strings.TrimRight(base, "/") + "/services/" + url.PathEscape(service)
}

func (e *Engine) newAlertLocked(svc configs.ServiceConfig, status, prev Status, kind, msg string) *Alert {
	e.st.NextID++
	return &Alert{ID: e.st.NextID, Time: e.opts.Now(), Service: svc.Name, Status: status, Previous: prev, Kind: kind, Message: msg}
}

// Ack silences a service for d (default 20m, Cabot's
// ACKNOWLEDGEMENT_EXPIRY). An unexpired acknowledgement is not replaced:
// the second one gets an *AckedError naming the first's owner and expiry.
func (e *Engine) Ack(service string, d time.Duration, by string) (time.Time, error) {
	if d <= 0 {
		d = 20 * time.Minute
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := e.st.Services[service]
	if _, ok := e.services[service]; !ok || ss == nil {
		return time.Time{}, fmt.Errorf("no service named %q: %w", service, ErrNotFound)
	}
	now := e.opts.Now()
	if now.Before(ss.AckUntil) {
		return time.Time{}, &AckedError{Service: service, By: ss.AckBy, Until: ss.AckUntil}
	}
	ss.AckUntil, ss.AckBy, ss.AckAt = now.Add(d), by, now
	e.saveLocked()
	return ss.AckUntil, nil
}

// Unack ends an acknowledgement.
func (e *Engine) Unack(service string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := e.st.Services[service]
	if _, ok := e.services[service]; !ok || ss == nil {
		return fmt.Errorf("no service named %q: %w", service, ErrNotFound)
	}
	ss.AckUntil, ss.AckBy, ss.AckAt = time.Time{}, "", time.Time{}
	e.saveLocked()
	return nil
}

// Flush waits for alerts being sent (tests, shutdown).
func (e *Engine) Flush() { e.sends.Wait() }

// MetricFuncs adapts two functions to MetricSource.
type MetricFuncs struct {
	GraphiteFn func(ctx context.Context, target string, window time.Duration) ([][]float64, error)
	PromQLFn   func(ctx context.Context, expr string, window time.Duration) ([][]float64, error)
}

func (m MetricFuncs) Graphite(ctx context.Context, target string, window time.Duration) ([][]float64, error) {
	return m.GraphiteFn(ctx, target, window)
}

func (m MetricFuncs) PromQL(ctx context.Context, expr string, window time.Duration) ([][]float64, error) {
	return m.PromQLFn(ctx, expr, window)
}
