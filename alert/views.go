package alert

import (
	"sort"
	"time"

	"github.com/obs-dev/obs/alert/oncall"
	"github.com/obs-dev/obs/alert/redact"
)

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
	// LastFailure is the latest failing result with its raw data.
	LastFailure *Result `json:"last_failure,omitempty"`
	Source      string  `json:"source"` // config (obs.yaml, read-only) or api
	// ReadsFrom is the external Graphite a metric check reads (redacted).
	ReadsFrom string `json:"reads_from,omitempty"`
}

// Paged says who an alert would page now.
type Paged struct {
	SMS  []string `json:"sms"`
	Call []string `json:"call"`
}

// ServiceView is a service as the API shows it.
type ServiceView struct {
	Name          string     `json:"name"`
	Status        Status     `json:"status"`
	URL           string     `json:"url,omitempty"`
	Runbook       string     `json:"runbook,omitempty"`
	AckUntil      *time.Time `json:"acknowledged_until,omitempty"`
	AckBy         string     `json:"acknowledged_by,omitempty"`
	AckAt         *time.Time `json:"acknowledged_at,omitempty"`
	Maintenance   bool       `json:"in_maintenance"`
	AlertsEnabled bool       `json:"alerts_enabled"`
	Channels      []string   `json:"channels"`
	Webhook       string     `json:"webhook,omitempty"` // redacted
	Notify        []string   `json:"notify"`
	// OnCall are the duty officers now, OnCallSource where they come from
	// (calendar, rotation or fallback).
	OnCall       []string `json:"on_call"`
	OnCallSource string   `json:"on_call_source,omitempty"`
	Paged        Paged    `json:"paged"`
	// Unpaged is set while the latest alert had nobody to page.
	Unpaged  *PagingProblem `json:"unpaged,omitempty"`
	Source   string         `json:"source"` // config or api
	ReadOnly bool           `json:"read_only"`
	Checks   []CheckView    `json:"checks"`
	History  []StatusChange `json:"status_history,omitempty"`
}

func (e *Engine) checkViewLocked(name string) CheckView {
	c := e.checks[name]
	cs := e.st.Checks[name]
	v := CheckView{Name: name, Service: c.Service, Type: c.Type, Importance: c.Importance, Active: c.Active,
		Interval: c.Interval.String(), Debounce: c.Debounce, Source: SourceAPI}
	if def := e.services[c.Service]; def != nil && def.fromFile {
		v.Source = SourceConfig
	}
	if c.graphite != nil {
		v.ReadsFrom = redact.URL(c.graphite.URL)
	}
	if cs != nil {
		v.Failing, v.Failures, v.Last, v.LastFailure = cs.Failing, cs.Failures, cs.Last, cs.LastFailure
	}
	return v
}

// Services lists every service with its checks.
func (e *Engine) Services() []ServiceView {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []ServiceView{}
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
	def := e.services[name]
	svc := def.cfg
	ss := e.st.Services[name]
	now := e.opts.Now()
	duty, src := e.rota.OnCall(now)
	sms, calls := e.recipientsLocked(svc, now)
	v := ServiceView{Name: name, Status: ss.Status, URL: svc.URL, Runbook: svc.Runbook, Maintenance: inMaintenance(svc, now),
		AlertsEnabled: svc.AlertsEnabled == nil || *svc.AlertsEnabled, Channels: e.channelsLocked(svc),
		Webhook: redact.URL(svc.Webhook), Notify: nonNil(svc.Notify), OnCall: nonNil(duty), OnCallSource: src,
		Paged: Paged{SMS: nonNil(sms), Call: nonNil(calls)}, Unpaged: ss.Unpaged,
		Source: SourceAPI, ReadOnly: def.fromFile, Checks: []CheckView{}}
	if def.fromFile {
		v.Source = SourceConfig
	}
	if now.Before(ss.AckUntil) {
		t, at := ss.AckUntil, ss.AckAt
		v.AckUntil, v.AckBy = &t, ss.AckBy
		if !at.IsZero() {
			v.AckAt = &at
		}
	}
	for _, c := range svc.Checks {
		if e.checks[c.Name] != nil {
			v.Checks = append(v.Checks, e.checkViewLocked(c.Name))
		}
	}
	if history {
		v.History = ss.History
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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
	return append([]Result{}, e.st.Checks[name].History...), true
}

// Alerts returns sent alerts, newest first.
func (e *Engine) Alerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, len(e.st.Alerts))
	for i, a := range e.st.Alerts {
		out[len(out)-1-i] = redactAlert(a)
	}
	return out
}

// redactAlert keeps webhook secrets out of alerts recorded before obs
// redacted them as it sent.
func redactAlert(a Alert) Alert {
	chs := make([]ChannelResult, len(a.Channels))
	for i, ch := range a.Channels {
		if ch.Channel == "webhook" {
			ch.Error = redact.String(ch.Error, []string{ch.To})
			ch.To = redact.URL(ch.To)
		}
		chs[i] = ch
	}
	a.Channels = chs
	return a
}

// OnCallView is who is on call now and in the coming shifts.
type OnCallView struct {
	Now      []string `json:"now"`
	Source   string   `json:"source,omitempty"` // calendar, rotation, fallback; "" nobody
	Fallback string   `json:"fallback,omitempty"`
	// Rota is where shifts come from: calendar, rotation or none.
	Rota     string                 `json:"rota"`
	Calendar *oncall.CalendarStatus `json:"calendar,omitempty"`
	Shifts   []oncall.Shift         `json:"shifts"`
	// Unmatched are calendar titles that name no user: shifts nobody gets.
	Unmatched []string `json:"unmatched_titles,omitempty"`
}

// OnCall says who is on call now and lists the shifts in [now, until).
func (e *Engine) OnCall(until time.Time) OnCallView {
	e.mu.Lock()
	rota, cal, fallback := e.rota, e.cal, e.cfg.Fallback
	hasRotation := e.cfg.Rotation != nil
	e.mu.Unlock()
	now := e.opts.Now()
	v := OnCallView{Fallback: fallback, Rota: "none"}
	v.Now, v.Source = rota.OnCall(now)
	v.Now = nonNil(v.Now)
	v.Shifts, v.Unmatched = rota.Shifts(now, until)
	if v.Shifts == nil {
		v.Shifts = []oncall.Shift{}
	}
	switch {
	case cal != nil:
		v.Rota = oncall.SourceCalendar
		st := cal.Status()
		st.URL = redact.Origin(cal.URL())
		v.Calendar = &st
	case hasRotation:
		v.Rota = oncall.SourceRotation
	}
	return v
}
