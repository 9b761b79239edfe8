package traces

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The set holds what a map would, 0 included, across reuse.
func TestU64Set(t *testing.T) {
	var s u64set
	for round := range 3 {
		want := map[uint64]bool{}
		for i := range 5000 {
			k := rand.Uint64()
			switch i % 5 {
			case 0:
				k = uint64(i % 97) // small and repeated, 0 among them
			case 1:
				k <<= 40 // low bits zero
			}
			want[k] = true
			s.add(k)
		}
		if s.len() != len(want) {
			t.Fatalf("round %d: %d keys, want %d", round, s.len(), len(want))
		}
		var got []uint64
		s.each(func(k uint64) { got = append(got, k) })
		slices.Sort(got)
		var exp []uint64
		for k := range want {
			exp = append(exp, k)
		}
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("round %d: keys differ", round)
		}
		s.reset()
	}
}

// A filter whose size is a power of two sets and reads the same bits on
// the fast path as the general one.
func TestBloomPowerOfTwo(t *testing.T) {
	b := newBloom(100000, maxTokenWords)
	ref := &bloom{k: b.k, bits: make([]uint64, len(b.bits))}
	for range 2000 {
		h := rand.Uint64()
		b.add(h)
		n := uint64(len(ref.bits)) * 64
		h1, h2 := h, h>>33|h<<31
		for i := uint8(0); i < ref.k; i++ {
			bit := (h1 + uint64(i)*h2) % n
			ref.bits[bit/64] |= 1 << (bit % 64)
		}
		if !b.has(h) {
			t.Fatal("false negative")
		}
		probe := rand.Uint64()
		want := true
		for i := uint8(0); i < ref.k; i++ {
			bit := (probe + uint64(i)*(probe>>33|probe<<31)) % n
			want = want && ref.bits[bit/64]&(1<<(bit%64)) != 0
		}
		if b.has(probe) != want {
			t.Fatal("has differs from the general path")
		}
	}
	if !slices.Equal(b.bits, ref.bits) {
		t.Fatal("bits differ")
	}
}
