package traces

// u64set is a set of uint64 (open addressing, linear probing) for the
// distinct trace ids and search tokens of a block being sealed: a
// thousand spans put tens of thousands of keys through it, and a Go map
// spent most of that time hashing and growing. It is cleared and reused
// from one block to the next.
type u64set struct {
	slots   []uint64 // 0: empty
	n       int      // keys in slots
	hasZero bool     // 0 is a key too
}

func (s *u64set) reset() {
	clear(s.slots)
	s.n, s.hasZero = 0, false
}

func (s *u64set) len() int {
	if s.hasZero {
		return s.n + 1
	}
	return s.n
}

func (s *u64set) add(k uint64) {
	if k == 0 {
		s.hasZero = true
		return
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := (k * golden) >> 32 & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return
		case 0:
			s.slots[i] = k
			s.n++
			return
		}
	}
}

func (s *u64set) grow() {
	old := s.slots
	s.slots = make([]uint64, max(256, 2*len(old)))
	s.n = 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}

// each calls fn with every key, in no particular order.
func (s *u64set) each(fn func(uint64)) {
	if s.hasZero {
		fn(0)
	}
	for _, k := range s.slots {
		if k != 0 {
			fn(k)
		}
	}
}
