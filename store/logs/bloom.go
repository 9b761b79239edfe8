package logs

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// A bloom filter per column and block answers "may this block hold this
// word (or this whole value)?" without reading the column: the job the
// per-block token postings and the bleve block documents did, in about ten
// bits per distinct item instead of a copy of every value and word. As in
// VictoriaLogs, a block that may hold the item is then scanned.
const (
	bloomBitsPerItem = 10 // ~1% false positives with bloomHashes
	bloomHashes      = 6
)

type bloom []uint64

// newBloom makes a filter holding the distinct hashes hs (sorted in place).
func newBloom(hs []uint64) bloom {
	slices.Sort(hs)
	hs = slices.Compact(hs)
	nbits := max(64, (len(hs)*bloomBitsPerItem+63)&^63)
	b := make(bloom, nbits/64)
	for _, h := range hs {
		b.add(h)
	}
	return b
}

func (b bloom) add(h uint64) {
	n := uint64(len(b) * 64)
	h1, h2 := h, h>>32|h<<32
	for i := uint64(0); i < bloomHashes; i++ {
		x := (h1 + i*h2) % n
		b[x/64] |= 1 << (x % 64)
	}
}

// has says whether h may have been added.
func (b bloom) has(h uint64) bool {
	if len(b) == 0 {
		return true
	}
	n := uint64(len(b) * 64)
	h1, h2 := h, h>>32|h<<32
	for i := uint64(0); i < bloomHashes; i++ {
		x := (h1 + i*h2) % n
		if b[x/64]&(1<<(x%64)) == 0 {
			return false
		}
	}
	return true
}

func (b bloom) appendTo(dst []byte) []byte {
	for _, w := range b {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	return dst
}

func decodeBloom(p []byte) bloom {
	b := make(bloom, len(p)/8)
	for i := range b {
		b[i] = binary.LittleEndian.Uint64(p[i*8:])
	}
	return b
}

func (b bloom) popcount() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// Bloom items: words of text values and whole values of the others, each
// hashed with a one-byte tag so that the word "a" and the value "a" differ.
func hashWord(w []byte) uint64   { return xxhash.Sum64(w) ^ 0x9e3779b97f4a7c15 }
func hashValue(v []byte) uint64  { return xxhash.Sum64(v) }
func hashWordS(w string) uint64  { return xxhash.Sum64String(w) ^ 0x9e3779b97f4a7c15 }
func hashValueS(v string) uint64 { return xxhash.Sum64String(v) }

// eachToken calls fn with each word of s exactly as Tokens returns it,
// without allocating for ASCII words. buf is scratch space.
func eachToken(s string, buf []byte, fn func(w []byte)) []byte {
	start := -1
	ascii := true
	emit := func(w string) {
		if ascii {
			buf = buf[:0]
			for i := 0; i < len(w); i++ {
				c := w[i]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf = append(buf, c)
			}
		} else {
			buf = append(buf[:0], strings.ToLower(w)...)
		}
		fn(buf)
	}
	for i := 0; i < len(s); {
		c := s[i]
		var word bool
		size := 1
		if c < utf8.RuneSelf {
			word = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
		}
		if word {
			if start < 0 {
				start, ascii = i, true
			}
			if c >= utf8.RuneSelf {
				ascii = false
			}
		} else if start >= 0 {
			emit(s[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		emit(s[start:])
	}
	return buf
}
