package logs

// stamps are a block's row timestamps (unix ms) as they sit in the block
// cache: 4-byte offsets from the block's earliest row instead of 8-byte
// times. A query over the last hour keeps every block's meta of that hour
// in the cache, and the timestamps were two thirds of it (measured in the
// soak, where the one-hour histogram's metas filled the cache for the
// whole hour). A block lies in one UTC day, so its offsets fit in 32
// bits; one that does not (only a hand-made or damaged one) keeps times.
type stamps struct {
	base int64
	off  []uint32
	wide []int64 // set instead of off when the span needs more than 32 bits
}

func newStamps(ts []int64) stamps {
	if len(ts) == 0 {
		return stamps{}
	}
	lo, hi := ts[0], ts[0]
	for _, t := range ts {
		lo, hi = min(lo, t), max(hi, t)
	}
	// hi-lo overflows only for times near both ends of int64, which
	// wide keeps too.
	if d := hi - lo; d < 0 || d > 1<<32-1 {
		return stamps{wide: append([]int64(nil), ts...)}
	}
	s := stamps{base: lo, off: make([]uint32, len(ts))}
	for i, t := range ts {
		s.off[i] = uint32(t - lo)
	}
	return s
}

func (s *stamps) len() int {
	if s.wide != nil {
		return len(s.wide)
	}
	return len(s.off)
}

// at is row i's time.
func (s *stamps) at(i int) int64 {
	if s.wide != nil {
		return s.wide[i]
	}
	return s.base + int64(s.off[i])
}

// all returns the times as a new slice.
func (s *stamps) all() []int64 {
	out := make([]int64, s.len())
	for i := range out {
		out[i] = s.at(i)
	}
	return out
}

// size is what the stamps hold in memory.
func (s *stamps) size() int64 { return int64(len(s.off)*4 + len(s.wide)*8) }
