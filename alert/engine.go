package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

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
	DataDir string // state lives in DataDir/state.json
	BaseURL string // links in messages: BaseURL/services/<name>
	Metrics MetricSource
	Logs    LogCounter
	Samples SampleWriter
	Twilio  *Twilio // nil: SMS and calls are recorded as failed
	Log     *slog.Logger
	Out     io.Writer // the "log" channel (stdout)
	Now     func() time.Time
}

type checkState struct {
	Failures int      `json:"consecutive_failures"`
	Failing  bool     `json:"failing"`
	Last     *Result  `json:"last,omitempty"`
	History  []Result `json:"history"`
}

type serviceState struct {
	Status          Status         `json:"status"`
	LastAlert       time.Time      `json:"last_alert"`
	LastAlertStatus Status         `json:"last_alert_status"`
	AckUntil        time.Time      `json:"ack_until"`
	AckBy           string         `json:"ack_by,omitempty"`
	History         []StatusChange `json:"history"`
}

// StatusChange is one point of a service's status history.
type StatusChange struct {
	Time   time.Time `json:"time"`
	Status Status    `json:"status"`
}

type persisted struct {
	Checks   map[string]*checkState   `json:"checks"`
	Services map[string]*serviceState `json:"services"`
	Alerts   []Alert                  `json:"alerts"`
	NextID   int64                    `json:"next_alert_id"`
}

const (
	keepResults = 500
	keepAlerts  = 1000
	keepChanges = 500
)

// Engine schedules checks, keeps status and sends alerts.
type Engine struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	cfg      configs.Config
	services map[string]configs.ServiceConfig
	order    []string
	checks   map[string]*Check
	st       persisted
	users    map[string]string // name -> phone

	loops sync.WaitGroup
	stop  context.CancelFunc
	sends sync.WaitGroup
}

// New loads persisted state and builds the services; Start runs them.
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
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create alerts dir: %w", err)
	}
	e := &Engine{opts: o, log: o.Log, st: persisted{Checks: map[string]*checkState{}, Services: map[string]*serviceState{}}}
	b, err := os.ReadFile(e.statePath())
	if err == nil {
		if err := json.Unmarshal(b, &e.st); err != nil {
			return nil, fmt.Errorf("read alert state %s: %w", e.statePath(), err)
		}
		if e.st.Checks == nil {
			e.st.Checks = map[string]*checkState{}
		}
		if e.st.Services == nil {
			e.st.Services = map[string]*serviceState{}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read alert state: %w", err)
	}
	if err := e.configure(o.Config); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) statePath() string { return filepath.Join(e.opts.DataDir, "state.json") }

func (e *Engine) configure(cfg configs.Config) error {
	services := map[string]configs.ServiceConfig{}
	checks := map[string]*Check{}
	var order []string
	for _, s := range cfg.Services {
		services[s.Name] = s
		order = append(order, s.Name)
		for _, c := range s.Checks {
			ck, err := newCheck(s.Name, c)
			if err != nil {
				return fmt.Errorf("service %s check %s: %w", s.Name, c.Name, err)
			}
			checks[c.Name] = ck
		}
	}
	users := map[string]string{}
	for _, u := range cfg.Users {
		users[u.Name] = u.Phone
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg, e.services, e.order, e.checks, e.users = cfg, services, order, checks, users
	for name := range services {
		if e.st.Services[name] == nil {
			e.st.Services[name] = &serviceState{}
		}
	}
	for name := range checks {
		if e.st.Checks[name] == nil {
			e.st.Checks[name] = &checkState{}
		}
	}
	return nil
}

// Start runs every active check on its interval until Stop.
func (e *Engine) Start(ctx context.Context) {
	ctx, e.stop = context.WithCancel(ctx)
	e.mu.Lock()
	checks := make([]*Check, 0, len(e.checks))
	for _, c := range e.checks {
		checks = append(checks, c)
	}
	e.mu.Unlock()
	for _, c := range checks {
		if !c.Active {
			continue
		}
		e.loops.Add(1)
		go e.loop(ctx, c)
	}
}

// Stop ends the check loops and waits for alerts being sent.
func (e *Engine) Stop() {
	if e.stop != nil {
		e.stop()
	}
	e.loops.Wait()
	e.sends.Wait()
}

// Reload swaps in a new configuration (SIGHUP), keeping state.
func (e *Engine) Reload(ctx context.Context, cfg configs.Config) error {
	e.Stop()
	if err := e.configure(cfg); err != nil {
		return err
	}
	e.Start(ctx)
	return nil
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
}

// loop runs a check, then waits its interval (not counting the run) with
// ±10% jitter so that checks do not all fire together.
func (e *Engine) loop(ctx context.Context, c *Check) {
	defer e.loops.Done()
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
		return Result{}, fmt.Errorf("no check named %q", name)
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
	cs := e.st.Checks[c.Name]
	if cs == nil {
		cs = &checkState{}
		e.st.Checks[c.Name] = cs
	}
	rr := r
	cs.Last = &rr
	cs.History = append(cs.History, r)
	if len(cs.History) > keepResults {
		cs.History = cs.History[len(cs.History)-keepResults:]
	}
	if r.OK {
		cs.Failures, cs.Failing = 0, false // recover on the first success
	} else {
		cs.Failures++
		cs.Failing = cs.Failures > c.Debounce
	}
	alert := e.evaluateLocked(c.Service)
	e.saveLocked()
	e.mu.Unlock()
	if alert != nil {
		e.send(alert)
	}
}

// statusLocked is the most severe importance among failing active checks.
func (e *Engine) statusLocked(service string) (Status, []string) {
	status := Passing
	var reasons []string
	for _, c := range e.services[service].Checks {
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

func (e *Engine) inMaintenance(s configs.ServiceConfig, now time.Time) bool {
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

// evaluateLocked applies Cabot's rules and returns the alert to send, if any.
func (e *Engine) evaluateLocked(service string) *Alert {
	svc, ok := e.services[service]
	if !ok {
		return nil
	}
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
	silenced := e.inMaintenance(svc, now) || (svc.AlertsEnabled != nil && !*svc.AlertsEnabled)
	if status == Passing {
		if prev == Passing {
			return nil
		}
		// Recovery ends an acknowledgement early and is always announced.
		ss.AckUntil, ss.AckBy = time.Time{}, ""
		ss.LastAlertStatus = Passing
		if silenced {
			return nil
		}
		ss.LastAlert = now
		return e.newAlertLocked(svc, status, prev, "recovery",
			fmt.Sprintf("Service %s is back to normal: %s", svc.Name, e.link(svc.Name)))
	}
	if silenced || now.Before(ss.AckUntil) {
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
	for _, r := range reasons {
		msg += "\n" + r
	}
	if svc.Runbook != "" {
		msg += "\nRunbook: " + svc.Runbook
	}
	return e.newAlertLocked(svc, status, prev, kind, msg)
}

func (e *Engine) link(service string) string {
	return strings.TrimRight(e.opts.BaseURL, "/") + "/services/" + service
}

func (e *Engine) newAlertLocked(svc configs.ServiceConfig, status, prev Status, kind, msg string) *Alert {
	e.st.NextID++
	return &Alert{ID: e.st.NextID, Time: e.opts.Now(), Service: svc.Name, Status: status, Previous: prev, Kind: kind, Message: msg}
}

// OnCall returns who is paged for a service at t: the service's notify
// list, else the rotation's user for t, else the fallback user.
func (e *Engine) OnCall(service string, t time.Time) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.onCallLocked(service, t)
}

func (e *Engine) onCallLocked(service string, t time.Time) []string {
	if s, ok := e.services[service]; ok && len(s.Notify) > 0 {
		return s.Notify
	}
	if u := RotationUser(e.cfg.Rotation, t); u != "" {
		return []string{u}
	}
	if e.cfg.Fallback != "" {
		return []string{e.cfg.Fallback}
	}
	return nil
}

// RotationUser is the user on call at t: users take turns of one period
// each from start (before start, the first user).
func RotationUser(r *configs.RotationConfig, t time.Time) string {
	if r == nil || len(r.Users) == 0 || r.Period <= 0 {
		return ""
	}
	if t.Before(r.Start) {
		return r.Users[0]
	}
	n := int64(t.Sub(r.Start) / r.Period.D())
	return r.Users[n%int64(len(r.Users))]
}

func (e *Engine) channelsLocked(svc configs.ServiceConfig) []string {
	if len(svc.Channels) > 0 {
		return svc.Channels
	}
	if e.opts.Twilio != nil {
		return []string{"sms", "call"}
	}
	return []string{"log"}
}

// send delivers an alert on every channel in the background and records
// what each channel answered. One channel failing does not stop the others.
func (e *Engine) send(a *Alert) {
	e.mu.Lock()
	svc := e.services[a.Service]
	channels := e.channelsLocked(svc)
	var phones [][2]string
	for _, u := range e.onCallLocked(a.Service, a.Time) {
		phones = append(phones, [2]string{u, e.users[u]})
	}
	e.mu.Unlock()
	e.sends.Add(1)
	go func() {
		defer e.sends.Done()
		var results []ChannelResult
		for _, ch := range channels {
			switch ch {
			case "sms":
				for _, p := range phones {
					results = append(results, e.sms(p[0], p[1], a.Message))
				}
			case "call":
				if a.Status != Critical {
					continue // calls are for CRITICAL only
				}
				say := fmt.Sprintf("This is obs. Service %s is reporting %s status.", a.Service, strings.ToLower(a.Status.String()))
				for _, p := range phones {
					results = append(results, e.call(p[0], p[1], say))
				}
			case "webhook":
				results = append(results, e.webhook(svc.Webhook, a))
			case "log":
				fmt.Fprintf(e.opts.Out, "ALERT %s %s: %s\n", a.Time.UTC().Format(time.RFC3339), a.Kind, strings.ReplaceAll(a.Message, "\n", " | "))
				results = append(results, ChannelResult{Channel: "log", OK: true})
			}
		}
		a.Channels = results
		e.mu.Lock()
		e.st.Alerts = append(e.st.Alerts, *a)
		if len(e.st.Alerts) > keepAlerts {
			e.st.Alerts = e.st.Alerts[len(e.st.Alerts)-keepAlerts:]
		}
		e.saveLocked()
		e.mu.Unlock()
	}()
}

func (e *Engine) sms(user, phone, msg string) ChannelResult {
	if phone == "" {
		return ChannelResult{Channel: "sms", To: user, Error: "user " + user + " has no phone number"}
	}
	if e.opts.Twilio == nil {
		return ChannelResult{Channel: "sms", To: phone, Error: "twilio is not configured"}
	}
	sid, err := e.opts.Twilio.SMS(phone, msg)
	if err != nil {
		e.log.Error("twilio sms", "to", phone, "err", err)
	}
	return channelResult("sms", phone, sid, err)
}

func (e *Engine) call(user, phone, text string) ChannelResult {
	if phone == "" {
		return ChannelResult{Channel: "call", To: user, Error: "user " + user + " has no phone number"}
	}
	if e.opts.Twilio == nil {
		return ChannelResult{Channel: "call", To: phone, Error: "twilio is not configured"}
	}
	sid, err := e.opts.Twilio.Call(phone, text)
	if err != nil {
		e.log.Error("twilio call", "to", phone, "err", err)
	}
	return channelResult("call", phone, sid, err)
}

// webhook posts the alert as JSON with a Slack-compatible "text" field.
func (e *Engine) webhook(url string, a *Alert) ChannelResult {
	body, _ := json.Marshal(map[string]any{"text": a.Message, "service": a.Service, "status": a.Status,
		"previous": a.Previous, "kind": a.Kind, "url": e.link(a.Service), "time": a.Time})
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return ChannelResult{Channel: "webhook", To: url, Error: err.Error()}
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return ChannelResult{Channel: "webhook", To: url, Error: resp.Status}
	}
	return ChannelResult{Channel: "webhook", To: url, OK: true}
}

// saveLocked writes the state atomically (temp file, rename).
func (e *Engine) saveLocked() {
	b, err := json.Marshal(&e.st)
	if err != nil {
		e.log.Error("encode alert state", "err", err)
		return
	}
	tmp := e.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		e.log.Error("write alert state", "err", err)
		return
	}
	if err := os.Rename(tmp, e.statePath()); err != nil {
		e.log.Error("write alert state", "err", err)
	}
}

// Ack silences a failing service for d (default 20m).
func (e *Engine) Ack(service string, d time.Duration, by string) (time.Time, error) {
	if d <= 0 {
		d = 20 * time.Minute
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := e.st.Services[service]
	if _, ok := e.services[service]; !ok || ss == nil {
		return time.Time{}, fmt.Errorf("no service named %q", service)
	}
	ss.AckUntil, ss.AckBy = e.opts.Now().Add(d), by
	e.saveLocked()
	return ss.AckUntil, nil
}

// Unack ends an acknowledgement.
func (e *Engine) Unack(service string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := e.st.Services[service]
	if _, ok := e.services[service]; !ok || ss == nil {
		return fmt.Errorf("no service named %q", service)
	}
	ss.AckUntil, ss.AckBy = time.Time{}, ""
	e.saveLocked()
	return nil
}

// SendTest sends a test SMS (and call) to a number, recorded as an alert.
func (e *Engine) SendTest(to string, call bool) Alert {
	a := Alert{Time: e.opts.Now(), Kind: "test", Service: "obs", Message: "This is a test alert from obs."}
	res := []ChannelResult{e.sms("test", to, a.Message)}
	if call {
		res = append(res, e.call("test", to, "This is a test call from obs."))
	}
	a.Channels = res
	e.mu.Lock()
	e.st.NextID++
	a.ID = e.st.NextID
	e.st.Alerts = append(e.st.Alerts, a)
	e.saveLocked()
	e.mu.Unlock()
	return a
}

// CheckView is a check as the API shows it.
type CheckView struct {
	Name       string  `json:"name"`
	Service    string  `json:"service"`
	Type       string  `json:"type"`
	Importance Status  `json:"importance"`
	Active     bool    `json:"active"`
	Interval   string  `json:"interval"`
	Debounce   int     `json:"debounce"`
	Failing    bool    `json:"failing"`
	Failures   int     `json:"consecutive_failures"`
	Last       *Result `json:"last,omitempty"`
}

// ServiceView is a service as the API shows it.
type ServiceView struct {
	Name          string         `json:"name"`
	Status        Status         `json:"status"`
	URL           string         `json:"url,omitempty"`
	Runbook       string         `json:"runbook,omitempty"`
	AckUntil      *time.Time     `json:"acknowledged_until,omitempty"`
	AckBy         string         `json:"acknowledged_by,omitempty"`
	Maintenance   bool           `json:"in_maintenance"`
	AlertsEnabled bool           `json:"alerts_enabled"`
	OnCall        []string       `json:"on_call"`
	Checks        []CheckView    `json:"checks"`
	History       []StatusChange `json:"status_history,omitempty"`
}

func (e *Engine) checkViewLocked(name string) CheckView {
	c := e.checks[name]
	cs := e.st.Checks[name]
	v := CheckView{Name: name, Service: c.Service, Type: c.Type, Importance: c.Importance, Active: c.Active,
		Interval: c.Interval.String(), Debounce: c.Debounce}
	if cs != nil {
		v.Failing, v.Failures, v.Last = cs.Failing, cs.Failures, cs.Last
	}
	return v
}

// Services lists every service with its checks.
func (e *Engine) Services() []ServiceView {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []ServiceView
	for _, name := range e.order {
		out = append(out, e.serviceViewLocked(name, false))
	}
	return out
}

// Service returns one service with its status history.
func (e *Engine) Service(name string) (ServiceView, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.services[name]; !ok {
		return ServiceView{}, false
	}
	return e.serviceViewLocked(name, true), true
}

func (e *Engine) serviceViewLocked(name string, history bool) ServiceView {
	svc := e.services[name]
	ss := e.st.Services[name]
	now := e.opts.Now()
	v := ServiceView{Name: name, Status: ss.Status, URL: svc.URL, Runbook: svc.Runbook, Maintenance: e.inMaintenance(svc, now),
		AlertsEnabled: svc.AlertsEnabled == nil || *svc.AlertsEnabled, OnCall: e.onCallLocked(name, now)}
	if now.Before(ss.AckUntil) {
		t := ss.AckUntil
		v.AckUntil, v.AckBy = &t, ss.AckBy
	}
	for _, c := range svc.Checks {
		v.Checks = append(v.Checks, e.checkViewLocked(c.Name))
	}
	if history {
		v.History = ss.History
	}
	return v
}

// Checks lists every check.
func (e *Engine) Checks() []CheckView {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for n := range e.checks {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]CheckView, 0, len(names))
	for _, n := range names {
		out = append(out, e.checkViewLocked(n))
	}
	return out
}

// History returns a check's recent results, newest last.
func (e *Engine) History(name string) ([]Result, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.checks[name]; !ok {
		return nil, false
	}
	return append([]Result(nil), e.st.Checks[name].History...), true
}

// Alerts returns sent alerts, newest first.
func (e *Engine) Alerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, len(e.st.Alerts))
	for i, a := range e.st.Alerts {
		out[len(out)-1-i] = a
	}
	return out
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
