package kql

import (
	"testing"
	"time"
)

// A query's key lets the log store keep its per-block counts, so a query
// whose matches move with the clock must have none.
func TestMatchKeyOnlyForClockFreeQueries(t *testing.T) {
	for q, keyed := range map[string]bool{
		"app:soak and severity:error":            true,
		"*":                                      true,
		"@timestamp >= \"2026-11-20T10:00:00Z\"": true,
		"@timestamp >= 2026-11-20||-1d":          true,
		"bytes > 100":                            true,
		"@timestamp > now-15m":                   false,
		"app:soak and not (x:1 or @timestamp < now/d)": false,
		"svc:{ @timestamp >= now-1h }":                 false,
	} {
		c, err := Compile(q, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := c.MatchKey() != ""; got != keyed {
			t.Errorf("%s: keyed %v, want %v", q, got, keyed)
		}
		if keyed && c.MatchKey() != "kql:"+q {
			t.Errorf("%s: key %q", q, c.MatchKey())
		}
	}
}
