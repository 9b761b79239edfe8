package alert

import (
	"fmt"
	"time"
)

// Problem is a stretch of time a check failed or a service was not
// passing, as Cabot's check report lists them.
type Problem struct {
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"` // nil: still going on
	// Duration runs to End, or to the report's end while it goes on.
	Duration        string  `json:"duration"`
	DurationSeconds float64 `json:"duration_seconds"`
	Worst           Status  `json:"worst_status"`
}

// Report is a check's or a service's record over [From, To).
type Report struct {
	Name string    `json:"name"`
	Kind string    `json:"kind"` // check or service
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// UptimePercent is, for a check, the share of its runs in the range
	// that passed (Cabot's success rate); for a service, the share of the
	// watched time it was PASSING. nil when nothing is known of the range.
	UptimePercent *float64  `json:"uptime_percent"`
	Runs          int       `json:"runs,omitempty"`
	Problems      []Problem `json:"problems"`
	Checks        []Report  `json:"checks,omitempty"` // a service's checks
}

func problem(start time.Time, end *time.Time, reportEnd time.Time, worst Status) Problem {
	stop := reportEnd
	if end != nil {
		stop = *end
	}
	d := max(stop.Sub(start), 0)
	return Problem{Start: start, End: end, Duration: d.Round(time.Second).String(), DurationSeconds: d.Seconds(), Worst: worst}
}

// CheckReport is a check's uptime and problems over [from, to), from its
// run-length record: a problem runs from the first failure to the next
// success, as Cabot's report pairs them.
func (e *Engine) CheckReport(name string, from, to time.Time) (Report, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.checks[name]
	if c == nil {
		return Report{}, fmt.Errorf("no check named %q: %w", name, ErrNotFound)
	}
	return e.checkReportLocked(c, from, to), nil
}

func (e *Engine) checkReportLocked(c *Check, from, to time.Time) Report {
	rep := Report{Name: c.Name, Kind: "check", From: from, To: to, Problems: []Problem{}}
	runs := e.st.Checks[c.Name].Runs
	var ok, total float64
	for i, r := range runs {
		if r.Last.Before(from) || !r.Start.Before(to) {
			continue
		}
		// A run that straddles the range counts in proportion to its
		// overlap: results are evenly spaced by the check's interval.
		n := float64(r.N)
		if span := r.Last.Sub(r.Start); span > 0 && (r.Start.Before(from) || !r.Last.Before(to)) {
			lo, hi := maxTime(r.Start, from), minTime(r.Last, to)
			n = max(1, float64(r.N)*float64(hi.Sub(lo))/float64(span))
		}
		total += n
		if r.OK {
			ok += n
			continue
		}
		var end *time.Time
		if i+1 < len(runs) {
			t := runs[i+1].Start
			end = &t
		}
		rep.Problems = append(rep.Problems, problem(r.Start, end, minTime(to, e.opts.Now()), c.Importance))
	}
	rep.Runs = int(total + 0.5)
	if total > 0 {
		p := ok / total * 100
		rep.UptimePercent = &p
	}
	return rep
}

// ServiceReport is a service's uptime and problems over [from, to), from
// its status history, with a report for each of its checks. A problem runs
// from leaving PASSING to coming back, and its worst status is the most
// severe in between.
func (e *Engine) ServiceReport(name string, from, to time.Time) (Report, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	def := e.services[name]
	if def == nil {
		return Report{}, fmt.Errorf("no service named %q: %w", name, ErrNotFound)
	}
	ss := e.st.Services[name]
	rep := Report{Name: name, Kind: "service", From: from, To: to, Problems: []Problem{}}
	end := minTime(to, e.opts.Now())
	watched := ss.Since
	if len(ss.History) > 0 && (watched.IsZero() || ss.History[0].Time.Before(watched)) {
		watched = ss.History[0].Time
	}
	start := maxTime(from, watched)
	if !watched.IsZero() && end.After(start) {
		var up time.Duration
		status, at := Passing, watched
		var cur *Problem
		flush := func(until time.Time) {
			lo, hi := maxTime(at, start), minTime(until, end)
			if status == Passing && hi.After(lo) {
				up += hi.Sub(lo)
			}
		}
		for _, ch := range ss.History {
			flush(ch.Time)
			switch {
			case status == Passing && ch.Status != Passing:
				cur = &Problem{Start: ch.Time, Worst: ch.Status}
			case cur != nil && ch.Status == Passing:
				t := ch.Time
				if t.After(start) {
					rep.Problems = append(rep.Problems, problem(cur.Start, &t, end, cur.Worst))
				}
				cur = nil
			case cur != nil:
				cur.Worst = max(cur.Worst, ch.Status)
			}
			status, at = ch.Status, ch.Time
		}
		flush(end)
		if cur != nil && cur.Start.Before(end) {
			rep.Problems = append(rep.Problems, problem(cur.Start, nil, end, cur.Worst))
		}
		p := float64(up) / float64(end.Sub(start)) * 100
		rep.UptimePercent = &p
	}
	for _, c := range def.cfg.Checks {
		if ck := e.checks[c.Name]; ck != nil {
			rep.Checks = append(rep.Checks, e.checkReportLocked(ck, from, to))
		}
	}
	return rep, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
