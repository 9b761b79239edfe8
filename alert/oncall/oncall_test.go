package oncall

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obs-dev/obs/configs"
)

// rota is a week-on, week-off rota as Google Calendar exports it: two
// weekly recurring events, one occurrence moved to carol (an override with
// RECURRENCE-ID), one skipped (EXDATE), an overlapping one-off shift, a
// title that names nobody and a cancelled event.
const rota = "BEGIN:VCALENDAR\r\n" +
	"VERSION:2.0\r\nPRODID:-//obs test//EN\r\nX-WR-TIMEZONE:Europe/London\r\n" +
	"BEGIN:VEVENT\r\nUID:alice-weekly\r\nSUMMARY:Alice\r\nDTSTART;TZID=Europe/London:20261102T090000\r\n" +
	"DTEND;TZID=Europe/London:20261109T090000\r\nRRULE:FREQ=WEEKLY;INTERVAL=2\r\n" +
	"EXDATE;TZID=Europe/London:20261130T090000,20261214T090000\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:bob-weekly\r\nSUMMARY: bob \r\nDTSTART;TZID=Europe/London:20261109T090000\r\n" +
	"DURATION:P7D\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=20\r\nEND:VEVENT\r\n" +
	// bob's turn of 23 Nov goes to carol.
	"BEGIN:VEVENT\r\nUID:bob-weekly\r\nRECURRENCE-ID;TZID=Europe/London:20261123T090000\r\nSUMMARY:carol\r\n" +
	"DTSTART;TZID=Europe/London:20261123T090000\r\nDTEND;TZID=Europe/London:20261130T090000\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:extra\r\nSUMMARY:dave\r\nDTSTART:20261125T120000Z\r\nDTEND:20261125T180000Z\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:party\r\nSUMMARY:Team lunch\r\nDTSTART:20261125T120000Z\r\nDTEND:20261125T130000Z\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:gone\r\nSUMMARY:alice\r\nSTATUS:CANCELLED\r\nDTSTART:20261201T000000Z\r\nDTEND:20261231T000000Z\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

var users = map[string]string{"alice": "alice", "bob": "bob", "carol": "carol", "dave": "dave"}

func london(s string) time.Time {
	l, _ := time.LoadLocation("Europe/London")
	t, err := time.ParseInLocation("2006-01-02 15:04", s, l)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFeedExpansion(t *testing.T) {
	f, err := ParseFeed([]byte(rota))
	if err != nil || len(f.Problems) > 0 {
		t.Fatalf("parse: %v %v", err, f)
	}
	r := &Rota{Calendar: &Calendar{feed: f}, Fallback: "alice", users: users}
	for _, c := range []struct {
		at     time.Time
		want   []string
		source string
	}{
		{london("2026-11-02 09:00"), []string{"alice"}, SourceCalendar},
		{london("2026-11-09 08:59"), []string{"alice"}, SourceCalendar},
		{london("2026-11-09 09:00"), []string{"bob"}, SourceCalendar}, // title " bob " matched trimmed
		{london("2026-11-16 10:00"), []string{"alice"}, SourceCalendar},
		{london("2026-11-23 10:00"), []string{"carol"}, SourceCalendar}, // the override
		{london("2026-11-25 12:30"), []string{"carol", "dave"}, SourceCalendar},
		{london("2026-11-30 10:00"), []string{"alice"}, SourceFallback}, // EXDATE: no shift, the fallback
		{london("2026-12-07 10:00"), []string{"bob"}, SourceCalendar},
		{london("2026-12-14 10:00"), []string{"alice"}, SourceFallback},
		{london("2026-12-28 10:00"), []string{"alice"}, SourceCalendar}, // across the change of UTC offset? (none in Dec) still 09:00 local
		{london("2026-10-01 10:00"), []string{"alice"}, SourceFallback},
	} {
		got, src := r.OnCall(c.at)
		if !reflect.DeepEqual(got, c.want) || src != c.source {
			t.Errorf("%v: %v from %s, want %v from %s", c.at, got, src, c.want, c.source)
		}
	}
	_, unmatched := r.Shifts(london("2026-11-01 00:00"), london("2026-12-01 00:00"))
	if !reflect.DeepEqual(unmatched, []string{"Team lunch"}) {
		t.Fatalf("unmatched %v", unmatched)
	}
}

func TestFeedKeepsLocalTimeAcrossDST(t *testing.T) {
	feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:alice\r\n" +
		"DTSTART;TZID=Europe/London:20260316T090000\r\nDTEND;TZID=Europe/London:20260316T170000\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	f, err := ParseFeed([]byte(feed))
	if err != nil {
		t.Fatal(err)
	}
	// 30 March 2026 is after the clocks went forward: 09:00 BST is 08:00 UTC.
	s, _, _ := f.Expand(london("2026-03-30 00:00"), london("2026-03-31 00:00"), users)
	if len(s) != 1 || !s[0].Start.Equal(time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", s)
	}
}

func TestFeedProblemsAreNotFatal(t *testing.T) {
	feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" +
		"BEGIN:VEVENT\r\nUID:bad\r\nSUMMARY:alice\r\nDTSTART:notadate\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:fast\r\nSUMMARY:alice\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:ok\r\nSUMMARY:bob\r\nDTSTART;VALUE=DATE:20261201\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	f, err := ParseFeed([]byte(feed))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Problems) != 2 {
		t.Fatalf("problems %v", f.Problems)
	}
	// An all-day event is one day long.
	s, _, _ := f.Expand(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(-24*time.Hour), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), users)
	if len(s) != 1 || s[0].End.Sub(s[0].Start) != 24*time.Hour {
		t.Fatalf("%+v", s)
	}
	if _, err := ParseFeed([]byte("not a calendar")); err == nil {
		t.Fatal("want an error")
	}
}

func TestRotationShifts(t *testing.T) {
	r := &configs.RotationConfig{Users: []string{"alice", "bob", "carol"}, Period: configs.Duration(168 * time.Hour),
		Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rota := &Rota{Rotation: r, Fallback: "dave"}
	if got, src := rota.OnCall(r.Start.Add(-time.Hour)); len(got) != 1 || got[0] != "dave" || src != SourceFallback {
		t.Errorf("before the rotation starts: %v %s, want the fallback", got, src)
	}
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{r.Start, "alice"},
		{r.Start.Add(168*time.Hour - time.Second), "alice"},
		{r.Start.Add(168 * time.Hour), "bob"},
		{r.Start.Add(2 * 168 * time.Hour), "carol"},
		{r.Start.Add(3 * 168 * time.Hour), "alice"},
	} {
		if got, src := rota.OnCall(c.t); len(got) != 1 || got[0] != c.want || src != SourceRotation {
			t.Errorf("%v: %v %s, want %s", c.t, got, src, c.want)
		}
	}
	s := RotationShifts(r, r.Start.Add(24*time.Hour), r.Start.Add(15*24*time.Hour))
	if len(s) != 3 || s[0].User != "alice" || s[1].User != "bob" || s[2].User != "carol" || !s[1].Start.Equal(r.Start.Add(168*time.Hour)) {
		t.Fatalf("%+v", s)
	}
	if got, src := (&Rota{}).OnCall(r.Start); got != nil || src != "" {
		t.Fatalf("nobody: %v %s", got, src)
	}
}

// The calendar keeps the last good copy when the feed fails, and a new
// Calendar reads it from disk.
func TestCalendarKeepsLastGoodCopy(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", 503)
			return
		}
		io.WriteString(w, rota)
	}))
	defer srv.Close()
	cache := filepath.Join(t.TempDir(), "calendar.ics")
	log := slog.New(slog.DiscardHandler)
	c := NewCalendar(srv.URL+"/private-abc/basic.ics", time.Hour, cache, log)
	if err := c.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	err := c.Fetch(context.Background())
	if err == nil || strings.Contains(err.Error(), "private-abc") {
		t.Fatalf("error %v (must not show the feed's address)", err)
	}
	if s, _ := c.Shifts(london("2026-11-23 10:00"), london("2026-11-23 11:00"), users); len(s) != 1 || s[0].User != "carol" {
		t.Fatalf("last good copy lost: %+v", s)
	}
	if st := c.Status(); st.LastError == "" || st.Fetched == nil {
		t.Fatalf("status %+v", st)
	}
	c2 := NewCalendar(srv.URL, time.Hour, cache, log)
	if s, _ := c2.Shifts(london("2026-11-23 10:00"), london("2026-11-23 11:00"), users); len(s) != 1 {
		t.Fatalf("copy on disk not read: %+v", s)
	}
}

func FuzzCalendar(f *testing.F) {
	f.Add([]byte(rota))
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:alice\r\nDTSTART;VALUE=DATE:20261201\r\nEXDATE:x,y\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		feed, err := ParseFeed(b)
		if err != nil {
			return
		}
		shifts, _, _ := feed.Expand(from, from.Add(90*24*time.Hour), users)
		for _, s := range shifts {
			if s.End.Before(s.Start) || users[s.User] == "" {
				t.Fatalf("bad shift %+v", s)
			}
		}
	})
}

// Rules that never match cost rrule-go a search to the year 9999 each:
// the expansion stops at its budget and says how many events it left out.
func TestCostlyFeedIsBounded(t *testing.T) {
	ev := "BEGIN:VEVENT\r\nSUMMARY:alice\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30\r\nEND:VEVENT\r\n"
	f, err := ParseFeed([]byte("BEGIN:VCALENDAR\r\n" + strings.Repeat(ev, 20) + "END:VCALENDAR\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if s, _, left := f.Expand(from, from.Add(90*24*time.Hour), users); len(s) != 0 || left == 0 || time.Since(start) > expandBudget+15*time.Second { // one event may run past the budget (longer under -race)
		t.Fatalf("%v, %d left, in %v", s, left, time.Since(start))
	}
}
