// Package alert is Cabot's job in the binary: services with checks (HTTP,
// metric, log, TCP) run on a schedule, a service's status is the most
// severe importance among its failing checks, and status changes page the
// people on call by SMS and phone call through Twilio, a webhook or the log,
// with Cabot's reminder, acknowledgement and recovery rules. State survives
// restarts under <data>/alerts.
package alert

import (
	"fmt"
	"strings"
	"time"
)

// Status is a service or check status, ordered by severity.
type Status int

const (
	Passing Status = iota
	Warning
	Error
	Critical
)

func (s Status) String() string {
	return [...]string{"PASSING", "WARNING", "ERROR", "CRITICAL"}[s]
}

// MarshalText makes statuses read as their names in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status name.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseImportance(string(b))
	if err != nil && strings.ToUpper(string(b)) != "PASSING" {
		return err
	}
	*s = v
	return nil
}

// ParseImportance reads warning / error / critical (default error).
func ParseImportance(s string) (Status, error) {
	switch strings.ToLower(s) {
	case "", "error":
		return Error, nil
	case "warning":
		return Warning, nil
	case "critical":
		return Critical, nil
	case "passing":
		return Passing, nil
	}
	return Error, fmt.Errorf("importance %q is not warning, error or critical", s)
}

// Result is one run of a check.
type Result struct {
	Check      string    `json:"check"`
	Time       time.Time `json:"time"`
	OK         bool      `json:"ok"`
	Reason     string    `json:"reason,omitempty"`
	ResponseMs float64   `json:"response_ms"`
	Value      *float64  `json:"value,omitempty"`
}

// ChannelResult is what one channel said when an alert went out.
type ChannelResult struct {
	Channel string `json:"channel"`
	To      string `json:"to,omitempty"`
	OK      bool   `json:"ok"`
	SID     string `json:"sid,omitempty"` // Twilio's message or call SID
	Error   string `json:"error,omitempty"`
	Code    int    `json:"code,omitempty"` // Twilio error code
}

// Alert is one notification about a service.
type Alert struct {
	ID       int64           `json:"id"`
	Time     time.Time       `json:"time"`
	Service  string          `json:"service"`
	Status   Status          `json:"status"`
	Previous Status          `json:"previous"`
	Kind     string          `json:"kind"` // alert, reminder, recovery, test
	Message  string          `json:"message"`
	Channels []ChannelResult `json:"channels"`
}
