package logsql

import (
	"fmt"
	"strings"
	"time"
)

// Within limits a filter to a time range, both ends included (Discover's
// time picker sends gte and lte).
func Within(filter string, from, to time.Time) string {
	return render(allOf(leaf("_time:["+timestamp(from)+", "+timestamp(to)+"]"), leaf(paren(filter))))
}

// Newest is the query for the newest limit events a filter matches.
func Newest(filter string, limit int) string {
	return fmt.Sprintf("%s | sort by (_time desc) | limit %d", filter, limit)
}

// Count is the query for how many events a filter matches, in the field
// hits.
func Count(filter string) string { return filter + " | stats count() hits" }

// Histogram is the query for Discover's hit histogram: one row per step
// with its _time and hits. offset shifts the buckets' edges (a time zone's
// offset from UTC, for day buckets that start at local midnight).
func Histogram(filter string, step, offset time.Duration) (string, error) {
	if step <= 0 {
		return "", fmt.Errorf("histogram step %v: want a positive duration", step)
	}
	s, err := duration(step)
	if err != nil {
		return "", fmt.Errorf("histogram step: %w", err)
	}
	by := "_time:" + s
	if offset != 0 {
		o, err := duration(offset)
		if err != nil {
			return "", fmt.Errorf("histogram offset %v: %w", offset, err)
		}
		by += " offset " + o
	}
	return fmt.Sprintf("%s | stats by (%s) count() hits", filter, by), nil
}

// TopValues is the query for a field's n most frequent values and their
// counts (hits), among the events that have it, most frequent first.
func TopValues(filter, field string, n int, opts Options) string {
	if opts.MessageField == "" {
		opts.MessageField = "message"
	}
	if opts.TimeField == "" {
		opts.TimeField = "@timestamp"
	}
	ref := compiler{opts: opts}.ref(field)
	return fmt.Sprintf("%s | top %d by (%s)", render(allOf(leaf(paren(filter)), leaf(ref+":*"))), n, ref)
}

// paren puts a filter in parentheses before more is added to it, unless it
// is one word (a single filter or *).
func paren(filter string) string {
	if !strings.ContainsAny(filter, " \t\n") {
		return filter
	}
	return "(" + filter + ")"
}

// duration writes d in LogsQL's duration syntax: whole units, largest
// first (1h30m, 250ms, -2h).
func duration(d time.Duration) (string, error) {
	if d%time.Millisecond != 0 {
		return "", fmt.Errorf("%v: want whole milliseconds", d)
	}
	if d == 0 {
		return "0s", nil
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	out := sign
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			out += fmt.Sprintf("%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return out, nil
}
