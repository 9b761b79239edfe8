package oncall

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // TZIDs in feeds (Europe/London...) resolve on machines without zoneinfo

	ical "github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Limits that keep a hostile or broken feed from costing more than a rota
// is worth.
const (
	maxFeedBytes      = 10 << 20
	maxEvents         = 20000
	maxOccurrences    = 100000 // rule iterations per recurring event and expansion
	maxShiftsReturned = 50000
	// expandBudget bounds one expansion: rrule-go searches a rule that can
	// never match (BYMONTHDAY=30 in February) up to the year 9999, about a
	// second for an hourly one; the events not reached are reported.
	expandBudget = 2 * time.Second
)

// Feed is a parsed iCal calendar: single events, recurring ones with their
// rules, and overrides (RECURRENCE-ID) that replace one occurrence.
type Feed struct {
	events   []event
	overrode map[string]map[int64]bool // uid -> original starts (unix s) replaced or cancelled
	// Problems are events that could not be read; the rest of the feed is used.
	Problems []string
}

type event struct {
	uid     string
	title   string
	start   time.Time
	dur     time.Duration
	rule    *rrule.ROption // nil: a single event
	exdates []time.Time
	rdates  []time.Time
	cancel  bool
	isOver  bool // an override of one occurrence of uid
	overRef time.Time
}

// ParseFeed reads an iCal document with go-ical; recurrence is expanded
// later (Expand) with rrule-go. Events that cannot be read are listed in
// Problems, not fatal: one bad event must not take the whole rota away.
func ParseFeed(b []byte) (*Feed, error) {
	if len(b) > maxFeedBytes {
		return nil, fmt.Errorf("calendar is %d bytes, more than the %d obs reads", len(b), maxFeedBytes)
	}
	cal, err := decodeCalendar(b)
	if err != nil {
		return nil, fmt.Errorf("parse iCal: %w", err)
	}
	f := &Feed{overrode: map[string]map[int64]bool{}}
	// Floating times (no zone) are the calendar's own zone where it names
	// one (Google's X-WR-TIMEZONE), else this machine's, as Cabot reads
	// them in its own time zone.
	loc := time.Local
	if tz, err := cal.Props.Text("X-WR-TIMEZONE"); err == nil && tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	evs := cal.Events()
	if len(evs) > maxEvents {
		return nil, fmt.Errorf("calendar has %d events, more than the %d obs reads", len(evs), maxEvents)
	}
	for i := range evs {
		ev, err := readEvent(&evs[i], loc)
		if err != nil {
			uid, _ := evs[i].Props.Text(ical.PropUID)
			f.Problems = append(f.Problems, fmt.Sprintf("event %q: %v", uid, err))
			continue
		}
		if ev.isOver {
			if f.overrode[ev.uid] == nil {
				f.overrode[ev.uid] = map[int64]bool{}
			}
			f.overrode[ev.uid][ev.overRef.Unix()] = true
		}
		if !ev.cancel {
			f.events = append(f.events, ev)
		}
	}
	return f, nil
}

// decodeCalendar turns go-ical's panics on malformed input into errors:
// a feed comes from the network.
func decodeCalendar(b []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			cal, err = nil, fmt.Errorf("malformed calendar: %v", r)
		}
	}()
	return ical.NewDecoder(bytes.NewReader(b)).Decode()
}

func readEvent(e *ical.Event, loc *time.Location) (event, error) {
	var ev event
	ev.uid, _ = e.Props.Text(ical.PropUID)
	ev.title, _ = e.Props.Text(ical.PropSummary)
	if st, err := e.Status(); err == nil && st == ical.EventCancelled {
		ev.cancel = true
	}
	start, err := e.DateTimeStart(loc)
	if err != nil {
		return ev, fmt.Errorf("DTSTART: %w", err)
	}
	if start.IsZero() {
		return ev, errors.New("no DTSTART")
	}
	end, err := e.DateTimeEnd(loc)
	if err != nil {
		return ev, fmt.Errorf("DTEND: %w", err)
	}
	ev.start, ev.dur = start, end.Sub(start)
	if ev.dur < 0 {
		return ev, errors.New("DTEND is before DTSTART")
	}
	if p := e.Props.Get(ical.PropRecurrenceID); p != nil {
		ref, err := p.DateTime(loc)
		if err != nil {
			return ev, fmt.Errorf("RECURRENCE-ID: %w", err)
		}
		ev.isOver, ev.overRef = true, ref
		return ev, nil
	}
	if e.Props.Get(ical.PropRecurrenceRule) == nil {
		return ev, nil
	}
	// The rule set is built here rather than with go-ical's RecurrenceSet,
	// which reads RDATE from the EXDATE property and one date per line:
	// feeds put several comma-separated dates on one EXDATE line.
	opt, err := e.Props.RecurrenceRule()
	if err != nil {
		return ev, fmt.Errorf("RRULE: %w", err)
	}
	if opt.Freq == rrule.SECONDLY || opt.Freq == rrule.MINUTELY {
		return ev, errors.New("RRULE repeats more often than hourly: no rota has shifts that short")
	}
	if opt.Interval < 0 || strings.Contains(strings.ToUpper(e.Props.Get(ical.PropRecurrenceRule).Value), "INTERVAL=0") {
		return ev, errors.New("RRULE INTERVAL must be at least 1")
	}
	if start.Year() < 1900 {
		return ev, errors.New("a recurring event starting before 1900 is not a rota")
	}
	opt.Dtstart = start
	if _, err := rrule.NewRRule(*opt); err != nil {
		return ev, fmt.Errorf("RRULE: %w", err)
	}
	for _, name := range []string{ical.PropExceptionDates, ical.PropRecurrenceDates} {
		for _, p := range e.Props[name] {
			for _, v := range strings.Split(p.Value, ",") {
				one := p
				one.Value = strings.TrimSpace(v)
				t, err := one.DateTime(loc)
				if err != nil {
					return ev, fmt.Errorf("%s: %w", name, err)
				}
				if name == ical.PropExceptionDates {
					ev.exdates = append(ev.exdates, t)
				} else {
					ev.rdates = append(ev.rdates, t)
				}
			}
		}
	}
	ev.rule = opt
	return ev, nil
}

// ruleSet builds an event's recurrence for an expansion that ends at to.
func (ev event) ruleSet(to time.Time) *rrule.Set {
	opt := *ev.rule
	if opt.Until.IsZero() || opt.Until.After(to) {
		opt.Until = to
	}
	rule, err := rrule.NewRRule(opt)
	if err != nil {
		return nil // checked when the feed was read
	}
	set := &rrule.Set{}
	set.RRule(rule)
	set.DTStart(ev.start)
	for _, t := range ev.exdates {
		set.ExDate(t)
	}
	for _, t := range ev.rdates {
		set.RDate(t)
	}
	return set
}

// Expand lists the shifts that overlap [from, to): each event occurrence
// whose title is a user's name (trimmed, any case, as Cabot matches
// usernames). users maps lower-cased names to the names obs uses.
// Titles that name nobody are returned once each in unmatched. left is
// the number of events left out: the expansion ran out of time, or
// rrule-go failed on the event's rule.
func (f *Feed) Expand(from, to time.Time, users map[string]string) (shifts []Shift, unmatched []string, left int) {
	seen := map[string]bool{}
	deadline := time.Now().Add(expandBudget)
	add := func(ev event, start time.Time) {
		end := start.Add(ev.dur)
		if !end.After(from) || !start.Before(to) || len(shifts) >= maxShiftsReturned {
			return
		}
		name, ok := users[strings.ToLower(strings.TrimSpace(ev.title))]
		if !ok {
			if !seen[ev.title] {
				seen[ev.title] = true
				unmatched = append(unmatched, ev.title)
			}
			return
		}
		shifts = append(shifts, Shift{User: name, Start: start, End: end})
	}
	for i, ev := range f.events {
		if time.Now().After(deadline) {
			left = len(f.events) - i
			break
		}
		if ev.rule == nil {
			add(ev, ev.start)
			continue
		}
		if !expandRule(ev, f.overrode[ev.uid], to, add) {
			left++
		}
	}
	sort.Slice(shifts, func(i, j int) bool {
		if !shifts[i].Start.Equal(shifts[j].Start) {
			return shifts[i].Start.Before(shifts[j].Start)
		}
		return shifts[i].User < shifts[j].User
	})
	sort.Strings(unmatched)
	return shifts, unmatched, left
}

// expandRule calls add for each occurrence of a recurring event before to
// that no override replaced. A panic inside rrule-go (found by fuzzing:
// rules it does not expect) leaves this one event out, not the rota.
func expandRule(ev event, over map[int64]bool, to time.Time, add func(event, time.Time)) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	set := ev.ruleSet(to)
	if set == nil {
		return false
	}
	next := set.Iterator()
	for i := 0; i < maxOccurrences; i++ {
		t, more := next()
		if !more || !t.Before(to) {
			break
		}
		if over[t.Unix()] {
			continue // replaced by its override, or cancelled
		}
		add(ev, t)
	}
	return true
}
