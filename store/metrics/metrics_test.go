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
