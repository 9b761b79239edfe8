package graphite

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Fetcher reads series from storage on their native step, over graphite's
// (from, until] window.
type Fetcher interface {
	// Fetch returns the series whose names match a path glob.
	Fetch(ctx context.Context, glob string, from, until int64) ([]*Series, error)
	// FetchTagged returns the series matching seriesByTag expressions
	// ("tag=value", "tag!=value", "tag=~regex", "tag!=~regex").
	FetchTagged(ctx context.Context, exprs []string, from, until int64) ([]*Series, error)
}

// Eval evaluates a target over (from, until] (unix seconds).
func Eval(ctx context.Context, f Fetcher, target string, from, until int64) ([]*Series, error) {
	e, err := Parse(target)
	if err != nil {
		return nil, err
	}
	if from > until {
		from, until = until, from
	}
	ev := &evaluator{ctx: ctx, f: f}
	return ev.series(e, reqCtx{from: from, until: until, xff: new(float64)})
}

// reqCtx is graphite-web's requestContext: the time range a (sub)expression
// is evaluated over, which movingAverage, timeShift and friends change.
type reqCtx struct {
	from, until int64
	// xff is shared by the whole request: setXFilesFactor changes it for
	// the functions evaluated after it, as graphite-web's requestContext.
	xff *float64
}

// XFF is the request's xFilesFactor.
func (rc reqCtx) XFF() float64 { return *rc.xff }

type evaluator struct {
	ctx context.Context
	f   Fetcher
	// nested counts re-evaluations (applyByNode, useSeriesAbove) to bound them.
	nested int
	// consts are computed series standing in as arguments (reduceSeries).
	consts map[string][]*Series
	// stacks are stacked()'s running totals, per stack name.
	stacks map[string][]float64
}

func argErr(e *Expr, format string, a ...any) error {
	return &SyntaxError{e.Pos, fmt.Sprintf(format, a...)}
}

var callName = regexp.MustCompile(`(?i)^[a-z]+[(].+[)]$`)

func (ev *evaluator) series(e *Expr, rc reqCtx) ([]*Series, error) {
	if err := ev.ctx.Err(); err != nil {
		return nil, err
	}
	switch e.Kind {
	case KindPath:
		if c, ok := ev.consts[e.Path]; ok {
			return c, nil
		}
		ss, err := ev.f.Fetch(ev.ctx, e.Path, rc.from, rc.until)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			s.PathExpr = e.Path
			s.XFilesFactor = rc.XFF()
		}
		return ss, nil
	case KindCall:
		if e.Func == "seriesByTag" {
			return ev.seriesByTag(e, rc)
		}
		fn, ok := functions[e.Func]
		if !ok {
			return nil, argErr(e, "unknown function %s", e.Func)
		}
		c, err := bind(ev, e, fn, rc)
		if err != nil {
			return nil, err
		}
		return fn.impl(c)
	}
	return nil, argErr(e, "expected a series but found %s", e.String())
}

func (ev *evaluator) seriesByTag(e *Expr, rc reqCtx) ([]*Series, error) {
	var exprs []string
	matchesNonEmpty := false
	for _, a := range e.Args {
		if a.Kind != KindString {
			return nil, argErr(a, "seriesByTag: each argument must be a quoted tag expression such as 'name=a.b'")
		}
		tag, op, val, ok := ParseTagExpr(a.Str)
		if !ok {
			return nil, argErr(a, "seriesByTag: %q is not tag=value, tag!=value, tag=~regex or tag!=~regex", a.Str)
		}
		if op == "=~" || op == "!=~" {
			if _, err := regexp.Compile(val); err != nil {
				return nil, argErr(a, "seriesByTag: bad regular expression %q: %v", val, err)
			}
		}
		if !TagExprMatches(tag, op, val, "") {
			matchesNonEmpty = true
		}
		exprs = append(exprs, a.Str)
	}
	if !matchesNonEmpty {
		return nil, argErr(e, "seriesByTag: at least one tag expression must not match an empty value")
	}
	ss, err := ev.f.FetchTagged(ev.ctx, exprs, rc.from, rc.until)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.PathExpr = e.Raw
		s.XFilesFactor = rc.XFF()
	}
	return ss, nil
}

// ParseTagExpr splits a seriesByTag expression into tag, operator and value.
func ParseTagExpr(s string) (tag, op, val string, ok bool) {
	i := strings.IndexAny(s, "!=")
	if i <= 0 || strings.ContainsAny(s[:i], ";") {
		return "", "", "", false
	}
	tag, rest := s[:i], s[i:]
	for _, o := range []string{"!=~", "=~", "!=", "="} {
		if strings.HasPrefix(rest, o) {
			val = rest[len(o):]
			if strings.Contains(val, ";") {
				return "", "", "", false
			}
			return tag, o, val, true
		}
	}
	return "", "", "", false
}

// TagExprMatches applies one expression to a series' tag value ("" when
// the series lacks the tag). Regexes match at the start, as Python's
// re.match.
func TagExprMatches(tag, op, val, v string) bool {
	switch op {
	case "=":
		return v == val
	case "!=":
		return v != val
	case "=~", "!=~":
		re, err := regexp.Compile("^(?:" + val + ")")
		if err != nil {
			return false
		}
		return re.MatchString(v) == (op == "=~")
	}
	return false
}

// fnDef is one function: its parameter names (for keyword arguments) and
// its implementation.
type fnDef struct {
	params []string
	impl   func(c *call) ([]*Series, error)
}

// call is one bound call: positional arguments with keyword arguments
// moved into their places, evaluated on demand.
type call struct {
	ev   *evaluator
	e    *Expr
	args []*Expr
	rc   reqCtx
}

func bind(ev *evaluator, e *Expr, fn fnDef, rc reqCtx) (*call, error) {
	args := append([]*Expr(nil), e.Args...)
	for _, kw := range e.Kwargs {
		idx := -1
		for i, p := range fn.params {
			if p == kw.Name {
				idx = i
			}
		}
		if idx < 0 {
			return nil, argErr(kw.Val, "%s: unknown keyword argument %s (parameters: %s)", e.Func, kw.Name, strings.Join(fn.params, ", "))
		}
		for len(args) <= idx {
			args = append(args, nil)
		}
		args[idx] = kw.Val
	}
	return &call{ev: ev, e: e, args: args, rc: rc}, nil
}

func (c *call) has(i int) bool {
	return i < len(c.args) && c.args[i] != nil && c.args[i].Kind != KindNone
}

func (c *call) arg(i int) *Expr {
	if i < len(c.args) && c.args[i] != nil {
		return c.args[i]
	}
	return c.e
}

func (c *call) name() string { return c.e.Func }

// series evaluates argument i as a series list.
func (c *call) series(i int) ([]*Series, error) {
	if !c.has(i) {
		return nil, argErr(c.e, "%s: missing series argument %d", c.name(), i+1)
	}
	return c.ev.series(c.args[i], c.rc)
}

// seriesAt evaluates argument i over another time range.
func (c *call) seriesAt(i int, rc reqCtx) ([]*Series, error) {
	if !c.has(i) {
		return nil, argErr(c.e, "%s: missing series argument %d", c.name(), i+1)
	}
	return c.ev.series(c.args[i], rc)
}

// seriesLists evaluates arguments from i on, each a series list.
func (c *call) seriesLists(from int) ([][]*Series, error) {
	var out [][]*Series
	for i := from; i < len(c.args); i++ {
		ss, err := c.series(i)
		if err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	return out, nil
}

func (c *call) isNum(i int) bool {
	return c.has(i) && (c.args[i].Kind == KindInt || c.args[i].Kind == KindFloat)
}

func (c *call) isStr(i int) bool { return c.has(i) && c.args[i].Kind == KindString }

func (c *call) num(i int, def ...float64) (float64, error) {
	if !c.has(i) {
		if len(def) > 0 {
			return def[0], nil
		}
		return 0, argErr(c.e, "%s: missing number argument %d", c.name(), i+1)
	}
	a := c.args[i]
	switch a.Kind {
	case KindInt, KindFloat:
		return a.Num, nil
	case KindBool:
		if a.Bool {
			return 1, nil
		}
		return 0, nil
	}
	return 0, argErr(a, "%s: argument %d must be a number, got %s", c.name(), i+1, a.String())
}

func (c *call) int(i int, def ...int) (int, error) {
	var d []float64
	for _, x := range def {
		d = append(d, float64(x))
	}
	f, err := c.num(i, d...)
	return int(f), err
}

func (c *call) str(i int, def ...string) (string, error) {
	if !c.has(i) {
		if len(def) > 0 {
			return def[0], nil
		}
		return "", argErr(c.e, "%s: missing string argument %d", c.name(), i+1)
	}
	a := c.args[i]
	if a.Kind != KindString {
		return "", argErr(a, "%s: argument %d must be a string, got %s", c.name(), i+1, a.String())
	}
	return a.Str, nil
}

func (c *call) boolean(i int, def bool) (bool, error) {
	if !c.has(i) {
		return def, nil
	}
	a := c.args[i]
	switch a.Kind {
	case KindBool:
		return a.Bool, nil
	case KindInt, KindFloat:
		return a.Num != 0, nil
	case KindString:
		return a.Str != "", nil
	}
	return false, argErr(a, "%s: argument %d must be true or false, got %s", c.name(), i+1, a.String())
}

// pyArg formats argument i as Python's %s would (ints without a point,
// floats as repr, strings bare).
func (c *call) pyArg(i int) string {
	if !c.has(i) {
		return "None"
	}
	a := c.args[i]
	switch a.Kind {
	case KindInt:
		return strconv.FormatInt(int64(a.Num), 10)
	case KindFloat:
		return pyRepr(a.Num)
	case KindString:
		return a.Str
	case KindBool:
		if a.Bool {
			return "True"
		}
		return "False"
	}
	return a.String()
}

// interval reads argument i as a Graphite interval ("5min", "-1h") in seconds.
func (c *call) interval(i int) (int64, string, error) {
	s, err := c.str(i)
	if err != nil {
		return 0, "", err
	}
	d, err := ParseInterval(s)
	if err != nil {
		return 0, "", argErr(c.args[i], "%s: %v", c.name(), err)
	}
	return d, s, nil
}

func (c *call) aggFunc(i int, def string) (aggFn, string, error) {
	name, err := c.str(i, def)
	if err != nil {
		return nil, "", err
	}
	f := aggFuncs[strings.TrimSuffix(name, "Series")]
	if f == nil {
		f = aggFuncs[name]
	}
	if f == nil {
		return nil, "", argErr(c.arg(i), "%s: unsupported aggregation function %q (%s)", c.name(), name, aggFuncNames)
	}
	return f, name, nil
}

// pyRepr is Python's repr of a float: shortest round trip, always with a
// point or exponent.
func pyRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes 1e+16 and 1e-05 as Python does.
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyG is Python's %g.
func pyG(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// pyD is Python's %d of a number.
func pyD(f float64) string { return strconv.FormatInt(int64(f), 10) }

// ParseInterval reads Graphite's time offsets (parseTimeOffset): an
// optional sign, a number and a unit (s, min, h, d, w, mon, y and their
// long forms); several may follow each other ("1h30min"). The result is
// signed seconds.
func ParseInterval(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	sign := int64(1)
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	if s == "" {
		return 0, fmt.Errorf("bad interval %q (want e.g. 30s, 5min, 1h, 1d)", orig)
	}
	total := int64(0)
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("bad interval %q (want e.g. 30s, 5min, 1h, 1d)", orig)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad interval %q: %w", orig, err)
		}
		s = strings.TrimLeft(s[i:], " ")
		j := 0
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		mult, ok := unitSeconds(strings.ToLower(s[:j]))
		if !ok {
			return 0, fmt.Errorf("bad interval %q: unknown unit %q (s, min, h, d, w, mon, y)", orig, s[:j])
		}
		total += n * mult
		s = strings.TrimLeft(s[j:], " ")
	}
	return sign * total, nil
}

// unitSeconds follows graphite-web's getUnitString: a unit is known by
// its prefix (s, min, h, d, w, mon, y).
func unitSeconds(u string) (int64, bool) {
	switch {
	case strings.HasPrefix(u, "s"):
		return 1, true
	case strings.HasPrefix(u, "min"):
		return 60, true
	case strings.HasPrefix(u, "h"):
		return 3600, true
	case strings.HasPrefix(u, "d"):
		return 86400, true
	case strings.HasPrefix(u, "w"):
		return 604800, true
	case strings.HasPrefix(u, "mon"):
		return 30 * 86400, true
	case strings.HasPrefix(u, "y"):
		return 365 * 86400, true
	}
	return 0, false
}

// seriesAndNum, seriesAndInt and seriesAndInterval read the usual
// (seriesList, n) and (seriesList, interval) argument pairs.
func (c *call) seriesAndNum(def ...float64) ([]*Series, float64, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, 0, err
	}
	n, err := c.num(1, def...)
	return ss, n, err
}

func (c *call) seriesAndInt(def ...int) ([]*Series, int, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, 0, err
	}
	n, err := c.int(1, def...)
	return ss, n, err
}

func (c *call) seriesAndInterval() ([]*Series, int64, string, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, 0, "", err
	}
	d, text, err := c.interval(1)
	return ss, d, text, err
}
