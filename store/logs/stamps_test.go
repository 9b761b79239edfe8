package logs

import (
	"math"
	"testing"
)

func TestStamps(t *testing.T) {
	for _, ts := range [][]int64{
		{1700000000000, 1700000000005, 1699999999000, 1700086399999},
		{5},
		{0, 1<<32 - 1},
		{0, 1 << 32},                   // one past 32 bits: kept wide
		{math.MinInt64, math.MaxInt64}, // the span overflows int64
		{-86400000, 0},
	} {
		s := newStamps(ts)
		if s.len() != len(ts) {
			t.Fatalf("%v: len %d", ts, s.len())
		}
		for i, want := range ts {
			if got := s.at(i); got != want {
				t.Errorf("%v: row %d = %d", ts, i, got)
			}
		}
		if wide := s.wide != nil; wide != (ts[len(ts)-1]-ts[0] >= 1<<32 || ts[len(ts)-1]-ts[0] < 0) && len(ts) > 1 {
			t.Errorf("%v: wide=%v", ts, wide)
		}
	}
}
