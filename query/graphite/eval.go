package graphite

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Series is a Graphite series: one value per Step seconds from Start,
// NaN for null.
type Series struct {
	Name   string
	Start  int64 // unix seconds
	Step   int64
	Values []float64
	Tags   map[string]string
}

// Fetcher reads the series whose names match a glob, already on the step grid.
type Fetcher interface {
	Fetch(ctx context.Context, glob string, from, until int64) ([]*Series, error)
}

// Eval evaluates a target over [from, until] (unix seconds).
func Eval(ctx context.Context, f Fetcher, target string, from, until int64) ([]*Series, error) {
	e, err := Parse(target)
	if err != nil {
		return nil, err
	}
	ev := &evaluator{ctx: ctx, f: f, from: from, until: until}
	return ev.series(e)
}

type evaluator struct {
	ctx         context.Context
	f           Fetcher
	from, until int64
}

func argErr(e *Expr, format string, a ...any) error {
	return &SyntaxError{e.Pos, fmt.Sprintf(format, a...)}
}

func (ev *evaluator) series(e *Expr) ([]*Series, error) {
	switch {
	case e.Path != "":
		return ev.f.Fetch(ev.ctx, e.Path, ev.from, ev.until)
	case e.Func != "":
		fn, ok := functions[e.Func]
		if !ok {
			return nil, argErr(e, "unknown function %s", e.Func)
		}
		return fn(ev, e)
	}
	return nil, argErr(e, "expected a series but found %s", e.String())
}

func (ev *evaluator) seriesArg(e *Expr, i int) ([]*Series, error) {
	if i >= len(e.Args) {
		return nil, argErr(e, "%s: missing series argument %d", e.Func, i+1)
	}
	return ev.series(e.Args[i])
}

// allSeries evaluates every argument as series lists (sumSeries(a, b.*)).
func (ev *evaluator) allSeries(e *Expr) ([]*Series, error) {
	var out []*Series
	for _, a := range e.Args {
		s, err := ev.series(a)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

func numArg(e *Expr, i int, def *float64) (float64, error) {
	if i >= len(e.Args) {
		if def != nil {
			return *def, nil
		}
		return 0, argErr(e, "%s: missing number argument %d", e.Func, i+1)
	}
	a := e.Args[i]
	if a.Num == nil {
		return 0, argErr(a, "%s: argument %d must be a number, got %s", e.Func, i+1, a.String())
	}
	return *a.Num, nil
}

func strArg(e *Expr, i int, def string) (string, error) {
	if i >= len(e.Args) {
		return def, nil
	}
	a := e.Args[i]
	if a.Str == nil {
		return "", argErr(a, "%s: argument %d must be a string, got %s", e.Func, i+1, a.String())
	}
	return *a.Str, nil
}

func ptr(f float64) *float64 { return &f }

type fnImpl func(ev *evaluator, e *Expr) ([]*Series, error)

var functions map[string]fnImpl

func init() {
	functions = map[string]fnImpl{
		"alias":                 alias,
		"aliasByNode":           aliasByNode,
		"aliasSub":              aliasSub,
		"sumSeries":             combine("sumSeries", aggSum),
		"sum":                   combine("sumSeries", aggSum),
		"averageSeries":         combine("averageSeries", aggAvg),
		"avg":                   combine("averageSeries", aggAvg),
		"minSeries":             combine("minSeries", aggMin),
		"maxSeries":             combine("maxSeries", aggMax),
		"diffSeries":            combine("diffSeries", aggDiff),
		"multiplySeries":        combine("multiplySeries", aggMul),
		"countSeries":           countSeries,
		"divideSeries":          divideSeries,
		"asPercent":             asPercent,
		"groupByNode":           groupByNode,
		"scale":                 perPoint("scale", func(v, a float64) float64 { return v * a }),
		"offset":                perPoint("offset", func(v, a float64) float64 { return v + a }),
		"absolute":              mapValues("absolute", math.Abs),
		"transformNull":         transformNull,
		"keepLastValue":         keepLastValue,
		"removeBelowValue":      removeValues("removeBelowValue", func(v, a float64) bool { return v < a }),
		"removeAboveValue":      removeValues("removeAboveValue", func(v, a float64) bool { return v > a }),
		"integral":              integral,
		"derivative":            derivative("derivative", false),
		"nonNegativeDerivative": derivative("nonNegativeDerivative", true),
		"perSecond":             perSecond,
		"movingAverage":         movingAverage,
		"summarize":             summarize,
		"hitcount":              hitcount,
		"timeShift":             timeShift,
		"highestCurrent":        pick("highestCurrent", last, true),
		"highestMax":            pick("highestMax", maxOf, true),
		"highestAverage":        pick("highestAverage", avgOf, true),
		"lowestCurrent":         pick("lowestCurrent", last, false),
		"limit":                 limit,
		"sortByMaxima":          sortBy(maxOf, true),
		"sortByName":            sortByName,
		"constantLine":          constantLine,
	}
}

func alias(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	name, err := strArg(e, 1, "")
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = name
	}
	return ss, nil
}

// baseName strips function wrappers: "sumSeries(a.b.c)" -> "a.b.c".
func baseName(n string) string {
	for {
		i := strings.LastIndexByte(n, '(')
		if i < 0 {
			return n
		}
		n = n[i+1:]
		if j := strings.IndexAny(n, ",)"); j >= 0 {
			n = n[:j]
		}
	}
}

func aliasByNode(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	var nodes []int
	for i := 1; i < len(e.Args); i++ {
		n, err := numArg(e, i, nil)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, int(n))
	}
	for _, s := range ss {
		s.Name = byNodes(s.Name, nodes)
	}
	return ss, nil
}

func byNodes(name string, nodes []int) string {
	parts := strings.Split(baseName(name), ".")
	var out []string
	for _, n := range nodes {
		if n < 0 {
			n += len(parts)
		}
		if n >= 0 && n < len(parts) {
			out = append(out, parts[n])
		}
	}
	return strings.Join(out, ".")
}

func aliasSub(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	search, err := strArg(e, 1, "")
	if err != nil {
		return nil, err
	}
	repl, err := strArg(e, 2, "")
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(search)
	if err != nil {
		return nil, argErr(e.Args[1], "aliasSub: bad regular expression: %v", err)
	}
	repl = regexp.MustCompile(`\\(\d)`).ReplaceAllString(repl, "$${$1}")
	for _, s := range ss {
		s.Name = re.ReplaceAllString(s.Name, repl)
	}
	return ss, nil
}

// aggregators see one column of non-null values; ok=false yields null.
type aggFn func(vals []float64) (float64, bool)

// fold reduces a column left to right; an empty column is null.
func fold(f func(acc, x float64) float64) aggFn {
	return func(v []float64) (float64, bool) {
		if len(v) == 0 {
			return 0, false
		}
		acc := v[0]
		for _, x := range v[1:] {
			acc = f(acc, x)
		}
		return acc, true
	}
}

var (
	aggSum  = fold(func(a, x float64) float64 { return a + x })
	aggMin  = fold(math.Min)
	aggMax  = fold(math.Max)
	aggDiff = fold(func(a, x float64) float64 { return a - x })
	aggMul  = fold(func(a, x float64) float64 { return a * x })
)

func aggAvg(v []float64) (float64, bool) { s, ok := aggSum(v); return s / float64(len(v)), ok }

// aggregate combines series point by point, skipping nulls as Graphite does.
func aggregate(name string, ss []*Series, f aggFn) *Series {
	if len(ss) == 0 {
		return nil
	}
	n := 0
	for _, s := range ss {
		n = max(n, len(s.Values))
	}
	out := &Series{Name: name, Start: ss[0].Start, Step: ss[0].Step, Values: make([]float64, n)}
	col := make([]float64, 0, len(ss))
	for i := 0; i < n; i++ {
		col = col[:0]
		for _, s := range ss {
			if i < len(s.Values) && !math.IsNaN(s.Values[i]) {
				col = append(col, s.Values[i])
			}
		}
		v, ok := f(col)
		if !ok {
			v = math.NaN()
		}
		out.Values[i] = v
	}
	return out
}

func combine(fname string, f aggFn) fnImpl {
	return func(ev *evaluator, e *Expr) ([]*Series, error) {
		ss, err := ev.allSeries(e)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, a := range e.Args {
			names = append(names, a.String())
		}
		out := aggregate(fname+"("+strings.Join(names, ",")+")", ss, f)
		if out == nil {
			return nil, nil
		}
		return []*Series{out}, nil
	}
}

func countSeries(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.allSeries(e)
	if err != nil {
		return nil, err
	}
	n := int((ev.until - ev.from) / 10)
	step := int64(10)
	if len(ss) > 0 {
		n, step = len(ss[0].Values), ss[0].Step
	}
	out := &Series{Name: "countSeries()", Start: ev.from, Step: step, Values: make([]float64, n)}
	for i := range out.Values {
		out.Values[i] = float64(len(ss))
	}
	return []*Series{out}, nil
}

func divideSeries(ev *evaluator, e *Expr) ([]*Series, error) {
	num, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	den, err := ev.seriesArg(e, 1)
	if err != nil {
		return nil, err
	}
	if len(den) != 1 {
		return nil, argErr(e, "divideSeries: the divisor must be exactly one series, got %d", len(den))
	}
	d := den[0]
	for _, s := range num {
		for i := range s.Values {
			if i >= len(d.Values) || d.Values[i] == 0 || math.IsNaN(d.Values[i]) {
				s.Values[i] = math.NaN()
			} else {
				s.Values[i] /= d.Values[i]
			}
		}
		s.Name = "divideSeries(" + s.Name + "," + d.Name + ")"
	}
	return num, nil
}

func asPercent(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	var total []float64
	switch {
	case len(e.Args) > 1 && e.Args[1].Num != nil:
		t := *e.Args[1].Num
		for _, s := range ss {
			for i := range s.Values {
				s.Values[i] = s.Values[i] / t * 100
			}
			s.Name = fmt.Sprintf("asPercent(%s,%g)", s.Name, t)
		}
		return ss, nil
	case len(e.Args) > 1:
		ts, err := ev.series(e.Args[1])
		if err != nil {
			return nil, err
		}
		if t := aggregate("total", ts, aggSum); t != nil {
			total = t.Values
		}
	default:
		if t := aggregate("total", ss, aggSum); t != nil {
			total = t.Values
		}
	}
	for _, s := range ss {
		for i := range s.Values {
			if i >= len(total) || total[i] == 0 || math.IsNaN(total[i]) {
				s.Values[i] = math.NaN()
			} else {
				s.Values[i] = s.Values[i] / total[i] * 100
			}
		}
		s.Name = "asPercent(" + s.Name + ")"
	}
	return ss, nil
}

func groupByNode(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	node, err := numArg(e, 1, nil)
	if err != nil {
		return nil, err
	}
	fname, err := strArg(e, 2, "average")
	if err != nil {
		return nil, err
	}
	agg := map[string]aggFn{"sum": aggSum, "sumSeries": aggSum, "average": aggAvg, "avg": aggAvg, "averageSeries": aggAvg,
		"min": aggMin, "minSeries": aggMin, "max": aggMax, "maxSeries": aggMax, "diff": aggDiff, "multiply": aggMul}[fname]
	if agg == nil {
		return nil, argErr(e.Args[2], "groupByNode: unknown aggregation %q (sum, average, min, max, diff, multiply)", fname)
	}
	groups := map[string][]*Series{}
	var keys []string
	for _, s := range ss {
		k := byNodes(s.Name, []int{int(node)})
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	var out []*Series
	for _, k := range keys {
		out = append(out, aggregate(k, groups[k], agg))
	}
	return out, nil
}

func perPoint(fname string, f func(v, a float64) float64) fnImpl {
	return func(ev *evaluator, e *Expr) ([]*Series, error) {
		ss, err := ev.seriesArg(e, 0)
		if err != nil {
			return nil, err
		}
		a, err := numArg(e, 1, nil)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			for i, v := range s.Values {
				if !math.IsNaN(v) {
					s.Values[i] = f(v, a)
				}
			}
			s.Name = fmt.Sprintf("%s(%s,%g)", fname, s.Name, a)
		}
		return ss, nil
	}
}

func mapValues(fname string, f func(float64) float64) fnImpl {
	return func(ev *evaluator, e *Expr) ([]*Series, error) {
		ss, err := ev.seriesArg(e, 0)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			for i, v := range s.Values {
				if !math.IsNaN(v) {
					s.Values[i] = f(v)
				}
			}
			s.Name = fname + "(" + s.Name + ")"
		}
		return ss, nil
	}
}

func transformNull(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	def, err := numArg(e, 1, ptr(0))
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		for i, v := range s.Values {
			if math.IsNaN(v) {
				s.Values[i] = def
			}
		}
		s.Name = "transformNull(" + s.Name + ")"
	}
	return ss, nil
}

func keepLastValue(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	limit, err := numArg(e, 1, ptr(math.Inf(1)))
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		last, gap := math.NaN(), 0
		for i, v := range s.Values {
			if math.IsNaN(v) {
				gap++
				if float64(gap) <= limit && !math.IsNaN(last) {
					s.Values[i] = last
				}
				continue
			}
			last, gap = v, 0
		}
		s.Name = "keepLastValue(" + s.Name + ")"
	}
	return ss, nil
}

// removeValues nulls the points drop picks (nulls stay null).
func removeValues(fname string, drop func(v, a float64) bool) fnImpl {
	return perPoint(fname, func(v, a float64) float64 {
		if drop(v, a) {
			return math.NaN()
		}
		return v
	})
}

func integral(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		acc := 0.0
		for i, v := range s.Values {
			if !math.IsNaN(v) {
				acc += v
				s.Values[i] = acc
			}
		}
		s.Name = "integral(" + s.Name + ")"
	}
	return ss, nil
}

func derivative(fname string, nonNeg bool) fnImpl {
	return func(ev *evaluator, e *Expr) ([]*Series, error) {
		ss, err := ev.seriesArg(e, 0)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			prev := math.NaN()
			for i, v := range s.Values {
				d := v - prev
				if math.IsNaN(v) || math.IsNaN(prev) || (nonNeg && d < 0) {
					s.Values[i] = math.NaN()
				} else {
					s.Values[i] = d
				}
				if !math.IsNaN(v) {
					prev = v
				}
			}
			s.Name = fname + "(" + s.Name + ")"
		}
		return ss, nil
	}
}

func perSecond(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := derivative("perSecond", true)(ev, e)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		for i := range s.Values {
			s.Values[i] /= float64(s.Step)
		}
	}
	return ss, nil
}

func movingAverage(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	var points int
	if len(e.Args) > 1 && e.Args[1].Str != nil {
		d, err := parseInterval(*e.Args[1].Str)
		if err != nil {
			return nil, argErr(e.Args[1], "movingAverage: %v", err)
		}
		if len(ss) > 0 {
			points = int(d / ss[0].Step)
		}
	} else {
		n, err := numArg(e, 1, nil)
		if err != nil {
			return nil, err
		}
		points = int(n)
	}
	if points < 1 {
		points = 1
	}
	for _, s := range ss {
		src := append([]float64(nil), s.Values...)
		for i := range s.Values {
			var win []float64
			for j := max(0, i-points+1); j <= i; j++ {
				if !math.IsNaN(src[j]) {
					win = append(win, src[j])
				}
			}
			if v, ok := aggAvg(win); ok {
				s.Values[i] = v
			} else {
				s.Values[i] = math.NaN()
			}
		}
		s.Name = fmt.Sprintf("movingAverage(%s,%s)", s.Name, e.Args[1].String())
	}
	return ss, nil
}

// parseInterval reads Graphite intervals: 30s, 5min, 1h, 1d, 1w, 1mon, 1y.
func parseInterval(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "-")
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n := int64(1)
	if i > 0 {
		fmt.Sscanf(s[:i], "%d", &n)
	}
	unit := s[i:]
	mult := map[string]int64{"s": 1, "sec": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60, "m": 60,
		"h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
		"mon": 2592000, "month": 2592000, "months": 2592000, "y": 31536000, "year": 31536000, "years": 31536000}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("bad interval %q (want e.g. 30s, 5min, 1h, 1d)", s)
	}
	return n * mult, nil
}

func bucketize(ev *evaluator, e *Expr, fname string, hit bool) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	iv, err := strArg(e, 1, "")
	if err != nil {
		return nil, err
	}
	size, err := parseInterval(iv)
	if err != nil {
		return nil, argErr(e.Args[1], "%s: %v", fname, err)
	}
	how, err := strArg(e, 2, "sum")
	if err != nil {
		return nil, err
	}
	agg := map[string]aggFn{"sum": aggSum, "avg": aggAvg, "average": aggAvg, "max": aggMax, "min": aggMin,
		"last": func(v []float64) (float64, bool) {
			if len(v) == 0 {
				return 0, false
			}
			return v[len(v)-1], true
		}}[how]
	if hit {
		agg = aggSum
	}
	if agg == nil {
		return nil, argErr(e.Args[2], "%s: unknown function %q (sum, avg, max, min, last)", fname, how)
	}
	var out []*Series
	for _, s := range ss {
		start := s.Start / size * size
		n := int((s.Start+int64(len(s.Values))*s.Step-start+size-1)/size) + 0
		buckets := make([][]float64, n)
		for i, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			if hit {
				v *= float64(s.Step)
			}
			b := int((s.Start + int64(i)*s.Step - start) / size)
			if b >= 0 && b < n {
				buckets[b] = append(buckets[b], v)
			}
		}
		r := &Series{Name: fmt.Sprintf("%s(%s,\"%s\",\"%s\")", fname, s.Name, iv, how), Start: start, Step: size, Values: make([]float64, n), Tags: s.Tags}
		if hit {
			r.Name = fmt.Sprintf("hitcount(%s,\"%s\")", s.Name, iv)
		}
		for i, b := range buckets {
			if v, ok := agg(b); ok {
				r.Values[i] = v
			} else {
				r.Values[i] = math.NaN()
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func summarize(ev *evaluator, e *Expr) ([]*Series, error) {
	return bucketize(ev, e, "summarize", false)
}
func hitcount(ev *evaluator, e *Expr) ([]*Series, error) { return bucketize(ev, e, "hitcount", true) }

func timeShift(ev *evaluator, e *Expr) ([]*Series, error) {
	iv, err := strArg(e, 1, "")
	if err != nil {
		return nil, err
	}
	d, err := parseInterval(iv)
	if err != nil {
		return nil, argErr(e.Args[1], "timeShift: %v", err)
	}
	if strings.HasPrefix(strings.TrimSpace(iv), "+") {
		d = -d
	}
	shifted := &evaluator{ctx: ev.ctx, f: ev.f, from: ev.from - d, until: ev.until - d}
	ss, err := shifted.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Start += d
		s.Name = fmt.Sprintf("timeShift(%s,'%s')", s.Name, iv)
	}
	return ss, nil
}

func last(s *Series) float64 {
	for i := len(s.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(s.Values[i]) {
			return s.Values[i]
		}
	}
	return math.NaN()
}

func maxOf(s *Series) float64 {
	m := math.NaN()
	for _, v := range s.Values {
		if !math.IsNaN(v) && (math.IsNaN(m) || v > m) {
			m = v
		}
	}
	return m
}

func avgOf(s *Series) float64 {
	var vals []float64
	for _, v := range s.Values {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	v, ok := aggAvg(vals)
	if !ok {
		return math.NaN()
	}
	return v
}

func sortSeries(ss []*Series, key func(*Series) float64, desc bool) {
	sort.SliceStable(ss, func(i, j int) bool {
		a, b := key(ss[i]), key(ss[j])
		if math.IsNaN(a) {
			return false
		}
		if math.IsNaN(b) {
			return true
		}
		if desc {
			return a > b
		}
		return a < b
	})
}

func pick(fname string, key func(*Series) float64, desc bool) fnImpl {
	return func(ev *evaluator, e *Expr) ([]*Series, error) {
		ss, err := ev.seriesArg(e, 0)
		if err != nil {
			return nil, err
		}
		n, err := numArg(e, 1, ptr(1))
		if err != nil {
			return nil, err
		}
		sortSeries(ss, key, desc)
		if int(n) < len(ss) {
			ss = ss[:int(n)]
		}
		return ss, nil
	}
}

func sortBy(key func(*Series) float64, desc bool) fnImpl {
	return func(ev *evaluator, e *Expr) ([]*Series, error) {
		ss, err := ev.seriesArg(e, 0)
		if err != nil {
			return nil, err
		}
		sortSeries(ss, key, desc)
		return ss, nil
	}
}

func limit(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	n, err := numArg(e, 1, nil)
	if err != nil {
		return nil, err
	}
	if int(n) < len(ss) {
		ss = ss[:int(n)]
	}
	return ss, nil
}

func sortByName(ev *evaluator, e *Expr) ([]*Series, error) {
	ss, err := ev.seriesArg(e, 0)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	return ss, nil
}

func constantLine(ev *evaluator, e *Expr) ([]*Series, error) {
	v, err := numArg(e, 0, nil)
	if err != nil {
		return nil, err
	}
	step := max(ev.until-ev.from, 1)
	return []*Series{{Name: fmt.Sprintf("%g", v), Start: ev.from, Step: step, Values: []float64{v, v}}}, nil
}
