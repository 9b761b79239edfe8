// Package graphite evaluates Graphite target expressions
// (`aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)`) over series
// fetched from the metrics store, with Graphite's null handling.
//
// go-graphite/carbonapi was considered: its expr packages pull in its own
// protobuf types, zipper and a large dependency tree, which is far more than
// a function library; the functions obs offers are written here instead.
package graphite

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Expr is a parsed target: a path (glob), a call, or a literal argument.
type Expr struct {
	Pos  int
	Path string  // set for a path expression
	Func string  // set for a call
	Args []*Expr // call arguments
	Str  *string // string literal
	Num  *float64
	Bool *bool
}

// SyntaxError says where a target stopped making sense.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("target syntax error at position %d: %s", e.Pos, e.Msg)
}

// Parse parses one target.
func Parse(s string) (*Expr, error) {
	p := &tparser{s: s}
	e, err := p.expr()
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
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("._-*?[]{}:;=@#$%^~<>!&|+", c) >= 0
}

func (p *tparser) expr() (*Expr, error) {
	p.ws()
	start := p.i
	if p.i >= len(p.s) {
		return nil, &SyntaxError{p.i, "expected a path, function, number or string but found end of target"}
	}
	c := p.s[p.i]
	if c == '"' || c == '\'' {
		end := strings.IndexByte(p.s[p.i+1:], c)
		if end < 0 {
			return nil, &SyntaxError{p.i, "unterminated string"}
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return &Expr{Pos: start, Str: &v}, nil
	}
	// a path, a number, a bool or a function name: read path characters,
	// with commas allowed inside {…}
	depth := 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '{' {
			depth++
		} else if c == '}' {
			depth--
		} else if c == ',' && depth > 0 {
			p.i++
			continue
		}
		if !isPathChar(c) {
			break
		}
		p.i++
	}
	tok := p.s[start:p.i]
	if tok == "" {
		return nil, &SyntaxError{p.i, fmt.Sprintf("expected a path, function, number or string but found %q", p.s[p.i])}
	}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		call := &Expr{Pos: start, Func: tok}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ')' {
			p.i++
			return call, nil
		}
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			// keyword arguments (name=value) are read as their value
			call.Args = append(call.Args, a)
			p.ws()
			if p.i >= len(p.s) {
				return nil, &SyntaxError{p.i, fmt.Sprintf("expected ',' or ')' to close %s( at position %d but found end of target", tok, start)}
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ')' {
				p.i++
				return call, nil
			}
			return nil, &SyntaxError{p.i, fmt.Sprintf("expected ',' or ')' but found %q", p.s[p.i])}
		}
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil {
		return &Expr{Pos: start, Num: &f}, nil
	}
	switch strings.ToLower(tok) {
	case "true", "false":
		b := strings.ToLower(tok) == "true"
		return &Expr{Pos: start, Bool: &b}, nil
	}
	if i := strings.IndexByte(tok, '='); i > 0 && !strings.ContainsAny(tok[:i], ".*") {
		// keyword argument such as func=sum: keep its value
		v := tok[i+1:]
		return &Expr{Pos: start + i + 1, Str: &v}, nil
	}
	return &Expr{Pos: start, Path: tok}, nil
}

// String prints the expression back as Graphite names series.
func (e *Expr) String() string {
	switch {
	case e.Func != "":
		var args []string
		for _, a := range e.Args {
			args = append(args, a.String())
		}
		return e.Func + "(" + strings.Join(args, ",") + ")"
	case e.Str != nil:
		return "'" + *e.Str + "'"
	case e.Num != nil:
		return strconv.FormatFloat(*e.Num, 'f', -1, 64)
	case e.Bool != nil:
		return strconv.FormatBool(*e.Bool)
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
			b.WriteString(regexpQuote(c))
		}
	}
	b.WriteString("$")
	return b.String()
}

func regexpQuote(c byte) string {
	if strings.IndexByte(`\.+()|^$`, c) >= 0 {
		return `\` + string(c)
	}
	return string(c)
}
