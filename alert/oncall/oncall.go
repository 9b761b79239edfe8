// Package oncall says who is on call when: Cabot's duty officers, from a
// round-robin rotation or from an iCal calendar (Cabot's CALENDAR_ICAL_URL),
// and the fallback officer for any time no shift covers.
package oncall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/obs-dev/obs/alert/atomicfile"
	"github.com/obs-dev/obs/configs"
)

// Shift is a span of time [Start, End) in which User is on call.
type Shift struct {
	User  string    `json:"user"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Sources of the duty officers.
const (
	SourceCalendar = "calendar"
	SourceRotation = "rotation"
	SourceFallback = "fallback"
)

// RotationShifts lists the rotation's turns that overlap [from, to):
// users take turns of one period each from start. Before start no turn
// covers the time (the fallback officer does).
func RotationShifts(r *configs.RotationConfig, from, to time.Time) []Shift {
	if r == nil || len(r.Users) == 0 || r.Period <= 0 || !to.After(from) {
		return nil
	}
	p := r.Period.D()
	n := int64(0)
	if from.After(r.Start) {
		n = int64(from.Sub(r.Start) / p)
	}
	var out []Shift
	for ; len(out) < maxShiftsReturned; n++ {
		start, end := r.Start.Add(time.Duration(n)*p), r.Start.Add(time.Duration(n+1)*p)
		if !start.Before(to) {
			break
		}
		out = append(out, Shift{User: r.Users[n%int64(len(r.Users))], Start: start, End: end})
	}
	return out
}

// Calendar keeps the last good copy of an iCal feed, fetched on a schedule.
// A failed fetch keeps the copy (and says so in Status); the copy is also
// kept on disk so that a restart while the feed is unreachable still knows
// the rota.
type Calendar struct {
	url     string
	refresh time.Duration
	cache   string
	client  *http.Client
	log     *slog.Logger

	mu      sync.Mutex
	feed    *Feed
	fetched time.Time // of the copy in use
	tried   time.Time
	lastErr error
	// The feed expanded over [lo, hi) for the users in key, at built:
	// questions about who is on call are answered from it.
	exp expansion
}

type expansion struct {
	key       string
	lo, hi    time.Time
	built     time.Time
	shifts    []Shift
	unmatched []string
	left      int
}

// The expansion covers this much around now, and is rebuilt every refresh.
const (
	expandBefore = 35 * 24 * time.Hour
	expandAfter  = 400 * 24 * time.Hour
)

// CalendarStatus is what the API shows about the feed.
type CalendarStatus struct {
	URL       string     `json:"url"` // redacted by the caller
	Fetched   *time.Time `json:"fetched,omitempty"`
	LastTry   *time.Time `json:"last_try,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	Problems  []string   `json:"problems,omitempty"`
}

// NewCalendar reads the cached copy at cachePath, if any; Run fetches.
func NewCalendar(url string, refresh time.Duration, cachePath string, log *slog.Logger) *Calendar {
	c := &Calendar{url: url, refresh: refresh, cache: cachePath, log: log, client: &http.Client{Timeout: 30 * time.Second}}
	if b, err := os.ReadFile(cachePath); err == nil {
		if f, err := ParseFeed(b); err == nil {
			st, _ := os.Stat(cachePath)
			c.feed, c.fetched = f, st.ModTime()
		} else {
			log.Warn("cached on-call calendar unreadable; waiting for the feed", "path", cachePath, "err", err)
		}
	}
	return c
}

// URL is the feed's address (with its secrets; redact before showing it).
func (c *Calendar) URL() string { return c.url }

// Run fetches now and then every refresh until ctx ends.
func (c *Calendar) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.Fetch(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("on-call calendar fetch failed; keeping the last good copy", "err", err)
		}
		t.Reset(c.refresh)
	}
}

// Fetch reads the feed once; on success it replaces the copy in use.
func (c *Calendar) Fetch(ctx context.Context) error {
	f, raw, err := c.get(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tried, c.lastErr = time.Now(), err
	if err != nil {
		return err
	}
	c.feed, c.fetched, c.exp = f, c.tried, expansion{}
	if err := atomicfile.Write(c.cache, raw); err != nil {
		c.log.Warn("cannot keep a copy of the on-call calendar", "err", err)
	}
	return nil
}

// get fetches and parses the feed. Errors leave the URL out: calendar
// feed addresses are often secret (Google's private address).
func (c *Calendar) get(ctx context.Context) (*Feed, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url, nil)
	if err != nil {
		return nil, nil, errors.New("bad calendar URL")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("fetch calendar: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, nil, fmt.Errorf("fetch calendar: HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read calendar: %w", err)
	}
	f, err := ParseFeed(b)
	if err != nil {
		return nil, nil, err
	}
	return f, b, nil
}

// Shifts lists the shifts of the copy in use that overlap [from, to).
func (c *Calendar) Shifts(from, to time.Time, users map[string]string) ([]Shift, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.feed == nil {
		return nil, nil
	}
	names := make([]string, 0, len(users))
	for k, v := range users {
		names = append(names, k+"="+v)
	}
	sort.Strings(names)
	key := strings.Join(names, ",")
	now := time.Now()
	if c.exp.key != key || from.Before(c.exp.lo) || to.After(c.exp.hi) || now.Sub(c.exp.built) > c.refresh || c.exp.built.IsZero() {
		lo, hi := now.Add(-expandBefore), now.Add(expandAfter)
		if from.Before(lo) {
			lo = from
		}
		if to.After(hi) {
			hi = to
		}
		shifts, unmatched, left := c.feed.Expand(lo, hi, users)
		if left > 0 {
			c.log.Error("on-call calendar too costly to expand; events left out", "left_out", left)
		}
		c.exp = expansion{key: key, lo: lo, hi: hi, built: now, shifts: shifts, unmatched: unmatched, left: left}
	}
	var out []Shift
	for _, s := range c.exp.shifts {
		if s.End.After(from) && s.Start.Before(to) {
			out = append(out, s)
		}
	}
	return out, c.exp.unmatched
}

// Status says when the copy in use was fetched and what went wrong since.
func (c *Calendar) Status() CalendarStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CalendarStatus{}
	if !c.fetched.IsZero() {
		t := c.fetched
		s.Fetched = &t
	}
	if !c.tried.IsZero() {
		t := c.tried
		s.LastTry = &t
	}
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
	}
	if c.feed != nil {
		s.Problems = c.feed.Problems
	}
	if c.exp.left > 0 {
		s.Problems = append(append([]string(nil), s.Problems...), fmt.Sprintf("%d events left out: the calendar takes too long to expand (a rule that never matches?) or has rules obs cannot expand", c.exp.left))
	}
	return s
}

// Rota answers who is on call, from the rotation or the calendar, with the
// fallback officer for uncovered time.
type Rota struct {
	Rotation *configs.RotationConfig
	Calendar *Calendar
	Fallback string
	users    map[string]string // lower-cased -> as configured
}

// NewRota builds a rota over cfg's users.
func NewRota(cfg configs.Config, cal *Calendar) *Rota {
	r := &Rota{Rotation: cfg.Rotation, Calendar: cal, Fallback: cfg.Fallback, users: map[string]string{}}
	for _, u := range cfg.Users {
		r.users[strings.ToLower(u.Name)] = u.Name
	}
	if f, ok := r.users[strings.ToLower(cfg.Fallback)]; ok {
		r.Fallback = f
	}
	return r
}

// Shifts lists the shifts overlapping [from, to), and the calendar titles
// that name no user.
func (r *Rota) Shifts(from, to time.Time) ([]Shift, []string) {
	if r.Calendar != nil {
		return r.Calendar.Shifts(from, to, r.users)
	}
	return RotationShifts(r.Rotation, from, to), nil
}

// OnCall returns the duty officers at t (everyone whose shift covers t;
// shifts may overlap) and where they came from. With no shift, the
// fallback officer; with no fallback either, nobody.
func (r *Rota) OnCall(t time.Time) ([]string, string) {
	shifts, _ := r.Shifts(t, t.Add(time.Nanosecond))
	var names []string
	seen := map[string]bool{}
	for _, s := range shifts {
		if !t.Before(s.Start) && t.Before(s.End) && !seen[s.User] {
			seen[s.User] = true
			names = append(names, s.User)
		}
	}
	switch {
	case len(names) > 0 && r.Calendar != nil:
		return names, SourceCalendar
	case len(names) > 0:
		return names, SourceRotation
	case r.Fallback != "":
		return []string{r.Fallback}, SourceFallback
	}
	return nil, ""
}
