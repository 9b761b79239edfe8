package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

func TestWriteReadReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	err = s.Write(context.Background(), []Sample{
		{Name: "stats.timers.web-api.x.upper_90", TS: now - 2000, Value: 1},
		{Name: "stats.timers.web-api.x.upper_90", TS: now - 1000, Value: 2},
		{Name: "stats_counts.hot", Labels: []Label{{Name: "env", Value: "prod"}}, TS: now, Value: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A sample too old for the head is refused and counted, the others kept.
	if err := s.Write(context.Background(), []Sample{{Name: "old", TS: now - 48*3600*1000, Value: 1}, {Name: "new", TS: now, Value: 1}}); err == nil {
		t.Fatal("want an error for the out-of-bounds sample")
	}
	if s.Failed.Load() != 1 || s.Written.Load() != 4 {
		t.Fatalf("written %d failed %d", s.Written.Load(), s.Failed.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, `stats\..*`)
	ss, err := s.Select(context.Background(), now-10000, now+1000, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != "stats.timers.web-api.x.upper_90" || len(ss[0].Values) != 2 || ss[0].Values[1] != 2 {
		t.Fatalf("after reopen: %+v", ss)
	}
	names, _ := s.Names(context.Background(), now-10000, now+1000)
	if len(names) != 3 {
		t.Fatalf("names %v", names)
	}
}

// TestBackfillADay: carbon backfills a day of data after newer samples.
func TestBackfillADay(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Retention: 15 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UnixMilli()
	if err := s.Write(context.Background(), []Sample{{Name: "x", TS: now, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	var day []Sample
	for ts := now - 23*3600*1000; ts < now; ts += 10000 {
		day = append(day, Sample{Name: "x", TS: ts, Value: 2})
	}
	if err := s.Write(context.Background(), day); err != nil {
		t.Fatalf("backfill refused: %v", err)
	}
	ss, err := s.Select(context.Background(), now-24*3600*1000, now, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "x"))
	if err != nil || len(ss) != 1 || len(ss[0].Values) != len(day)+1 {
		t.Fatalf("read back %v %v", len(ss), err)
	}
}

// TestHeadCompactsItself: with Prometheus's own compaction off (the store
// runs it, see maintain.go), a head holding more than 1.5 block ranges
// is still cut into a block on disk, and its samples stay readable.
func TestHeadCompactsItself(t *testing.T) {
	s, err := Open(t.TempDir(), Options{every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	start := time.Now().Add(-5 * time.Hour).Truncate(time.Minute).UnixMilli()
	const points = 5 * 60 // one a minute for five hours
	for p := range points {
		if err := s.Write(ctx, []Sample{{Name: "stats.gauges.app.x", TS: start + int64(p)*60_000, Value: float64(p)}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(s.Blocks()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no block was compacted out of a five-hour head in 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := s.Select(ctx, start, start+points*60_000, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "stats.gauges.app.x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || len(out[0].Values) != points {
		t.Fatalf("after compaction: %+v", out)
	}
}
