package logs

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// A block keeps each event as a shape and its leaves: the shape is the
// event's bytes with every leaf value cut out (key order, whitespace, the
// keys' own escapes and nulls stay in it), and each leaf's exact spelling
// goes to the column of its flattened path. Shapes repeat from event to
// event, so a block stores each distinct one once; the columns compress
// and answer queries. Putting the leaves back into the shape gives the
// event byte for byte as it was received.
//
// A leaf is marked in the shape by a byte that valid JSON cannot hold
// outside a string, nor raw inside one (control characters must be
// escaped there).
const (
	markString = 0x00 // a string leaf; its quotes are cut with it
	markBare   = 0x01 // a number, true or false
)

// leafSpan is one leaf of the event being split.
type leafSpan struct {
	col        int32
	start, end int32 // the leaf's raw spelling: between the quotes for strings
	kind       Kind
	quoted     bool // a JSON string (a number too large for a float is KindString unquoted)
	escaped    bool // a string whose text differs from its spelling (escapes, invalid UTF-8)
}

// splitter walks one event, validating it exactly as Flatten does, and
// records its leaves; the shape is cut afterwards from the leaf spans.
type splitter struct {
	b      []byte
	i      int
	path   []byte
	leaves []leafSpan
	col    func(path []byte) int32 // the column of a path (the block builder's)
	keyBuf []byte
}

func (s *splitter) fail(msg string) error { return &jsonErr{s.i, msg} }

func (s *splitter) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// split validates raw as one JSON value (nothing after it) and records its
// leaves in s.leaves.
func (s *splitter) split(raw []byte) error {
	s.b, s.i, s.path, s.leaves = raw, 0, s.path[:0], s.leaves[:0]
	s.ws()
	if s.i >= len(s.b) {
		return s.fail("empty")
	}
	if err := s.value(0); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the value")
	}
	return nil
}

func (s *splitter) value(depth int) error {
	if depth > MaxDepth {
		return s.fail(errDepth.Error())
	}
	s.ws()
	if s.i >= len(s.b) {
		return s.fail("unexpected end")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return s.fail("expected a string key")
			}
			key, err := s.key()
			if err != nil {
				return err
			}
			plen := len(s.path)
			if plen > 0 { // as Flatten's join: an empty path takes no dot
				s.path = append(s.path, '.')
			}
			s.path = append(s.path, key...)
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.fail("expected ':'")
			}
			s.i++
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.path = s.path[:plen]
			s.ws()
			if s.i >= len(s.b) {
				return s.fail("unexpected end in object")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				return nil
			}
			return s.fail("expected ',' or '}'")
		}
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.fail("unexpected end in array")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == ']' {
				s.i++
				return nil
			}
			return s.fail("expected ',' or ']'")
		}
	case c == '"':
		start := s.i
		escaped, err := s.skipString()
		if err != nil {
			return err
		}
		s.leaves = append(s.leaves, leafSpan{col: s.col(s.path), start: int32(start + 1), end: int32(s.i - 1), kind: KindString, quoted: true, escaped: escaped})
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		if len(s.b)-s.i < 4 || string(s.b[s.i:s.i+4]) != "null" {
			return s.fail("bad literal")
		}
		s.i += 4 // null stays in the shape: it is no value, as for the index
	case c == '-' || (c >= '0' && c <= '9'):
		return s.num()
	default:
		return s.fail("unexpected " + strconv.QuoteRune(rune(c)))
	}
	return nil
}

func (s *splitter) leaf(start, end int, k Kind) {
	s.leaves = append(s.leaves, leafSpan{col: s.col(s.path), start: int32(start), end: int32(end), kind: k})
}

func (s *splitter) lit(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("bad literal")
	}
	s.leaf(s.i, s.i+len(word), KindBool)
	s.i += len(word)
	return nil
}

func (s *splitter) num() error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return s.fail("bad number")
	}
	exp := false
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.fail("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		exp = true
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.fail("bad number")
		}
	}
	k := KindNumber
	if exp || s.i-start > 300 {
		// 1e400 and friends are kept as text, as Flatten keeps them.
		if _, err := strconv.ParseFloat(string(s.b[start:s.i]), 64); err != nil {
			k = KindString
		}
	}
	s.leaf(start, s.i, k)
	return nil
}

// skipString steps over the string at s.i (which is '"'), validating it as
// jsonParser.str does. escaped says whether its text differs from its bytes.
func (s *splitter) skipString() (escaped bool, err error) {
	s.i++
	start := s.i
	high := false
	for s.i < len(s.b) {
		// Eight bytes at a time while none is special: most strings are
		// plain ASCII, and this is the inner loop of every intake.
		for s.i+8 <= len(s.b) && !specialIn(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			if high && !escaped && !utf8.Valid(s.b[start:s.i]) {
				escaped = true // invalid UTF-8 reads as U+FFFD
			}
			s.i++
			return escaped, nil
		case c < 0x20:
			return false, s.fail("control character in string")
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return false, s.fail("unexpected end in escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if !hex4(s.b[s.i+2:]) {
					s.i += 2
					return false, s.fail("bad \\u escape")
				}
				s.i += 6
			default:
				s.i += 2
				return false, s.fail("bad escape")
			}
		default:
			if c >= 0x80 {
				high = true
			}
			s.i++
		}
	}
	return false, s.fail("unterminated string")
}

// specialIn says whether any byte of w is '"', '\\', a control character
// or not ASCII (the classic SWAR tests for a zero or a small byte).
func specialIn(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - lo) &^ v & hi }
	return (zero(w^(lo*'"')) | zero(w^(lo*'\\')) | (w-lo*0x20)&^w&hi | w&hi) != 0
}

func hex4(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// key reads an object key: its raw bytes when they are its text, else the
// text decoded as Flatten decodes it.
func (s *splitter) key() ([]byte, error) {
	start := s.i
	escaped, err := s.skipString()
	if err != nil {
		return nil, err
	}
	if !escaped {
		return s.b[start+1 : s.i-1], nil
	}
	text := decodeString(s.b[start+1 : s.i-1])
	s.keyBuf = append(s.keyBuf[:0], text...)
	return s.keyBuf, nil
}

// decodeString is the text of a JSON string's spelling (between its
// quotes), exactly as Flatten reads it. The spelling has been validated.
func decodeString(spelling []byte) string {
	q := make([]byte, 0, len(spelling)+2)
	q = append(append(append(q, '"'), spelling...), '"')
	p := jsonParser{b: q}
	s, _ := p.str()
	return s
}

// cutShape writes raw with its leaves cut out (see markString).
func cutShape(dst, raw []byte, leaves []leafSpan) []byte {
	last := 0
	for _, l := range leaves {
		start, end, mark := int(l.start), int(l.end), byte(markBare)
		if l.quoted {
			start, end, mark = start-1, end+1, markString
		}
		dst = append(dst, raw[last:start]...)
		dst = append(dst, mark)
		last = end
	}
	return append(dst, raw[last:]...)
}
