// Package mask turns a log message into its template: the numbers, hex
// ids and UUIDs that differ between two occurrences of the same error are
// replaced by placeholders, so that "timeout after 3012 ms on 7f9c2ab41e"
// and "timeout after 87 ms on 0d11e4c9aa" count as one message.
//
// No library: Go has none in its standard library, and the log template
// miners that exist (Drain and its ports) learn clusters from a stream and
// keep state, so the same message can land in a different group depending
// on what came before. An incident view needs the same answer for the same
// message every time, and three rules in one pass give it.
package mask

import "strings"

// Placeholders a masked message carries.
const (
	UUID   = "<uuid>"
	Hex    = "<hex>"
	Number = "<n>"
)

// minHex is the shortest run of hex digits read as an id rather than a
// word: "deadbeef" and "cafe" stay, "7f9c2ab41e" (with a digit) goes.
const minHex = 8

// Message returns s with UUIDs, hex ids (0x..., or 8 or more hex digits
// with at least one decimal digit) and decimal numbers replaced. Words are
// runs of letters and digits; a placeholder replaces a whole word, except
// that digits inside a word ("user123", "v2") are masked on their own.
func Message(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		// A word starts here (at a boundary: the previous byte is not alphanumeric).
		if n := uuidAt(s, i); n > 0 {
			b.WriteString(UUID)
			i += n
			continue
		}
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		w := s[i:j]
		switch {
		case isHexID(w):
			b.WriteString(Hex)
		default:
			maskDigits(&b, w)
		}
		i = j
	}
	return b.String()
}

// maskDigits writes w with each run of decimal digits as Number.
func maskDigits(b *strings.Builder, w string) {
	for k := 0; k < len(w); {
		if !isDigit(w[k]) {
			b.WriteByte(w[k])
			k++
			continue
		}
		for k < len(w) && isDigit(w[k]) {
			k++
		}
		b.WriteString(Number)
	}
}

// isHexID says whether a whole word is a hex id: 0x followed by hex
// digits, or at least minHex hex digits of which one is a decimal digit
// and one a letter (all digits is a number).
func isHexID(w string) bool {
	if len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') {
		return allHex(w[2:])
	}
	if len(w) < minHex || !allHex(w) {
		return false
	}
	digit, letter := false, false
	for k := 0; k < len(w); k++ {
		if isDigit(w[k]) {
			digit = true
		} else {
			letter = true
		}
	}
	return digit && letter
}

// uuidAt returns the length of a UUID (8-4-4-4-12 hex digits) starting at
// i and ending at a word boundary, else 0.
func uuidAt(s string, i int) int {
	const n = 36
	if i+n > len(s) || (i+n < len(s) && isAlnum(s[i+n])) {
		return 0
	}
	for k := 0; k < n; k++ {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return 0
			}
		default:
			if !isHex(c) {
				return 0
			}
		}
	}
	return n
}

func allHex(w string) bool {
	for k := 0; k < len(w); k++ {
		if !isHex(w[k]) {
			return false
		}
	}
	return w != ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
func isAlnum(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') || c == '_' }
