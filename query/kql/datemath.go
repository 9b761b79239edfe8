package kql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
}

// ParseDateMath reads Elasticsearch date math: "now", an ISO 8601 date, or
// either followed by "||" (for dates) and operations such as "-15m", "+1d",
// "/d". Units: y M w d h H m s. roundUp makes "/unit" round to the end of
// the unit, as Elasticsearch does for lte and gt.
func ParseDateMath(s string, now time.Time, roundUp bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	var ops string
	switch {
	case strings.HasPrefix(s, "now"):
		t, ops = now.UTC(), s[3:]
	default:
		anchor := s
		if i := strings.Index(s, "||"); i >= 0 {
			anchor, ops = s[:i], s[i+2:]
		}
		var err error
		t, err = parseDate(anchor)
		if err != nil {
			return time.Time{}, err
		}
	}
	for ops != "" {
		op := ops[0]
		ops = ops[1:]
		switch op {
		case '+', '-':
			i := 0
			for i < len(ops) && ops[i] >= '0' && ops[i] <= '9' {
				i++
			}
			n := 1
			if i > 0 {
				n, _ = strconv.Atoi(ops[:i])
			}
			if i == len(ops) {
				return time.Time{}, fmt.Errorf("date math %q: missing unit after %c%d", s, op, n)
			}
			if op == '-' {
				n = -n
			}
			var err error
			if t, err = addUnit(t, n, ops[i]); err != nil {
				return time.Time{}, fmt.Errorf("date math %q: %w", s, err)
			}
			ops = ops[i+1:]
		case '/':
			if ops == "" {
				return time.Time{}, fmt.Errorf("date math %q: missing unit after /", s)
			}
			var err error
			if t, err = roundTo(t, ops[0], roundUp); err != nil {
				return time.Time{}, fmt.Errorf("date math %q: %w", s, err)
			}
			ops = ops[1:]
		default:
			return time.Time{}, fmt.Errorf("date math %q: unexpected %q", s, op)
		}
	}
	return t, nil
}

func parseDate(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

func addUnit(t time.Time, n int, unit byte) (time.Time, error) {
	switch unit {
	case 'y':
		return t.AddDate(n, 0, 0), nil
	case 'M':
		return t.AddDate(0, n, 0), nil
	case 'w':
		return t.AddDate(0, 0, 7*n), nil
	case 'd':
		return t.AddDate(0, 0, n), nil
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour), nil
	case 'm':
		return t.Add(time.Duration(n) * time.Minute), nil
	case 's':
		return t.Add(time.Duration(n) * time.Second), nil
	}
	return t, fmt.Errorf("unknown unit %q (want y M w d h m s)", unit)
}

func roundTo(t time.Time, unit byte, up bool) (time.Time, error) {
	var start time.Time
	var next func(time.Time) time.Time
	switch unit {
	case 'y':
		start = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		next = func(x time.Time) time.Time { return x.AddDate(1, 0, 0) }
	case 'M':
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		next = func(x time.Time) time.Time { return x.AddDate(0, 1, 0) }
	case 'w':
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		wd := (int(d.Weekday()) + 6) % 7 // weeks start on Monday
		start = d.AddDate(0, 0, -wd)
		next = func(x time.Time) time.Time { return x.AddDate(0, 0, 7) }
	case 'd':
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		next = func(x time.Time) time.Time { return x.AddDate(0, 0, 1) }
	case 'h', 'H':
		start = t.Truncate(time.Hour)
		next = func(x time.Time) time.Time { return x.Add(time.Hour) }
	case 'm':
		start = t.Truncate(time.Minute)
		next = func(x time.Time) time.Time { return x.Add(time.Minute) }
	case 's':
		start = t.Truncate(time.Second)
		next = func(x time.Time) time.Time { return x.Add(time.Second) }
	default:
		return t, fmt.Errorf("unknown unit %q (want y M w d h m s)", unit)
	}
	if up {
		return next(start).Add(-time.Millisecond), nil
	}
	return start, nil
}
