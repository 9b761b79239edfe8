package traces

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"
)

// bloom is a plain bloom filter over 64-bit hashes (double hashing). Each
// block keeps one over its trace ids and one over its search tokens, so a
// lookup skips blocks that cannot hold what it wants without reading them.
// (bits-and-blooms/bloom would do; it is not in the module graph and this
// is forty lines.)
type bloom struct {
	k    uint8
	bits []uint64
}

// newBloom sizes a filter for n keys at about 1% false positives, capped
// at maxWords words.
func newBloom(n, maxWords int) *bloom {
	words := (n*10 + 63) / 64
	words = max(1, min(words, maxWords))
	return &bloom{k: 7, bits: make([]uint64, words)}
}

func (b *bloom) add(h uint64) {
	n := uint64(len(b.bits)) * 64
	h1, h2 := h, h>>33|h<<31
	if n&(n-1) == 0 {
		// A power of two (a capped filter): the same bits as below,
		// without a 64-bit division per probe.
		for i := uint8(0); i < b.k; i++ {
			bit := (h1 + uint64(i)*h2) & (n - 1)
			b.bits[bit/64] |= 1 << (bit % 64)
		}
		return
	}
	for i := uint8(0); i < b.k; i++ {
		bit := (h1 + uint64(i)*h2) % n
		b.bits[bit/64] |= 1 << (bit % 64)
	}
}

func (b *bloom) has(h uint64) bool {
	if b == nil {
		return true
	}
	n := uint64(len(b.bits)) * 64
	h1, h2 := h, h>>33|h<<31
	if n&(n-1) == 0 {
		// As in add: a mask, not a division, for a power of two (the
		// capped token filters, the linker's generations).
		for i := uint8(0); i < b.k; i++ {
			bit := (h1 + uint64(i)*h2) & (n - 1)
			if b.bits[bit/64]&(1<<(bit%64)) == 0 {
				return false
			}
		}
		return true
	}
	for i := uint8(0); i < b.k; i++ {
		bit := (h1 + uint64(i)*h2) % n
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (b *bloom) memBytes() int { return 24 + 8*len(b.bits) }

func (b *bloom) appendTo(out []byte) []byte {
	out = append(out, b.k)
	out = binary.AppendUvarint(out, uint64(len(b.bits)))
	for _, w := range b.bits {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

var errBadBloom = errors.New("bad bloom filter")

func readBloom(p []byte) (*bloom, []byte, error) {
	if len(p) < 2 {
		return nil, nil, errBadBloom
	}
	k := p[0]
	n, sz := binary.Uvarint(p[1:])
	if sz <= 0 || n == 0 || n > uint64(len(p)) || k == 0 || k > 16 {
		return nil, nil, errBadBloom
	}
	p = p[1+sz:]
	if uint64(len(p)) < n*8 {
		return nil, nil, errBadBloom
	}
	b := &bloom{k: k, bits: make([]uint64, n)}
	for i := range b.bits {
		b.bits[i] = binary.LittleEndian.Uint64(p[i*8:])
	}
	return b, p[n*8:], nil
}

// traceHash spreads a trace id's low 64 bits (already random in practice,
// but not for hand-made ids like 0x100).
func traceHash(lo uint64) uint64 {
	lo ^= lo >> 33
	lo *= 0xff51afd7ed558ccd
	lo ^= lo >> 33
	lo *= 0xc4ceb9fe1a85ec53
	lo ^= lo >> 33
	return lo
}

// Search tokens: a prefix byte says what the string is.
const (
	tokName   = 'n' // span name
	tokRemote = 'r' // remote service name
	tokKey    = 'k' // tag key, or annotation value (Zipkin's "key" term matches both)
	tokKV     = 'v' // tag key=value
)

const golden = 0x9e3779b97f4a7c15

func tokenHash(kind byte, s string) uint64 {
	k := uint64(kind)
	return traceHash(xxhash.Sum64String(s) ^ k*golden)
}

func tokenHashKV(k, v string) uint64 {
	kind := uint64(tokKV)
	return traceHash(xxhash.Sum64String(k)*0x100000001b3 ^ xxhash.Sum64String(v) ^ kind*golden)
}
