package zipkin

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader is a pull reader over a JSON document with the leniency of
// gson's JsonReader, which Zipkin's span readers use: a string is read
// where a number is expected when it holds one ("port":"35505"), and a
// number where a string is expected ("http.status_code":200). Zipkin
// reporters in the wild send both.
//
// encoding/json would need a custom unmarshaler on every such field
// (numbers in strings, strings from numbers) and reads a span several
// times over; json-iterator's lenient extensions do not cover strings from
// numbers. Spans are small objects of known shape, so a reader that
// visits each byte once is both simpler to make lenient and linear in the
// input whatever it holds (a span with 80,000 tags).
type jsonReader struct {
	b     []byte
	pos   int
	err   error
	first []bool // per open container: no element read yet
}

const maxDepth = 512

func (r *jsonReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at byte %d", fmt.Sprintf(format, args...), r.pos)
	}
	r.pos = len(r.b)
}

func (r *jsonReader) ws() {
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek is the next non-space byte, 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.pos >= len(r.b) {
		return 0
	}
	return r.b[r.pos]
}

func (r *jsonReader) expect(c byte, what string) bool {
	if r.peek() != c {
		if r.pos >= len(r.b) {
			r.fail("unexpected end of input, expected %s", what)
		} else {
			r.fail("expected %s but found %q", what, r.b[r.pos])
		}
		return false
	}
	r.pos++
	return true
}

func (r *jsonReader) open(c byte, what string) bool {
	if len(r.first) >= maxDepth {
		r.fail("nesting deeper than %d", maxDepth)
		return false
	}
	if !r.expect(c, what) {
		return false
	}
	r.first = append(r.first, true)
	return true
}

func (r *jsonReader) beginObject() bool { return r.open('{', "an object") }
func (r *jsonReader) beginArray() bool  { return r.open('[', "a list") }

func (r *jsonReader) close(c byte, what string) {
	if r.expect(c, what) && len(r.first) > 0 {
		r.first = r.first[:len(r.first)-1]
	}
}

func (r *jsonReader) endObject() { r.close('}', "the end of an object") }
func (r *jsonReader) endArray()  { r.close(']', "the end of a list") }

// more says whether the open container has another element, reading the
// comma before it.
func (r *jsonReader) more() bool {
	if r.err != nil || len(r.first) == 0 {
		return false
	}
	c := r.peek()
	if c == '}' || c == ']' || c == 0 {
		return false
	}
	top := len(r.first) - 1
	if !r.first[top] {
		if !r.expect(',', "',' between elements") {
			return false
		}
		if c := r.peek(); c == '}' || c == ']' {
			r.fail("expected a value after ','")
			return false
		}
	}
	r.first[top] = false
	return true
}

// name reads an object key and its colon.
func (r *jsonReader) name() string { return string(r.field()) }

// field is name without a copy: compare it (switch string(f)), do not keep
// it.
func (r *jsonReader) field() []byte {
	if r.peek() != '"' {
		r.fail("expected a field name")
		return nil
	}
	f := r.quotedBytes()
	r.expect(':', "':' after a field name")
	return f
}

// null consumes a null literal if that is what comes next.
func (r *jsonReader) null() bool {
	r.ws()
	if r.pos+4 <= len(r.b) && string(r.b[r.pos:r.pos+4]) == "null" {
		r.pos += 4
		return true
	}
	return false
}

// str reads a string, or a number as its text (gson's nextString).
func (r *jsonReader) str() string { return string(r.strBytes()) }

// strBytes is str without a copy when the text has no escapes.
func (r *jsonReader) strBytes() []byte {
	switch c := r.peek(); {
	case c == '"':
		return r.quotedBytes()
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case c == 0:
		r.fail("unexpected end of input, expected a string")
	default:
		r.fail("expected a string but found %q", c)
	}
	return nil
}

// strOrBool is str that also takes true/false as their text: tag values
// that Zipkin's reader refuses, kept rather than losing the span.
func (r *jsonReader) strOrBool() string {
	switch r.peek() {
	case 't', 'f':
		if r.boolean() {
			return "true"
		}
		return "false"
	}
	return r.str()
}

func (r *jsonReader) quoted() string { return string(r.quotedBytes()) }

// quotedBytes reads a string: the input's own bytes when it has no
// escapes.
func (r *jsonReader) quotedBytes() []byte {
	r.pos++ // opening quote
	start := r.pos
	// Find the closing quote, then look for an escape before it: two
	// vectorised scans cost less than a byte loop (this was 6% of ingest).
	rest := r.b[r.pos:]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		if e := bytes.IndexByte(rest, '\\'); e >= 0 {
			r.pos += e
			return r.escaped(start) // fails itself if nothing closes it
		}
		r.pos = len(r.b)
		r.fail("unterminated string")
		return nil
	}
	if e := bytes.IndexByte(rest[:q], '\\'); e >= 0 {
		r.pos += e
		return r.escaped(start)
	}
	r.pos += q + 1
	return r.b[start : r.pos-1]
}

// escaped finishes a string that has escapes, from its start.
func (r *jsonReader) escaped(start int) []byte {
	out := append([]byte(nil), r.b[start:r.pos]...)
	for r.pos < len(r.b) {
		c := r.b[r.pos]
		switch {
		case c == '"':
			r.pos++
			return out
		case c != '\\':
			out = append(out, c)
			r.pos++
			continue
		}
		if r.pos+1 >= len(r.b) {
			break
		}
		e := r.b[r.pos+1]
		r.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			ru, ok := r.hex4()
			if !ok {
				return nil
			}
			if utf16.IsSurrogate(ru) {
				if r.pos+1 < len(r.b) && r.b[r.pos] == '\\' && r.b[r.pos+1] == 'u' {
					r.pos += 2
					lo, ok := r.hex4()
					if !ok {
						return nil
					}
					ru = utf16.DecodeRune(ru, lo)
				} else {
					ru = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			r.fail("bad escape \\%c", e)
			return nil
		}
	}
	r.fail("unterminated string")
	return nil
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.pos+4 > len(r.b) {
		r.fail("short \\u escape")
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.b[r.pos:r.pos+4]), 16, 16)
	if err != nil {
		r.fail("bad \\u escape")
		return 0, false
	}
	r.pos += 4
	return rune(v), true
}

// number reads a JSON number literal and returns its text.
func (r *jsonReader) number() []byte {
	start := r.pos
	if r.pos < len(r.b) && r.b[r.pos] == '-' {
		r.pos++
	}
	digits := func() int {
		n := 0
		for r.pos < len(r.b) && r.b[r.pos] >= '0' && r.b[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		r.fail("bad number")
		return nil
	}
	if r.pos < len(r.b) && r.b[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			r.fail("bad number")
			return nil
		}
	}
	if r.pos < len(r.b) && (r.b[r.pos] == 'e' || r.b[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.b) && (r.b[r.pos] == '+' || r.b[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			r.fail("bad number")
			return nil
		}
	}
	return r.b[start:r.pos]
}

var errNotWhole = errors.New("not a whole number")

// plainInt reads up to 18 decimal digits (every timestamp and duration)
// without a conversion to string.
func plainInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// wholeNumber reads text as a long the way gson's nextLong does: an
// integer, or a number with an exact integer value ("1.0", "1e3").
func wholeNumber(b []byte) (int64, error) {
	if v, ok := plainInt(b); ok {
		return v, nil
	}
	s := string(b)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, errNotWhole
	}
	return int64(f), nil
}

// long reads a number, or a string holding one (gson's nextLong).
func (r *jsonReader) long(field string) int64 {
	var text []byte
	switch c := r.peek(); {
	case c == '"':
		text = r.quotedBytes()
	case c == '-' || c >= '0' && c <= '9':
		text = r.number()
	default:
		r.fail("%s: expected a number", field)
		return 0
	}
	if r.err != nil {
		return 0
	}
	v, err := wholeNumber(text)
	if err != nil {
		r.fail("%s: %q is not a whole number", field, text)
	}
	return v
}

func (r *jsonReader) boolean() bool {
	r.ws()
	switch {
	case r.pos+4 <= len(r.b) && string(r.b[r.pos:r.pos+4]) == "true":
		r.pos += 4
		return true
	case r.pos+5 <= len(r.b) && string(r.b[r.pos:r.pos+5]) == "false":
		r.pos += 5
		return false
	}
	r.fail("expected true or false")
	return false
}

// skip reads past one value of any kind.
func (r *jsonReader) skip() {
	switch c := r.peek(); {
	case c == '{':
		if r.beginObject() {
			for r.more() {
				r.field()
				r.skip()
			}
			r.endObject()
		}
	case c == '[':
		if r.beginArray() {
			for r.more() {
				r.skip()
			}
			r.endArray()
		}
	case c == '"':
		r.quotedBytes()
	case c == 't' || c == 'f':
		r.boolean()
	case c == 'n':
		if !r.null() {
			r.fail("bad literal")
		}
	case c == '-' || c >= '0' && c <= '9':
		r.number()
	case c == 0:
		r.fail("unexpected end of input")
	default:
		r.fail("unexpected %q", c)
	}
}
