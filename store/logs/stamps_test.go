package logs

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestStamps(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	long := make([]int64, BlockSize)
	for i := range long {
		long[i] = 1700000000000 + int64(i)*3 + rnd.Int64N(5000) - 2500 // a shipper's out of order rows
	}
	for _, ts := range [][]int64{
		{1700000000000, 1700000000005, 1699999999000, 1700086399999},
		{5},
		{0, 1<<32 - 1},
		{0, 1 << 32},
		{math.MinInt64, math.MaxInt64}, // the difference wraps around int64
		{math.MaxInt64, math.MinInt64, 0, math.MaxInt64},
		{-86400000, 0},
		long,
	} {
		s := newStamps(ts)
		if s.len() != len(ts) {
			t.Fatalf("%v: len %d", ts, s.len())
		}
		for i, want := range ts {
			if got := s.at(i); got != want {
				t.Fatalf("%d rows: at(%d) = %d, want %d", len(ts), i, got, want)
			}
		}
		// A cursor forwards, backwards, and jumping marks.
		c := s.cursor()
		for _, i := range append(rnd.Perm(len(ts)), 0, len(ts)-1, len(ts)-1) {
			if got := c.at(i); got != ts[i] {
				t.Fatalf("%d rows: cursor at(%d) = %d, want %d", len(ts), i, got, ts[i])
			}
		}
		all := s.all()
		for i := range ts {
			if all[i] != ts[i] {
				t.Fatalf("%d rows: all()[%d] = %d, want %d", len(ts), i, all[i], ts[i])
			}
		}
	}
	// What a block of rows a millisecond or so apart takes.
	inOrder := make([]int64, BlockSize)
	for i := range inOrder {
		inOrder[i] = 1700000000000 + int64(i)
	}
	if s := newStamps(inOrder); s.size() > BlockSize*3/2 {
		t.Errorf("%d rows in order take %d bytes", BlockSize, s.size())
	}
}
