package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/obs-dev/obs/alert/atomicfile"
)

// stateVersion is the format of state.json. 0 (no version field) is the
// format before it: the same fields less last_failure, runs and unpaged,
// and values always numbers; it reads as it is.
const stateVersion = 1

type checkState struct {
	Failures int     `json:"consecutive_failures"`
	Failing  bool    `json:"failing"`
	Last     *Result `json:"last,omitempty"`
	// LastFailure keeps the raw data of the latest failing run after the
	// check has recovered: what went wrong stays readable.
	LastFailure *Result  `json:"last_failure,omitempty"`
	History     []Result `json:"history"` // without raw data
	// Runs are the results run-length encoded, for reports over longer
	// ranges than History holds.
	Runs []Run `json:"runs,omitempty"`
}

// Run is a stretch of consecutive results with the same outcome.
type Run struct {
	Start time.Time `json:"start"` // the first result's time
	Last  time.Time `json:"last"`  // the last result's time
	OK    bool      `json:"ok"`
	N     int       `json:"n"`
}

type serviceState struct {
	// Since is when obs first watched the service (reports start there).
	Since           time.Time      `json:"since,omitzero"`
	Status          Status         `json:"status"`
	LastAlert       time.Time      `json:"last_alert"`
	LastAlertStatus Status         `json:"last_alert_status"`
	AckUntil        time.Time      `json:"ack_until"`
	AckBy           string         `json:"ack_by,omitempty"`
	AckAt           time.Time      `json:"ack_at,omitzero"`
	History         []StatusChange `json:"history"`
	// Unpaged is set while the latest alert reached nobody.
	Unpaged *PagingProblem `json:"unpaged,omitempty"`
}

// PagingProblem says that an alert had nobody to page, and why.
type PagingProblem struct {
	Time   time.Time `json:"time"`
	Alert  int64     `json:"alert_id"`
	Reason string    `json:"reason"`
}

// StatusChange is one point of a service's status history.
type StatusChange struct {
	Time   time.Time `json:"time"`
	Status Status    `json:"status"`
}

type persisted struct {
	Version  int                      `json:"version"`
	Checks   map[string]*checkState   `json:"checks"`
	Services map[string]*serviceState `json:"services"`
	Alerts   []Alert                  `json:"alerts"`
	NextID   int64                    `json:"next_alert_id"`
}

const (
	keepResults = 500
	keepRuns    = 5000
	keepAlerts  = 1000
	keepChanges = 5000
)

func (e *Engine) statePath() string { return filepath.Join(e.opts.DataDir, "state.json") }

// loadState reads state.json. One that cannot be read is moved aside
// (state.json.corrupt-<time>) and obs starts with empty state, saying so on
// /health: alerting must come up even when its history is lost.
func (e *Engine) loadState() error {
	e.st = persisted{Version: stateVersion, Checks: map[string]*checkState{}, Services: map[string]*serviceState{}}
	b, err := os.ReadFile(e.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read alert state: %w", err)
	}
	var st persisted
	if err := json.Unmarshal(b, &st); err != nil || st.Version > stateVersion {
		if err == nil {
			err = fmt.Errorf("written by a newer obs (format %d, this one reads up to %d)", st.Version, stateVersion)
		}
		aside := fmt.Sprintf("%s.corrupt-%s", e.statePath(), e.opts.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(e.statePath(), aside); rerr != nil {
			return fmt.Errorf("alert state %s is unreadable (%v) and cannot be moved aside: %w", e.statePath(), err, rerr)
		}
		e.startProblem = fmt.Sprintf("alert state was unreadable (%v); moved to %s, started without it", err, aside)
		e.log.Error("alert state unreadable; moved aside, starting without it", "err", err, "moved_to", aside)
		return nil
	}
	if st.Checks == nil {
		st.Checks = map[string]*checkState{}
	}
	if st.Services == nil {
		st.Services = map[string]*serviceState{}
	}
	st.Version = stateVersion
	e.st = st
	return nil
}

// saveLocked writes the state atomically. A failure is logged once, kept
// for /health (Err) and retried by the saver loop and every later change.
func (e *Engine) saveLocked() {
	b, err := json.Marshal(&e.st)
	if err != nil {
		err = fmt.Errorf("encode alert state: %w", err)
	} else {
		err = atomicfile.Write(e.statePath(), b)
	}
	if err != nil {
		if e.saveErr == nil || e.saveErr.Error() != err.Error() {
			e.log.Error("alert state not written; retrying", "err", err)
		}
		if e.saveErr == nil {
			e.saveErrSince = e.opts.Now()
		}
		e.saveErr, e.dirty = err, true
		e.m.stateWriteFailures.Inc()
		return
	}
	if e.saveErr != nil {
		e.log.Info("alert state written again", "failing_since", e.saveErrSince)
	}
	e.saveErr, e.dirty = nil, false
}

// retrySaves writes pending results and retries a failed write.
func (e *Engine) retrySaves(stop <-chan struct{}) {
	t := time.NewTicker(e.retryEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		e.mu.Lock()
		if e.dirty {
			e.saveLocked()
		}
		e.mu.Unlock()
	}
}

// Err is why alerting is degraded ("" when it is not), for /health: state
// that cannot be written, state moved aside at start-up, stored services
// that could not be loaded.
func (e *Engine) Err() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var msg string
	add := func(s string) {
		if msg != "" {
			msg += "; "
		}
		msg += s
	}
	if e.saveErr != nil {
		add(fmt.Sprintf("alert state not written since %s: %v", e.saveErrSince.UTC().Format(time.RFC3339), e.saveErr))
	}
	if e.startProblem != "" {
		add(e.startProblem)
	}
	for _, p := range e.defProblems {
		add(p)
	}
	return msg
}
