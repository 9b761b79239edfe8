package logs

import "math/bits"

// Bits is a fixed-size row set for one block. Blocks are small (BlockSize
// rows), so a plain word array beats a compressed bitmap here: AND/OR/NOT
// are a few dozen word operations and need no allocation beyond the slice.
type Bits []uint64

// NewBits returns an empty set able to hold n rows.
func NewBits(n int) Bits { return make(Bits, (n+63)/64) }

// AllBits returns the set of rows 0..n-1.
func AllBits(n int) Bits {
	b := NewBits(n)
	for i := range b {
		b[i] = ^uint64(0)
	}
	b.trim(n)
	return b
}

func (b Bits) trim(n int) {
	if r := n % 64; r != 0 && len(b) > 0 {
		b[len(b)-1] &= (1 << uint(r)) - 1
	}
}

func (b Bits) Set(i int)      { b[i>>6] |= 1 << uint(i&63) }
func (b Bits) Has(i int) bool { return b[i>>6]&(1<<uint(i&63)) != 0 }

// And, Or and AndNot modify b in place and return it.
func (b Bits) And(o Bits) Bits {
	for i := range b {
		b[i] &= o[i]
	}
	return b
}

func (b Bits) Or(o Bits) Bits {
	for i := range b {
		b[i] |= o[i]
	}
	return b
}

func (b Bits) AndNot(o Bits) Bits {
	for i := range b {
		b[i] &^= o[i]
	}
	return b
}

// Not complements b within rows 0..n-1.
func (b Bits) Not(n int) Bits {
	for i := range b {
		b[i] = ^b[i]
	}
	b.trim(n)
	return b
}

func (b Bits) Count() int {
	c := 0
	for _, w := range b {
		c += bits.OnesCount64(w)
	}
	return c
}

func (b Bits) Empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

// Each calls fn for every row in ascending order.
func (b Bits) Each(fn func(int)) {
	for i, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			fn(i*64 + t)
			w &= w - 1
		}
	}
}

// EachDesc calls fn for every row in descending order until fn returns false.
func (b Bits) EachDesc(fn func(int) bool) {
	for i := len(b) - 1; i >= 0; i-- {
		w := b[i]
		for w != 0 {
			t := 63 - bits.LeadingZeros64(w)
			if !fn(i*64 + t) {
				return
			}
			w &^= 1 << uint(t)
		}
	}
}

func (b Bits) Clone() Bits { return append(Bits(nil), b...) }
