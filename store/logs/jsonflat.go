package logs

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A purpose-built JSON reader: it validates a document and flattens it into
// leaves in one pass, without building map[string]any. encoding/json's
// generic decoding was half of all ingest CPU; this reader is several times
// faster and allocates only the strings it returns. (Considered: jsoniter and
// fastjson/gjson — the first still builds maps, the second two do not
// validate and flatten in one pass; this is 300 lines we can fuzz.)

// MaxDepth bounds nesting; deeper documents are rejected, not recursed into.
const MaxDepth = 512

// TopKey is one top-level key of an object with its raw value.
type TopKey struct {
	Key string
	Val []byte // the value's JSON text
}

// Parsed is a flattened JSON document.
type Parsed struct {
	Fields []Field
	// Top lists the root object's keys in order (nil when the root is not an object).
	Top []TopKey
	// Elems holds the raw JSON of each element when the root is an array.
	Elems [][]byte
	// Root is the first byte of the root value: '{', '[', '"', 't', 'f', 'n' or a digit/'-'.
	Root byte
	// N is the number of bytes consumed, trailing whitespace included.
	N int
}

type jsonErr struct {
	pos int
	msg string
}

func (e *jsonErr) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.pos, e.msg) }

// ParseJSON reads one JSON value from the start of b. It does not require b
// to end after the value: the caller checks Parsed.N against len(b).
func ParseJSON(b []byte) (Parsed, error) { return parseJSON(b, false) }

// ScanJSON is ParseJSON without Fields: it validates the value and lists
// the root's keys (or elements), allocating little. Intakes use it: the
// store reads the leaves itself when it seals a block.
func ScanJSON(b []byte) (Parsed, error) { return parseJSON(b, true) }

func parseJSON(b []byte, scan bool) (Parsed, error) {
	p := jsonParser{b: b, scan: scan}
	p.ws()
	if p.i >= len(b) {
		return Parsed{}, &jsonErr{p.i, "empty"}
	}
	var res Parsed
	res.Root = b[p.i]
	switch res.Root {
	case '{':
		res.Top = make([]TopKey, 0, 16)
		p.top = &res.Top
	case '[':
		p.elems = &res.Elems
	}
	if err := p.value("", 0); err != nil {
		return Parsed{}, err
	}
	p.ws()
	res.Fields, res.N = p.out, p.i
	return res, nil
}

// Flatten validates raw (one JSON value, nothing after it) and returns its leaves.
func Flatten(raw []byte) ([]Field, error) {
	p, err := ParseJSON(raw)
	if err != nil {
		return nil, err
	}
	if p.N != len(raw) {
		return nil, &jsonErr{p.N, "data after the value"}
	}
	return p.Fields, nil
}

type jsonParser struct {
	b     []byte
	i     int
	out   []Field
	top   *[]TopKey
	elems *[][]byte
	scan  bool // validate only: no Fields
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

var errDepth = errors.New("nested too deep")

func (p *jsonParser) fail(msg string) error { return &jsonErr{p.i, msg} }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *jsonParser) value(path string, depth int) error {
	if depth > MaxDepth {
		return &jsonErr{p.i, errDepth.Error()}
	}
	p.ws()
	if p.i >= len(p.b) {
		return p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return p.fail("expected a string key")
			}
			var key string
			var err error
			switch {
			case p.scan && depth > 0:
				err = p.skipStr() // only the root's keys are kept
			case p.scan:
				key, err = p.rawStr()
			default:
				key, err = p.str()
			}
			if err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return p.fail("expected ':'")
			}
			p.i++
			p.ws()
			start := p.i
			sub := ""
			if !p.scan {
				sub = join(path, key)
			}
			if err := p.value(sub, depth+1); err != nil {
				return err
			}
			if depth == 0 && p.top != nil {
				*p.top = append(*p.top, TopKey{Key: key, Val: p.b[start:p.i]})
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("unexpected end in object")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				return nil
			}
			return p.fail("expected ',' or '}'")
		}
	case c == '[':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return nil
		}
		for {
			p.ws()
			start := p.i
			if err := p.value(path, depth+1); err != nil {
				return err
			}
			if depth == 0 && p.elems != nil {
				*p.elems = append(*p.elems, p.b[start:p.i])
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("unexpected end in array")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == ']' {
				p.i++
				return nil
			}
			return p.fail("expected ',' or ']'")
		}
	case c == '"':
		if p.scan {
			return p.skipStr()
		}
		s, err := p.str()
		if err != nil {
			return err
		}
		p.out = append(p.out, Field{Path: path, Kind: KindString, Str: s})
	case c == 't':
		return p.lit("true", path, KindBool)
	case c == 'f':
		return p.lit("false", path, KindBool)
	case c == 'n':
		return p.lit("null", path, KindNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num(path)
	default:
		return p.fail(fmt.Sprintf("unexpected %q", c))
	}
	return nil
}

func (p *jsonParser) lit(word, path string, k Kind) error {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.fail("bad literal")
	}
	p.i += len(word)
	if p.scan {
		return nil
	}
	s := word
	if k == KindNull {
		s = ""
	}
	p.out = append(p.out, Field{Path: path, Kind: k, Str: s})
	return nil
}

// rawStr reads the string at p.i: its bytes themselves (no copy) when
// they are its text, which the caller must then not modify.
func (p *jsonParser) rawStr() (string, error) {
	start := p.i
	sp := splitter{b: p.b, i: p.i}
	escaped, err := sp.skipString()
	if err != nil || escaped {
		return p.str()
	}
	p.i = sp.i
	return unsafeString(p.b[start+1 : p.i-1]), nil
}

// skipStr validates the string at p.i without decoding it.
func (p *jsonParser) skipStr() error {
	sp := splitter{b: p.b, i: p.i}
	_, err := sp.skipString()
	p.i = sp.i
	return err
}

func (p *jsonParser) num(path string) error {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return p.fail("bad number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return p.fail("bad number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return p.fail("bad number")
		}
	}
	if p.scan {
		return nil
	}
	text := string(p.b[start:p.i])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// 1e400 and friends: keep the text, searchable as a keyword.
		p.out = append(p.out, Field{Path: path, Kind: KindString, Str: text})
		return nil
	}
	p.out = append(p.out, Field{Path: path, Kind: KindNumber, Str: text, Num: f})
	return nil
}

// str reads a string at p.i (which is '"'), decoding escapes. Invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func (p *jsonParser) str() (string, error) {
	p.i++
	start := p.i
	// Fast path: no escapes, valid UTF-8.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if utf8.Valid(s) {
				return string(s), nil
			}
			return string([]rune(string(s))), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if utf8.Valid(buf) {
				return string(buf), nil
			}
			return string([]rune(string(buf))), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.fail("unexpected end in escape")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if v, ok := p.hex4(); ok {
							r2 = v
						} else {
							p.i = save
						}
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						r = utf8.RuneError
						if r2 >= 0 {
							buf = utf8.AppendRune(buf, utf8.RuneError)
							r = r2
							if utf16.IsSurrogate(r2) {
								r = utf8.RuneError
							}
						}
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.fail("bad escape")
			}
		default:
			buf = append(buf, c)
			p.i++
		}
	}
	return "", p.fail("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
