package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/obs-dev/obs/alert/redact"
	"github.com/obs-dev/obs/configs"
)

// canonLocked maps a user name as written (any case, as notify lists and
// calendar titles are matched) to the name under users; "" if none.
func (e *Engine) canonLocked(name string) string {
	for _, u := range e.cfg.Users {
		if strings.EqualFold(u.Name, name) {
			return u.Name
		}
	}
	return ""
}

// recipientsLocked says who is paged about svc at t, by
// cabot-alert-twilio's rules: texts go to the service's notify users and
// the duty officers, calls to the duty officers only. The duty officers
// are whoever the rota has on call, else the fallback officer.
func (e *Engine) recipientsLocked(svc configs.ServiceConfig, t time.Time) (sms, calls []string) {
	duty, _ := e.rota.OnCall(t)
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), svc.Notify...), duty...) {
		if c := e.canonLocked(n); c != "" && !seen[c] {
			seen[c] = true
			sms = append(sms, c)
		}
	}
	for _, n := range duty {
		if c := e.canonLocked(n); c != "" {
			calls = append(calls, c)
		}
	}
	return sms, calls
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

// nobodyReason is what an alert that reached nobody records.
const nobodyReason = "nobody to page: the service notifies nobody, no shift is on call now and there is no fallback officer"

// callText is what the phone call says: Cabot's TwiML in substance.
func callText(service string, status Status) string {
	return fmt.Sprintf("This is an urgent message from obs monitoring. Service %s is reporting %s status. Please check obs urgently.",
		service, strings.ToLower(status.String()))
}

// send delivers an alert on every channel in the background and records
// what each channel answered. One channel failing does not stop the
// others. An alert that has SMS or call channels but nobody to page is
// logged as an error, counted, and shown on the service.
func (e *Engine) send(a *Alert) {
	e.mu.Lock()
	def := e.services[a.Service]
	if def == nil {
		e.mu.Unlock()
		return
	}
	svc := def.cfg
	channels := e.channelsLocked(svc)
	smsTo, callTo := e.recipientsLocked(svc, a.Time)
	phones := make(map[string]string, len(e.users))
	for k, v := range e.users {
		phones[k] = v
	}
	link := e.link(a.Service)
	e.mu.Unlock()
	e.sends.Add(1)
	go func() {
		defer e.sends.Done()
		var results []ChannelResult
		pageable, paged := false, 0
		for _, ch := range channels {
			switch ch {
			case "sms":
				pageable = true
				for _, u := range smsTo {
					results = append(results, e.sms(u, phones[u], a.Message))
					paged++
				}
				if len(smsTo) == 0 {
					results = append(results, ChannelResult{Channel: "sms", Error: nobodyReason})
				}
			case "call":
				if a.Status != Critical {
					continue // calls are for CRITICAL only
				}
				pageable = true
				for _, u := range callTo {
					results = append(results, e.call(u, phones[u], callText(a.Service, a.Status)))
					paged++
				}
				if len(callTo) == 0 {
					results = append(results, ChannelResult{Channel: "call", Error: "nobody on call to phone: calls go to the duty officers only"})
				}
			case "webhook":
				results = append(results, e.webhook(svc.Webhook, a, link))
			case "log":
				fmt.Fprintf(e.opts.Out, "ALERT %s %s: %s\n", a.Time.UTC().Format(time.RFC3339), a.Kind, strings.ReplaceAll(a.Message, "\n", " | "))
				results = append(results, ChannelResult{Channel: "log", OK: true})
			}
		}
		a.Channels = results
		e.mu.Lock()
		defer e.mu.Unlock()
		if ss := e.st.Services[a.Service]; ss != nil && pageable {
			if paged == 0 {
				e.log.Error("alert with nobody to page", "service", a.Service, "kind", a.Kind, "status", a.Status.String(), "alert_id", a.ID)
				e.m.unpaged.WithLabelValues(a.Service).Inc()
				ss.Unpaged = &PagingProblem{Time: a.Time, Alert: a.ID, Reason: nobodyReason}
			} else {
				ss.Unpaged = nil
			}
		}
		e.m.sent.WithLabelValues(a.Kind).Inc()
		e.recordLocked(*a)
		e.saveLocked()
	}()
}

func (e *Engine) recordLocked(a Alert) {
	e.st.Alerts = append(e.st.Alerts, a)
	if len(e.st.Alerts) > keepAlerts {
		e.st.Alerts = e.st.Alerts[len(e.st.Alerts)-keepAlerts:]
	}
}

// phoneChannel sends one SMS or call to a user through Twilio.
func (e *Engine) phoneChannel(channel, user, phone string, send func(*Twilio) (string, error)) ChannelResult {
	if phone == "" {
		return ChannelResult{Channel: channel, User: user, Error: "user " + user + " has no phone number"}
	}
	if e.opts.Twilio == nil {
		return ChannelResult{Channel: channel, User: user, To: phone, Error: "twilio is not configured"}
	}
	sid, err := send(e.opts.Twilio)
	if err != nil {
		e.log.Error("twilio "+channel, "user", user, "to", phone, "err", err)
	}
	r := channelResult(channel, phone, sid, err)
	r.User = user
	return r
}

func (e *Engine) sms(user, phone, msg string) ChannelResult {
	return e.phoneChannel("sms", user, phone, func(t *Twilio) (string, error) { return t.SMS(phone, msg) })
}

func (e *Engine) call(user, phone, text string) ChannelResult {
	return e.phoneChannel("call", user, phone, func(t *Twilio) (string, error) { return t.Call(phone, text) })
}

// webhook posts the alert as JSON with a Slack-compatible "text" field.
// The URL's query string (where such hooks keep their key) never shows in
// the result or its error.
func (e *Engine) webhook(hook string, a *Alert, link string) ChannelResult {
	body, _ := json.Marshal(map[string]any{"text": a.Message, "service": a.Service, "status": a.Status,
		"previous": a.Previous, "kind": a.Kind, "url": link, "time": a.Time})
	res := ChannelResult{Channel: "webhook", To: redact.URL(hook)}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(hook, "application/json", bytes.NewReader(body))
	if err != nil {
		res.Error = redact.String(err.Error(), []string{hook})
		e.log.Error("webhook", "url", res.To, "err", res.Error)
		return res
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		res.Error = resp.Status
		return res
	}
	res.OK = true
	return res
}

// SendTest texts (and with call, phones) configured users by name,
// recorded as a test alert. It never takes a number: a request must not be
// able to make obs's Twilio account text or call whoever it names.
func (e *Engine) SendTest(names []string, call bool) (Alert, error) {
	e.mu.Lock()
	var users []string
	var unknown []string
	for _, n := range names {
		if c := e.canonLocked(n); c != "" {
			users = append(users, c)
		} else {
			unknown = append(unknown, n)
		}
	}
	var known []string
	for _, u := range e.cfg.Users {
		known = append(known, u.Name)
	}
	phones := make(map[string]string, len(e.users))
	for k, v := range e.users {
		phones[k] = v
	}
	e.mu.Unlock()
	sort.Strings(known)
	switch {
	case len(known) == 0:
		return Alert{}, fmt.Errorf("%w: no users are configured (users: in obs.yaml)", ErrInvalid)
	case len(unknown) > 0:
		return Alert{}, fmt.Errorf("%w: no user named %s; users: %s", ErrInvalid, strings.Join(unknown, ", "), strings.Join(known, ", "))
	case len(users) == 0:
		return Alert{}, fmt.Errorf("%w: name at least one user to page (users: %s)", ErrInvalid, strings.Join(known, ", "))
	}
	a := Alert{Time: e.opts.Now(), Kind: "test", Service: "obs", Message: "This is a test alert from obs."}
	for _, u := range users {
		a.Channels = append(a.Channels, e.sms(u, phones[u], a.Message))
		if call {
			a.Channels = append(a.Channels, e.call(u, phones[u], "This is a test call from obs monitoring."))
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.NextID++
	a.ID = e.st.NextID
	e.m.sent.WithLabelValues(a.Kind).Inc()
	e.recordLocked(a)
	e.saveLocked()
	return a, nil
}
