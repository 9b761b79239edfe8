// Package graphite evaluates Graphite target expressions
// (`aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)`) over series
// fetched from the metrics store, with graphite-web 1.1's semantics: the same
// series names, timestamps, null handling and consolidation. The e2e
// differential suite holds every function against a real graphite-web.
//
// go-graphite/carbonapi was considered: its expr packages pull in its own
// protobuf types, zipper and a large dependency tree, which is far more than
// a function library, and its functions differ from graphite-web's in names
// and edge cases; the functions are written here instead, from graphite-web's
// documented behaviour.
package graphite

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kind says what an expression is.
type Kind uint8

const (
	KindPath Kind = iota
	KindCall
	KindString
	KindInt
	KindFloat
	KindBool
	KindNone
)

// Expr is a parsed target: a path (glob), a call, or a literal argument.
type Expr struct {
	Pos    int
	Kind   Kind
	Path   string // KindPath
	Func   string // KindCall
	Args   []*Expr
	Kwargs []Kwarg
	Raw    string // a call's source text (seriesByTag names its series by it)
	Str    string // KindString: the text between the quotes, escapes kept as written
	Num    float64
	Bool   bool
}

// Kwarg is a keyword argument, name=value.
type Kwarg struct {
	Name string
	Val  *Expr
}

// SyntaxError says where a target stopped making sense.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("target syntax error at position %d: %s", e.Pos, e.Msg)
}

// Parse parses one target, with graphite-web's grammar: calls with
// positional then keyword arguments, numbers, quoted strings, true/false,
// None, inf, path globs with {a,b} and [0-9], and pipes (`a.b|scale(2)`).
func Parse(s string) (*Expr, error) {
	p := &tparser{s: s}
	e, err := p.piped()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.s) {
		return nil, &SyntaxError{p.i, fmt.Sprintf("unexpected %q after the expression", p.s[p.i])}
	}
	return e, nil
}

type tparser struct {
	s string
	i int
}

func (p *tparser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// pathSymbols end a path element unless escaped with a backslash.
const pathSymbols = "(){},.'\"\\| \t\r\n"

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdent(c byte) bool      { return isIdentStart(c) || c >= '0' && c <= '9' }

// piped reads an expression followed by `|func(args)` calls, each of which
// takes what is left of it as its first argument.
func (p *tparser) piped() (*Expr, error) {
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '|' {
			p.i = save
			return e, nil
		}
		p.i++
		p.ws()
		start := p.i
		c, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c.Kind != KindCall {
			return nil, &SyntaxError{start, "expected a function call after '|'"}
		}
		c.Args = append([]*Expr{e}, c.Args...)
		e = c
	}
}

func (p *tparser) expr() (*Expr, error) {
	p.ws()
	start := p.i
	if p.i >= len(p.s) {
		return nil, &SyntaxError{p.i, "expected a path, function, number or string but found end of target"}
	}
	c := p.s[p.i]
	if c == '"' || c == '\'' {
		j := p.i + 1
		for j < len(p.s) && p.s[j] != c {
			if p.s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(p.s) {
			return nil, &SyntaxError{p.i, "unterminated string"}
		}
		v := p.s[p.i+1 : j]
		p.i = j + 1
		return &Expr{Pos: start, Kind: KindString, Str: v}, nil
	}
	if isIdentStart(c) {
		j := p.i
		for j < len(p.s) && isIdent(p.s[j]) {
			j++
		}
		k := j
		for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
			k++
		}
		if k < len(p.s) && p.s[k] == '(' {
			return p.call(start, p.s[p.i:j], k+1)
		}
	}
	if e, ok := p.number(); ok {
		return e, nil
	}
	return p.path()
}

var numberRE = regexp.MustCompile(`^-?\d+(\.\d+)?([eE]-?\d+)?`)

// number reads a literal number; graphite-web only takes one followed by
// ',' or ')' or the end (so 1.5.x is a path).
func (p *tparser) number() (*Expr, bool) {
	m := numberRE.FindString(p.s[p.i:])
	if m == "" {
		return nil, false
	}
	j := p.i + len(m)
	k := j
	for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
		k++
	}
	if k < len(p.s) && p.s[k] != ',' && p.s[k] != ')' && p.s[k] != '|' {
		return nil, false
	}
	f, err := strconv.ParseFloat(m, 64)
	if err != nil {
		return nil, false
	}
	e := &Expr{Pos: p.i, Kind: KindFloat, Num: f}
	if !strings.ContainsAny(m, ".eE") {
		e.Kind = KindInt
	}
	p.i = j
	return e, true
}

func (p *tparser) path() (*Expr, error) {
	start := p.i
	var b strings.Builder
	depth := 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' && p.i+1 < len(p.s) {
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		switch {
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == ',' && depth > 0, c == '.':
		case strings.IndexByte(pathSymbols, c) >= 0:
			goto done
		}
		b.WriteByte(c)
		p.i++
	}
done:
	tok := b.String()
	if tok == "" {
		if p.i < len(p.s) {
			return nil, &SyntaxError{p.i, fmt.Sprintf("expected a path, function, number or string but found %q", p.s[p.i])}
		}
		return nil, &SyntaxError{p.i, "expected a path, function, number or string but found end of target"}
	}
	switch strings.ToLower(tok) {
	case "true", "false":
		return &Expr{Pos: start, Kind: KindBool, Bool: strings.EqualFold(tok, "true")}, nil
	case "none":
		return &Expr{Pos: start, Kind: KindNone}, nil
	case "inf":
		return &Expr{Pos: start, Kind: KindFloat, Num: inf}, nil
	}
	return &Expr{Pos: start, Kind: KindPath, Path: tok}, nil
}

func (p *tparser) call(start int, name string, after int) (*Expr, error) {
	p.i = after
	call := &Expr{Pos: start, Kind: KindCall, Func: name}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		call.Raw = p.s[start:p.i]
		return call, nil
	}
	for {
		p.ws()
		// keyword argument: name=value
		kwStart := p.i
		j := p.i
		for j < len(p.s) && isIdent(p.s[j]) {
			j++
		}
		k := j
		for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
			k++
		}
		if j > p.i && isIdentStart(p.s[p.i]) && k < len(p.s) && p.s[k] == '=' {
			p.i = k + 1
			v, err := p.piped()
			if err != nil {
				return nil, err
			}
			call.Kwargs = append(call.Kwargs, Kwarg{Name: p.s[kwStart:j], Val: v})
		} else {
			if len(call.Kwargs) > 0 {
				return nil, &SyntaxError{p.i, "positional argument after a keyword argument"}
			}
			a, err := p.piped()
			if err != nil {
				return nil, err
			}
			call.Args = append(call.Args, a)
		}
		p.ws()
		if p.i >= len(p.s) {
			return nil, &SyntaxError{p.i, fmt.Sprintf("expected ',' or ')' to close %s( at position %d but found end of target", name, start)}
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			continue
		case ')':
			p.i++
			call.Raw = p.s[start:p.i]
			return call, nil
		}
		return nil, &SyntaxError{p.i, fmt.Sprintf("expected ',' or ')' but found %q", p.s[p.i])}
	}
}

// String prints the expression back in target syntax.
func (e *Expr) String() string {
	switch e.Kind {
	case KindCall:
		var args []string
		for _, a := range e.Args {
			args = append(args, a.String())
		}
		for _, k := range e.Kwargs {
			args = append(args, k.Name+"="+k.Val.String())
		}
		return e.Func + "(" + strings.Join(args, ",") + ")"
	case KindString:
		return "'" + e.Str + "'"
	case KindInt, KindFloat:
		return strconv.FormatFloat(e.Num, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(e.Bool)
	case KindNone:
		return "None"
	}
	return e.Path
}

// GlobRegexp turns a Graphite path glob into an anchored RE2 expression:
// * and ? stay within one node, {a,b} alternates, [0-9] is a class.
func GlobRegexp(glob string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch c {
		case '*':
			b.WriteString(`[^.]*`)
		case '?':
			b.WriteString(`[^.]`)
		case '{':
			end := strings.IndexByte(glob[i:], '}')
			if end < 0 {
				b.WriteString(`\{`)
				continue
			}
			alts := strings.Split(glob[i+1:i+end], ",")
			for j := range alts {
				alts[j] = GlobRegexp(alts[j])
				alts[j] = strings.TrimSuffix(strings.TrimPrefix(alts[j], "^"), "$")
			}
			b.WriteString("(?:" + strings.Join(alts, "|") + ")")
			i += end
		case '[':
			end := strings.IndexByte(glob[i:], ']')
			class := glob[i : i+end+1]
			if _, err := regexp.Compile(class); end < 0 || err != nil {
				// Not a usable character class ("[]", "[z-a]"): match it literally.
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(class)
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return b.String()
}
