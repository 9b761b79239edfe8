package kql

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obs-dev/obs/store/logs"
)

// Query is a compiled KQL query; it implements logs.Matcher.
type Query struct {
	src  string
	root expr
	key  string // MatchKey: "kql:" and src, or "" when the query reads the clock
}

// Compile parses q. Relative dates (now-15m) are resolved against now.
func Compile(q string, now time.Time) (*Query, error) {
	n, err := parse(q)
	if err != nil {
		return nil, err
	}
	e, err := compile(n, now)
	if err != nil {
		return nil, err
	}
	qq := &Query{src: q, root: e}
	if !readsClock(n) {
		qq.key = "kql:" + q // apart from any other language's keys
	}
	return qq, nil
}

// readsClock says whether a query has a relative date (now-15m): the
// rows it matches then change with the time it was compiled at.
func readsClock(n Node) bool {
	switch t := n.(type) {
	case Or:
		return slices.ContainsFunc(t.Nodes, readsClock)
	case And:
		return slices.ContainsFunc(t.Nodes, readsClock)
	case Not:
		return readsClock(t.Node)
	case Nested:
		return readsClock(t.Query)
	case Range:
		return strings.HasPrefix(strings.TrimSpace(t.Value.Text), "now")
	}
	return false
}

// MustCompile is Compile for queries known to be valid (tests, built-ins).
func MustCompile(q string) *Query {
	c, err := Compile(q, time.Now())
	if err != nil {
		panic(err)
	}
	return c
}

func (q *Query) String() string { return q.src }

// MatchKey implements logs.Keyed: the log store keeps a sealed block's
// match count under it.
func (q *Query) MatchKey() string { return q.key }

// MatchBlock implements logs.Matcher.
func (q *Query) MatchBlock(b *logs.Block) (logs.Bits, bool) { return q.root.block(b) }

// MatchFields implements logs.Matcher.
func (q *Query) MatchFields(fields []logs.Field) bool { return q.root.event(fields) }

// expr is one clause, evaluated on a block's columns (block) or on one
// event's fields (event); the two must agree. block prunes by itself: a
// value missing from a column's dictionary or bloom filter gives no rows
// without the column being read.
type expr interface {
	block(b *logs.Block) (logs.Bits, bool)
	event(fields []logs.Field) bool
}

func compile(n Node, now time.Time) (expr, error) {
	switch t := n.(type) {
	case MatchAll:
		return matchAll{}, nil
	case Or, And:
		var kids []Node
		if o, ok := t.(Or); ok {
			kids = o.Nodes
		} else {
			kids = t.(And).Nodes
		}
		var es []expr
		for _, k := range kids {
			e, err := compile(k, now)
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
		if _, ok := t.(Or); ok {
			return orExpr(es), nil
		}
		return andExpr(es), nil
	case Not:
		e, err := compile(t.Node, now)
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	case Term:
		if !t.Free && t.Value.OnlyStars() {
			return existsExpr{sel: newSelector(t.Field)}, nil
		}
		return newTerm(t), nil
	case Range:
		return newRange(t, now)
	case Nested:
		// Field names inside are full paths already: a flattened event
		// has no nested documents to scope them to.
		return compile(t.Query, now)
	}
	panic("kql: unknown node")
}

// selector picks the fields a clause applies to: one path, a wildcard
// pattern, or (free text) every field.
type selector struct {
	path  string
	parts []string // wildcard pattern; nil when exact
	all   bool
}

func newSelector(f Literal) selector {
	if f.Text == "" && !f.Wildcard() {
		return selector{all: true}
	}
	if !f.Quoted && f.Wildcard() {
		if allStars(f) {
			return selector{all: true}
		}
		return selector{parts: f.Parts}
	}
	return selector{path: f.Text}
}

func (s selector) matches(path string) bool {
	switch {
	case s.all:
		return true
	case s.parts != nil:
		return matchParts(s.parts, path)
	}
	return path == s.path
}

func (s selector) fields(b *logs.Block) []*logs.Column {
	if !s.all && s.parts == nil {
		if f := b.Field(s.path); f != nil {
			return []*logs.Column{f}
		}
		return nil
	}
	var out []*logs.Column
	for _, name := range b.Fields() {
		if s.matches(name) {
			out = append(out, b.Field(name))
		}
	}
	return out
}

// matchParts matches s against a pattern split at its wildcards.
func matchParts(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

type matchAll struct{}

func (matchAll) block(b *logs.Block) (logs.Bits, bool) { return logs.AllBits(b.N), true }
func (matchAll) event([]logs.Field) bool               { return true }

type orExpr []expr

func (o orExpr) block(blk *logs.Block) (logs.Bits, bool) {
	acc, exact := o[0].block(blk)
	for _, e := range o[1:] {
		b, ex := e.block(blk)
		acc.Or(b)
		exact = exact && ex
	}
	return acc, exact
}

func (o orExpr) event(f []logs.Field) bool {
	for _, e := range o {
		if e.event(f) {
			return true
		}
	}
	return false
}

type andExpr []expr

func (a andExpr) block(blk *logs.Block) (logs.Bits, bool) {
	acc, exact := a[0].block(blk)
	for _, e := range a[1:] {
		if acc.Empty() {
			break
		}
		b, ex := e.block(blk)
		acc.And(b)
		exact = exact && ex
	}
	return acc, exact
}

func (a andExpr) event(f []logs.Field) bool {
	for _, e := range a {
		if !e.event(f) {
			return false
		}
	}
	return true
}

type notExpr struct{ e expr }

func (n notExpr) block(blk *logs.Block) (logs.Bits, bool) {
	b, exact := n.e.block(blk)
	if !exact {
		// The complement of a superset is not a superset: check every row.
		return logs.AllBits(blk.N), false
	}
	return b.Not(blk.N), true
}

func (n notExpr) event(f []logs.Field) bool { return !n.e.event(f) }

// termExpr is field:value (or free text).
type termExpr struct {
	sel     selector
	val     Literal
	num     float64
	isNum   bool
	toks    []string // words of the value, for text fields
	tokPat  []string // lower-cased wildcard pattern, for text fields
	tokWild bool     // the wildcard pattern can match a single word
}

func newTerm(t Term) termExpr {
	e := termExpr{sel: newSelector(t.Field), val: t.Value}
	if !t.Value.Wildcard() {
		if f, err := strconv.ParseFloat(strings.TrimSpace(t.Value.Text), 64); err == nil {
			e.num, e.isNum = f, true
		}
		e.toks = logs.Tokens(t.Value.Text)
	} else {
		e.tokWild = true
		for _, p := range t.Value.Parts {
			lp := strings.ToLower(p)
			if len(logs.Tokens(lp)) > 1 || (lp != "" && len(logs.Tokens(lp)) == 0) || strings.TrimSpace(lp) != lp {
				e.tokWild = false // spans several words: only whole values can match
			}
			e.tokPat = append(e.tokPat, lp)
		}
	}
	return e
}

// matchesAny says whether the value is a pattern of stars alone.
func (t termExpr) matchesAny() bool {
	if !t.val.Wildcard() {
		return false
	}
	for _, p := range t.val.Parts {
		if p != "" {
			return false
		}
	}
	return true
}

func (t termExpr) phrase() bool { return t.val.Quoted && len(t.toks) > 1 }

// Value kinds a clause compares as text.
const (
	anyKind   = 1<<logs.KindString | 1<<logs.KindNumber | 1<<logs.KindBool
	nonNumber = 1<<logs.KindString | 1<<logs.KindBool
)

func (t termExpr) block(b *logs.Block) (logs.Bits, bool) {
	acc := logs.NewBits(b.N)
	for _, f := range t.sel.fields(b) {
		if t.matchesAny() {
			acc.Or(f.Present(b.N)) // any value at all
			continue
		}
		if t.val.Wildcard() {
			acc.Or(f.MatchValues(b.N, anyKind, func(v string) bool { return matchParts(t.val.Parts, v) }))
			if t.tokWild && f.HasText() {
				acc.Or(f.MatchWords(b.N, func(words []string) bool {
					for _, w := range words {
						if matchParts(t.tokPat, w) {
							return true
						}
					}
					return false
				}))
			}
			continue
		}
		acc.Or(f.Term(b.N, t.val.Text))
		if t.isNum && f.HasNumbers() {
			acc.Or(f.NumMatch(b.N, func(v float64) bool { return v == t.num }))
		}
		if !f.HasText() || len(t.toks) == 0 {
			continue
		}
		if t.phrase() {
			// Every word in the block (bloom filter), then in order in one value.
			may := true
			for _, w := range t.toks {
				may = may && f.MayHaveWord(w)
			}
			if may {
				acc.Or(f.MatchWords(b.N, func(words []string) bool { return containsSeq(words, t.toks) }))
			}
			continue
		}
		may := false
		for _, w := range t.toks {
			may = may || f.MayHaveWord(w)
		}
		if may {
			acc.Or(f.MatchWords(b.N, func(words []string) bool { return anyCommon(words, t.toks) }))
		}
	}
	return acc, true
}

func (t termExpr) event(fields []logs.Field) bool {
	for i := range fields {
		f := &fields[i]
		if f.Kind == logs.KindNull || !t.sel.matches(f.Path) {
			continue
		}
		if t.val.Wildcard() {
			if matchParts(t.val.Parts, f.Str) {
				return true
			}
			if t.tokWild && f.Kind == logs.KindString && logs.IsText(f.Path, f.Str) {
				for _, w := range logs.Tokens(f.Str) {
					if matchParts(t.tokPat, w) {
						return true
					}
				}
			}
			continue
		}
		if f.Str == t.val.Text || (t.isNum && f.Kind == logs.KindNumber && f.Num == t.num) {
			return true
		}
		if f.Kind == logs.KindString && len(t.toks) > 0 && logs.IsText(f.Path, f.Str) {
			words := logs.Tokens(f.Str)
			if t.phrase() {
				if containsSeq(words, t.toks) {
					return true
				}
			} else if anyCommon(words, t.toks) {
				return true
			}
		}
	}
	return false
}

func containsSeq(words, seq []string) bool {
	for i := 0; i+len(seq) <= len(words); i++ {
		ok := true
		for j, w := range seq {
			if words[i+j] != w {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func anyCommon(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

type existsExpr struct{ sel selector }

func (e existsExpr) block(b *logs.Block) (logs.Bits, bool) {
	acc := logs.NewBits(b.N)
	for _, f := range e.sel.fields(b) {
		acc.Or(f.Present(b.N))
	}
	return acc, true
}

func (e existsExpr) event(fields []logs.Field) bool {
	for i := range fields {
		if fields[i].Kind != logs.KindNull && e.sel.matches(fields[i].Path) {
			return true
		}
	}
	return false
}

// rangeExpr is field < value and friends: numeric on numbers, dates (with
// date math) on @timestamp and date-like strings, else string order.
type rangeExpr struct {
	sel    selector
	op     string
	text   string
	num    float64
	isNum  bool
	date   int64 // unix ms
	isDate bool
}

func newRange(n Range, now time.Time) (expr, error) {
	e := rangeExpr{sel: newSelector(n.Field), op: n.Op, text: n.Value.Text}
	if f, err := strconv.ParseFloat(strings.TrimSpace(n.Value.Text), 64); err == nil {
		e.num, e.isNum = f, true
	}
	roundUp := n.Op == "<=" || n.Op == ">"
	if t, err := ParseDateMath(n.Value.Text, now, roundUp); err == nil {
		e.date, e.isDate = t.UnixMilli(), true
	} else if isTimestampField(n.Field.Text) && !e.isNum {
		return nil, &SyntaxError{Pos: n.Value.Pos, Expected: []string{"a date or date math such as now-15m or 2026-01-02T15:04:05Z"},
			Found: strconv.Quote(n.Value.Text)}
	}
	if isTimestampField(n.Field.Text) && e.isNum && !e.isDate {
		e.date, e.isDate = int64(e.num), true // epoch milliseconds, as Elasticsearch reads them
	}
	return e, nil
}

func isTimestampField(f string) bool { return f == "@timestamp" }

func cmpOK(op string, c int) bool {
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func cmpNum(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// value tests one string value that is not a number.
func (r rangeExpr) strOK(s string) bool {
	if r.isDate {
		if t, err := ParseDateMath(s, time.Time{}, false); err == nil {
			return cmpOK(r.op, cmpInt(t.UnixMilli(), r.date))
		}
		return false
	}
	if r.isNum {
		return false
	}
	return cmpOK(r.op, strings.Compare(s, r.text))
}

func (r rangeExpr) block(b *logs.Block) (logs.Bits, bool) {
	acc := logs.NewBits(b.N)
	for _, name := range b.Fields() {
		if !r.sel.matches(name) {
			continue
		}
		if name == "@timestamp" && r.isDate {
			for i := range b.N {
				if cmpOK(r.op, cmpInt(b.Time(i), r.date)) {
					acc.Set(i)
				}
			}
			continue
		}
		f := b.Field(name)
		if r.isNum && f.HasNumbers() {
			acc.Or(f.NumMatch(b.N, func(v float64) bool { return cmpOK(r.op, cmpNum(v, r.num)) }))
		}
		if !r.isNum || r.isDate {
			acc.Or(f.MatchValues(b.N, nonNumber, r.strOK))
		}
	}
	return acc, true
}

func (r rangeExpr) event(fields []logs.Field) bool {
	for i := range fields {
		f := &fields[i]
		if f.Kind == logs.KindNull || !r.sel.matches(f.Path) {
			continue
		}
		if f.Kind == logs.KindNumber {
			if r.isNum && cmpOK(r.op, cmpNum(f.Num, r.num)) {
				return true
			}
			continue
		}
		if (!r.isNum || r.isDate) && r.strOK(f.Str) {
			return true
		}
	}
	return false
}

var _ logs.Matcher = (*Query)(nil)

// Counter counts events matching KQL in a logs store (log checks use it).
type Counter struct {
	Store interface {
		CountMatches(context.Context, logs.Matcher, logs.Range) (int, error)
	}
}

// CountKQL counts matches of q over the last window.
func (c Counter) CountKQL(ctx context.Context, q string, window time.Duration) (int, error) {
	now := time.Now()
	m, err := Compile(q, now)
	if err != nil {
		return 0, err
	}
	return c.Store.CountMatches(ctx, m, logs.Range{From: now.Add(-window), To: now})
}
