// Package alert is Cabot's job in the binary: services with checks (HTTP,
// metric, log, TCP) run on a schedule, a service's status is the most
// severe importance among its failing checks, and status changes page the
// people on call by SMS and phone call through Twilio, a webhook or the log,
// with Cabot's reminder, acknowledgement and recovery rules. State survives
// restarts under <data>/alerts.
package alert

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
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
	// Value is what a metric or log check measured; absent when there was
	// nothing to measure (no data).
	Value *Value `json:"value,omitempty"`
	// RawData is the start of what a failing check saw (an HTTP body, a
	// Graphite answer), as Cabot's raw_data: RawDataLimit characters.
	RawData string `json:"raw_data,omitempty"`
}

// RawDataLimit is Cabot's RAW_DATA_LIMIT, in characters.
const RawDataLimit = 5000

// rawData keeps the first RawDataLimit characters of b as valid UTF-8.
func rawData(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	n := 0
	for i := range s {
		if n == RawDataLimit {
			return s[:i]
		}
		n++
	}
	return s
}

// Value is a measured number. JSON has no NaN or infinities, and a metric
// can hold them (Graphite's divideSeries by zero, a gauge set to 1e309), so
// they are written as the strings "NaN", "+Inf" and "-Inf": the state file
// and the API must encode whatever a check produced.
type Value float64

// MarshalJSON writes finite values as numbers, the others as strings.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *Value) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return fmt.Errorf("bad value %s: %w", b, err)
	}
	*v = Value(f)
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func valuePtr(f float64) *Value {
	v := Value(f)
	return &v
}

// ChannelResult is what one channel said when an alert went out.
type ChannelResult struct {
	Channel string `json:"channel"`
	User    string `json:"user,omitempty"` // the user paged (sms, call)
	To      string `json:"to,omitempty"`   // a phone number, or a webhook URL (redacted)
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
