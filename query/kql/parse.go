// Package kql parses Kibana Query Language and compiles it into a logs.Matcher
// that evaluates over the logs store's block columns (a value missing from
// a column's dictionary or bloom filter rules a block out unread), and
// matches single in-memory events (live tail).
//
// The grammar follows Kibana's (packages/kbn-es-query, grammar.peggy):
//
//	query      = or?
//	or         = and (SPACE+ "or" SPACE+ and)*
//	and        = not (SPACE+ "and" SPACE+ not)*
//	not        = "not" SPACE+ sub | sub
//	sub        = "(" or ")" | field ":" "{" or "}" | expression
//	expression = field RANGEOP literal | field ":" values | value
//	values     = "(" orValues ")" | value         (orValues: or/and/not of values)
//
// Keywords are case-insensitive; unquoted literals may contain spaces and
// stop before a keyword or one of \():<>"{} ; an unescaped * is a wildcard.
package kql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SyntaxError says where a query stopped making sense and what would have.
type SyntaxError struct {
	Pos      int // byte offset in the query
	Expected []string
	Found    string
	Query    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("KQL syntax error at position %d: expected %s but found %s", e.Pos, strings.Join(e.Expected, ", "), e.Found)
}

// CompileError is a parsed query that a compiler to another query language
// (the Elasticsearch DSL, LogsQL) cannot express: which construct, where it
// is in the query, and why.
type CompileError struct {
	Target    string // the language compiled to
	Pos       int    // byte offset in the query
	Construct string // the construct, as KQL
	Msg       string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("KQL to %s: %s at position %d: %s", e.Target, e.Construct, e.Pos, e.Msg)
}

// Node is a parsed query: Or, And, Not, MatchAll, Term, Range or Nested. The
// tree is the one Kibana's grammar builds (is, range, nested, and, or, not),
// so that compilers to other query languages (Elasticsearch DSL, LogsQL)
// can reproduce what Kibana would send; the evaluator in this package reads
// the same tree.
type Node interface {
	String() string
	kqlNode()
}

// Or matches what any of Nodes matches (two or more).
type Or struct{ Nodes []Node }

// And matches what all of Nodes match (two or more).
type And struct{ Nodes []Node }

// Not matches what Node does not.
type Not struct{ Node Node }

// MatchAll is the empty query.
type MatchAll struct{}

// Term is field:value, Kibana's "is". Free marks free text (no field
// given): Field is then the enclosing nested group's path prefix ("a." in
// a:{ x }), or empty at the top. A value of stars alone ("f:*") asks
// whether the field has a value.
type Term struct {
	Field Literal // the full path (nested prefixes applied); may hold wildcards
	Value Literal
	Free  bool
}

// Range is field < value and friends; Op is one of < <= > >=.
type Range struct {
	Field Literal
	Op    string
	Value Literal
}

// Nested is path:{ query }. Path is the full path (an enclosing group's path
// and a dot before it), and the field names inside Query are full paths too.
type Nested struct {
	Path  Literal
	Query Node
}

func (Or) kqlNode()       {}
func (And) kqlNode()      {}
func (Not) kqlNode()      {}
func (MatchAll) kqlNode() {}
func (Term) kqlNode()     {}
func (Range) kqlNode()    {}
func (Nested) kqlNode()   {}

// Literal is a quoted or unquoted string. For unquoted ones, Parts holds the
// text split at unescaped wildcards (len(Parts) > 1 means a wildcard); Text
// is Parts joined with "*".
type Literal struct {
	Pos    int // where it starts in the query
	Text   string
	Quoted bool
	Parts  []string
}

// Wildcard says whether the literal holds an unescaped *.
func (l Literal) Wildcard() bool { return len(l.Parts) > 1 }

// OnlyStars says whether the literal is unquoted stars alone ("*", "**"):
// as a value it asks whether a field has any value.
func (l Literal) OnlyStars() bool { return !l.Quoted && l.Wildcard() && allStars(l) }

// Matches says whether s is the literal's text or, when it holds wildcards,
// matches it as a pattern (* stands for any run of characters).
func (l Literal) Matches(s string) bool { return matchParts(l.Parts, s) }

func (l Literal) String() string {
	if l.Quoted {
		return fmt.Sprintf("%q", l.Text)
	}
	return strings.Join(l.Parts, "*")
}

func (n Or) String() string       { return "(" + join(n.Nodes, " OR ") + ")" }
func (n And) String() string      { return "(" + join(n.Nodes, " AND ") + ")" }
func (n Not) String() string      { return "NOT " + n.Node.String() }
func (n MatchAll) String() string { return "*" }
func (n Term) String() string {
	if !n.Free && n.Value.OnlyStars() {
		return n.Field.String() + ":*"
	}
	return fieldStr(n) + ":" + n.Value.String()
}
func (n Range) String() string  { return n.Field.String() + n.Op + n.Value.String() }
func (n Nested) String() string { return n.Path.String() + ":{" + n.Query.String() + "}" }
func fieldStr(n Term) string {
	if n.Free {
		return "*"
	}
	return n.Field.String()
}

func join(ns []Node, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, sep)
}

type parser struct {
	s   string
	pos int
	// furthest failure, as a PEG parser reports it
	errPos   int
	expected []string
}

// Parse parses a KQL query into its tree; a *SyntaxError says where it
// stopped making sense.
func Parse(q string) (Node, error) { return parse(q) }

func parse(q string) (Node, error) {
	p := &parser{s: q}
	p.spaces()
	if p.pos == len(p.s) {
		return MatchAll{}, nil
	}
	n, ok := p.or("")
	if ok {
		p.spaces()
		if p.pos == len(p.s) {
			return n, nil
		}
		p.fail(p.pos, "AND", "OR", "end of query")
	}
	return nil, p.err()
}

func (p *parser) fail(pos int, what ...string) {
	if pos > p.errPos {
		p.errPos, p.expected = pos, nil
	}
	if pos == p.errPos {
		for _, w := range what {
			dup := false
			for _, e := range p.expected {
				dup = dup || e == w
			}
			if !dup {
				p.expected = append(p.expected, w)
			}
		}
	}
}

func (p *parser) err() error {
	found := "end of query"
	if p.errPos < len(p.s) {
		r, _ := utf8.DecodeRuneInString(p.s[p.errPos:])
		found = fmt.Sprintf("%q", string(r))
	}
	exp := p.expected
	if len(exp) == 0 {
		exp = []string{"a query"}
	}
	return &SyntaxError{Pos: p.errPos, Expected: exp, Found: found, Query: p.s}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (p *parser) spaces() int {
	start := p.pos
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
	return p.pos - start
}

// keywordAt reports the length of SPACE+ kw SPACE+ at i (0 if absent).
func keywordAt(s string, i int, kw string) int {
	j := i
	for j < len(s) && isSpace(s[j]) {
		j++
	}
	if j == i || len(s)-j < len(kw) || !strings.EqualFold(s[j:j+len(kw)], kw) {
		return 0
	}
	k := j + len(kw)
	if k == len(s) || s[k] == ')' {
		// A dangling keyword ("a and", "(a or)") is an operator missing its
		// right side, not part of a value: report it as such.
		return k - i
	}
	if !isSpace(s[k]) {
		return 0
	}
	for k < len(s) && isSpace(s[k]) {
		k++
	}
	return k - i
}

// notAt reports the length of "not" SPACE+ at i (0 if absent).
func notAt(s string, i int) int {
	if len(s)-i < 4 || !strings.EqualFold(s[i:i+3], "not") || !isSpace(s[i+3]) {
		return 0
	}
	k := i + 3
	for k < len(s) && isSpace(s[k]) {
		k++
	}
	return k - i
}

// or parses a disjunction. prefix is prepended to field names (nested queries).
func (p *parser) or(prefix string) (Node, bool) {
	first, ok := p.and(prefix)
	if !ok {
		return nil, false
	}
	kids := []Node{first}
	for {
		n := keywordAt(p.s, p.pos, "or")
		if n == 0 {
			p.fail(p.pos+p.peekSpaces(), "OR")
			break
		}
		save := p.pos
		p.pos += n
		k, ok := p.and(prefix)
		if !ok {
			p.pos = save
			return nil, false
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, true
	}
	return Or{kids}, true
}

func (p *parser) peekSpaces() int {
	i := p.pos
	for i < len(p.s) && isSpace(p.s[i]) {
		i++
	}
	return i - p.pos
}

func (p *parser) and(prefix string) (Node, bool) {
	first, ok := p.not(prefix)
	if !ok {
		return nil, false
	}
	kids := []Node{first}
	for {
		n := keywordAt(p.s, p.pos, "and")
		if n == 0 {
			p.fail(p.pos+p.peekSpaces(), "AND")
			break
		}
		p.pos += n
		k, ok := p.not(prefix)
		if !ok {
			return nil, false
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, true
	}
	return And{kids}, true
}

func (p *parser) not(prefix string) (Node, bool) {
	if n := notAt(p.s, p.pos); n > 0 {
		save := p.pos
		p.pos += n
		k, ok := p.sub(prefix)
		if ok {
			return Not{k}, true
		}
		// "not" may also begin a plain value ("notable"): fall through.
		p.pos = save
	}
	return p.sub(prefix)
}

func (p *parser) sub(prefix string) (Node, bool) {
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		p.pos++
		p.spaces()
		n, ok := p.or(prefix)
		if !ok {
			return nil, false
		}
		p.spaces()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			p.fail(p.pos, `")"`, "AND", "OR")
			return nil, false
		}
		p.pos++
		return n, true
	}
	return p.expression(prefix)
}

func (p *parser) expression(prefix string) (Node, bool) {
	lit, ok := p.literal(true)
	if !ok {
		p.fail(p.pos, "NOT", `"("`, "field name", "value")
		return nil, false
	}
	save := p.pos
	p.spaces()
	if p.pos < len(p.s) {
		switch c := p.s[p.pos]; {
		case c == ':':
			field := prefixed(prefix, lit)
			p.pos++
			p.spaces()
			if p.pos < len(p.s) && p.s[p.pos] == '{' {
				p.pos++
				p.spaces()
				n, ok := p.or(field.Text + ".")
				if !ok {
					return nil, false
				}
				p.spaces()
				if p.pos >= len(p.s) || p.s[p.pos] != '}' {
					p.fail(p.pos, `"}"`, "AND", "OR")
					return nil, false
				}
				p.pos++
				return Nested{Path: field, Query: n}, true
			}
			return p.listOfValues(field)
		case c == '<' || c == '>':
			op := string(c)
			p.pos++
			if p.pos < len(p.s) && p.s[p.pos] == '=' {
				op += "="
				p.pos++
			}
			p.spaces()
			v, ok := p.literal(false)
			if !ok {
				p.fail(p.pos, "value")
				return nil, false
			}
			return Range{Field: prefixed(prefix, lit), Op: op, Value: v}, true
		}
	}
	p.pos = save
	return Term{Field: Literal{Text: prefix, Parts: []string{prefix}}, Value: lit, Free: true}, true
}

func allStars(l Literal) bool {
	for _, p := range l.Parts {
		if strings.TrimSpace(p) != "" {
			return false
		}
	}
	return true
}

func prefixed(prefix string, l Literal) Literal {
	if prefix == "" {
		return l
	}
	out := Literal{Text: prefix + l.Text, Quoted: l.Quoted, Parts: append([]string(nil), l.Parts...)}
	if len(out.Parts) == 0 {
		out.Parts = []string{""}
	}
	out.Parts[0] = prefix + out.Parts[0]
	return out
}

// listOfValues parses what follows "field:".
func (p *parser) listOfValues(field Literal) (Node, bool) {
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		p.pos++
		p.spaces()
		n, ok := p.orValues(field)
		if !ok {
			return nil, false
		}
		p.spaces()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			p.fail(p.pos, `")"`, "AND", "OR")
			return nil, false
		}
		p.pos++
		return n, true
	}
	return p.value(field)
}

func (p *parser) value(field Literal) (Node, bool) {
	v, ok := p.literal(false)
	if !ok {
		p.fail(p.pos, `"("`, "value")
		return nil, false
	}
	return Term{Field: field, Value: v}, true
}

func (p *parser) orValues(field Literal) (Node, bool) {
	first, ok := p.andValues(field)
	if !ok {
		return nil, false
	}
	kids := []Node{first}
	for {
		n := keywordAt(p.s, p.pos, "or")
		if n == 0 {
			p.fail(p.pos+p.peekSpaces(), "OR")
			break
		}
		p.pos += n
		k, ok := p.andValues(field)
		if !ok {
			return nil, false
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, true
	}
	return Or{kids}, true
}

func (p *parser) andValues(field Literal) (Node, bool) {
	first, ok := p.notValues(field)
	if !ok {
		return nil, false
	}
	kids := []Node{first}
	for {
		n := keywordAt(p.s, p.pos, "and")
		if n == 0 {
			p.fail(p.pos+p.peekSpaces(), "AND")
			break
		}
		p.pos += n
		k, ok := p.notValues(field)
		if !ok {
			return nil, false
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, true
	}
	return And{kids}, true
}

func (p *parser) notValues(field Literal) (Node, bool) {
	if n := notAt(p.s, p.pos); n > 0 {
		save := p.pos
		p.pos += n
		if k, ok := p.listOfValues(field); ok {
			return Not{k}, true
		}
		p.pos = save
	}
	return p.listOfValues(field)
}

const specials = `\():<>"*{}`

// literal parses a quoted string or an unquoted literal. In field position
// (asField) a literal may not start with "not " — that is the NOT operator.
func (p *parser) literal(asField bool) (Literal, bool) {
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		return p.quoted()
	}
	var parts []string
	var cur strings.Builder
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '\\' {
			r, n, ok := unescape(p.s[p.pos:], false)
			if !ok {
				p.fail(p.pos, "escape sequence")
				return Literal{}, false
			}
			cur.WriteString(r)
			p.pos += n
			continue
		}
		if c == '*' {
			parts = append(parts, cur.String())
			cur.Reset()
			p.pos++
			continue
		}
		if strings.IndexByte(specials, c) >= 0 {
			break
		}
		if isSpace(c) && (keywordAt(p.s, p.pos, "or") > 0 || keywordAt(p.s, p.pos, "and") > 0) {
			break
		}
		if notAt(p.s, p.pos) > 0 && (p.pos == start || isSpace(p.s[p.pos-1])) {
			break
		}
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		cur.WriteRune(r)
		p.pos += n
	}
	if p.pos == start {
		return Literal{}, false
	}
	parts = append(parts, cur.String())
	// Unquoted literals are trimmed (Kibana trims the joined characters).
	parts[0] = strings.TrimLeftFunc(parts[0], unicode.IsSpace)
	parts[len(parts)-1] = strings.TrimRightFunc(parts[len(parts)-1], unicode.IsSpace)
	if len(parts) == 1 && parts[0] == "" {
		// Only spaces: not a literal.
		p.pos = start
		return Literal{}, false
	}
	return Literal{Pos: start, Text: strings.Join(parts, "*"), Parts: parts}, true
}

func (p *parser) quoted() (Literal, bool) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return Literal{Pos: start, Text: b.String(), Quoted: true, Parts: []string{b.String()}}, true
		case '\\':
			r, n, ok := unescape(p.s[p.pos:], true)
			if !ok {
				p.fail(p.pos, "escape sequence")
				return Literal{}, false
			}
			b.WriteString(r)
			p.pos += n
		default:
			r, n := utf8.DecodeRuneInString(p.s[p.pos:])
			b.WriteRune(r)
			p.pos += n
		}
	}
	p.fail(p.pos, `closing '"' for the quote at position `+fmt.Sprint(start))
	return Literal{}, false
}

// unescape decodes one backslash escape at the start of s.
func unescape(s string, quoted bool) (string, int, bool) {
	if len(s) < 2 {
		return "", 0, false
	}
	switch c := s[1]; c {
	case 't':
		return "\t", 2, true
	case 'r':
		return "\r", 2, true
	case 'n':
		if !quoted && len(s) >= 4 && strings.EqualFold(s[1:4], "not") {
			return s[1:4], 4, true
		}
		return "\n", 2, true
	case 'u':
		if len(s) >= 6 {
			var r rune
			if _, err := fmt.Sscanf(s[2:6], "%04x", &r); err == nil {
				return string(r), 6, true
			}
		}
		return "", 0, false
	}
	if quoted {
		if s[1] == '"' || s[1] == '\\' {
			return s[1:2], 2, true
		}
		// Other backslashes in quotes stay as they are.
		return `\`, 1, true
	}
	if strings.IndexByte(specials, s[1]) >= 0 {
		return s[1:2], 2, true
	}
	for _, kw := range []string{"or", "and", "not"} {
		if len(s) >= 1+len(kw) && strings.EqualFold(s[1:1+len(kw)], kw) {
			return s[1 : 1+len(kw)], 1 + len(kw), true
		}
	}
	return "", 0, false
}
