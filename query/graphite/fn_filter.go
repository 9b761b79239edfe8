package graphite

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The Filter, Sort and Filter Data families.

// keyOf is graphite-web's keyFunc: an aggregate of the values, null as -inf.
func keyOf(f aggFn) func(*Series) float64 {
	return func(s *Series) float64 {
		v := f(s.Values)
		if math.IsNaN(v) {
			return math.Inf(-1)
		}
		return v
	}
}

func sortSeries(ss []*Series, key func(*Series) float64, reverse bool) {
	keys := make(map[*Series]float64, len(ss))
	for _, s := range ss {
		keys[s] = key(s)
	}
	sort.SliceStable(ss, func(i, j int) bool {
		if reverse {
			return keys[ss[i]] > keys[ss[j]]
		}
		return keys[ss[i]] < keys[ss[j]]
	})
}

var operators = map[string]func(v, t float64) bool{
	"=":  func(v, t float64) bool { return !math.IsNaN(v) && v == t },
	"!=": func(v, t float64) bool { return math.IsNaN(v) || v != t },
	">":  func(v, t float64) bool { return !math.IsNaN(v) && v > t },
	">=": func(v, t float64) bool { return !math.IsNaN(v) && v >= t },
	"<":  func(v, t float64) bool { return math.IsNaN(v) || v < t },
	"<=": func(v, t float64) bool { return math.IsNaN(v) || v <= t },
}

func filterBy(ss []*Series, f aggFn, op string, t float64) []*Series {
	var out []*Series
	for _, s := range ss {
		if operators[op](f(s.Values), t) {
			out = append(out, s)
		}
	}
	return out
}

func fnFilterSeries(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	f, _, err := c.aggFunc(1, "")
	if err != nil {
		return nil, err
	}
	op, err := c.str(2)
	if err != nil {
		return nil, err
	}
	if operators[op] == nil {
		return nil, argErr(c.arg(2), "filterSeries: unsupported operator %q (=, !=, >, >=, <, <=)", op)
	}
	t, err := c.num(3)
	if err != nil {
		return nil, err
	}
	return filterBy(ss, f, op, t), nil
}

// filter registers maximumAbove and its siblings.
func filter(agg, op string) fnDef {
	return fnDef{params: []string{"seriesList", "n"}, impl: func(c *call) ([]*Series, error) {
		ss, t, err := c.seriesAndNum()
		if err != nil {
			return nil, err
		}
		return filterBy(ss, aggFuncs[agg], op, t), nil
	}}
}

// top registers highest/lowest and their fixed-function forms.
func top(agg string, reverse bool) fnDef {
	return fnDef{params: []string{"seriesList", "n", "func"}, impl: func(c *call) ([]*Series, error) {
		ss, n, err := c.seriesAndInt(1)
		if err != nil {
			return nil, err
		}
		f := aggFuncs[agg]
		if agg == "" {
			if f, _, err = c.aggFunc(2, "average"); err != nil {
				return nil, err
			}
		}
		sortSeries(ss, keyOf(f), reverse)
		return pyHead(ss, n), nil
	}}
}

// pyHead is Python's list[:n], negative n counting from the end.
func pyHead(ss []*Series, n int) []*Series {
	if n < 0 {
		n += len(ss)
	}
	if n < 0 {
		n = 0
	}
	if n < len(ss) {
		return ss[:n]
	}
	return ss
}

func fnLimit(c *call) ([]*Series, error) {
	ss, n, err := c.seriesAndInt()
	if err != nil {
		return nil, err
	}
	return pyHead(ss, n), nil
}

func fnSortBy(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	f, _, err := c.aggFunc(1, "average")
	if err != nil {
		return nil, err
	}
	rev, err := c.boolean(2, false)
	if err != nil {
		return nil, err
	}
	sortSeries(ss, keyOf(f), rev)
	return ss, nil
}

func sortFixed(agg string, reverse bool) fnDef {
	return fnDef{impl: func(c *call) ([]*Series, error) {
		ss, err := c.series(0)
		if err != nil {
			return nil, err
		}
		sortSeries(ss, keyOf(aggFuncs[agg]), reverse)
		return ss, nil
	}}
}

func fnSortByMinima(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range ss {
		if m := safeMax(s.Values); !math.IsNaN(m) && m > 0 {
			out = append(out, s)
		}
	}
	sortSeries(out, keyOf(safeMin), false)
	return out, nil
}

var natDigits = regexp.MustCompile(`\d+`)

func fnSortByName(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	natural, err := c.boolean(1, false)
	if err != nil {
		return nil, err
	}
	rev, err := c.boolean(2, false)
	if err != nil {
		return nil, err
	}
	key := func(s *Series) string { return s.Name }
	if natural {
		key = func(s *Series) string {
			return natDigits.ReplaceAllStringFunc(s.Name, func(d string) string {
				n, _ := strconv.ParseUint(d, 10, 64)
				return padInt(n)
			})
		}
	}
	sort.SliceStable(ss, func(i, j int) bool {
		if rev {
			return key(ss[i]) > key(ss[j])
		}
		return key(ss[i]) < key(ss[j])
	})
	return ss, nil
}

func padInt(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for len(s) < 10 {
		s = "0" + s
	}
	return s
}

func fnMostDeviant(c *call) ([]*Series, error) {
	ss, n, err := c.seriesAndInt()
	if err != nil {
		return nil, err
	}
	type dev struct {
		sigma float64
		s     *Series
	}
	var devs []dev
	for _, s := range ss {
		mean := safeAvg(s.Values)
		if math.IsNaN(mean) {
			continue
		}
		sq := 0.0
		for _, v := range nonNull(s.Values) {
			sq += (v - mean) * (v - mean)
		}
		devs = append(devs, dev{sq / safeLen(s.Values), s})
	}
	sort.SliceStable(devs, func(i, j int) bool { return devs[i].sigma > devs[j].sigma })
	var out []*Series
	for _, d := range devs {
		out = append(out, d.s)
	}
	return pyHead(out, n), nil
}

func fnRemoveEmptySeries(c *call) ([]*Series, error) {
	ss, x, err := c.seriesAndNum(0)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range ss {
		if xffOK(s.Values, x) {
			out = append(out, s)
		}
	}
	return out, nil
}

func fnUnique(c *call) ([]*Series, error) {
	lists, err := c.seriesLists(0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []*Series
	for _, s := range flatten(lists) {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// pyRegexp compiles a Python regular expression; RE2 takes the common
// subset (no backreferences or lookarounds).
func (c *call) pyRegexp(i int) (*regexp.Regexp, error) {
	p, err := c.str(i)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, argErr(c.arg(i), "%s: bad regular expression: %v", c.name(), err)
	}
	return re, nil
}

// pyReplacement turns Python's \1 and \g<1> into Go's ${1}.
func pyReplacement(r string) string {
	r = strings.ReplaceAll(r, "$", "$$")
	r = regexp.MustCompile(`\\g<(\w+)>`).ReplaceAllString(r, "$${$1}")
	return regexp.MustCompile(`\\(\d+)`).ReplaceAllString(r, "$${$1}")
}

func grepFn(keep bool) fnDef {
	return fnDef{params: []string{"seriesList", "pattern"}, impl: func(c *call) ([]*Series, error) {
		ss, err := c.series(0)
		if err != nil {
			return nil, err
		}
		re, err := c.pyRegexp(1)
		if err != nil {
			return nil, err
		}
		var out []*Series
		for _, s := range ss {
			if re.MatchString(s.Name) == keep {
				out = append(out, s)
			}
		}
		return out, nil
	}}
}

func fnUseSeriesAbove(c *call) ([]*Series, error) {
	ss, v, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	re, err := c.pyRegexp(2)
	if err != nil {
		return nil, err
	}
	repl, err := c.str(3)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range ss {
		if m := safeMax(s.Values); !math.IsNaN(m) && m > v {
			names = append(names, re.ReplaceAllString(s.Name, pyReplacement(repl)))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	out, err := c.evalTarget("group("+strings.Join(names, ",")+")", c.rc)
	if err != nil {
		return nil, err
	}
	var res []*Series
	for _, s := range out {
		if len(s.Values) > 0 {
			res = append(res, s)
		}
	}
	return res, nil
}

// evalTarget evaluates a target built at run time (useSeriesAbove,
// applyByNode, aliasQuery), with a bound on nesting.
func (c *call) evalTarget(target string, rc reqCtx) ([]*Series, error) {
	if c.ev.nested > 100 {
		return nil, argErr(c.e, "%s: targets nested too deep", c.name())
	}
	e, err := Parse(target)
	if err != nil {
		return nil, argErr(c.e, "%s: the target %q it built does not parse: %v", c.name(), target, err)
	}
	c.ev.nested++
	defer func() { c.ev.nested-- }()
	return c.ev.series(e, rc)
}

func percentileRemove(above bool) fnDef {
	return fnDef{params: []string{"seriesList", "n"}, impl: func(c *call) ([]*Series, error) {
		ss, n, err := c.seriesAndNum()
		if err != nil {
			return nil, err
		}
		fname := "removeBelowPercentile"
		if above {
			fname = "removeAbovePercentile"
		}
		for _, s := range ss {
			s.Name = fname + "(" + s.Name + ", " + pyG(n) + ")"
			s.PathExpr = s.Name
			nn := nonNull(s.Values)
			if len(nn) == 0 {
				continue
			}
			p := getPercentile(nn, n, false)
			for i, v := range s.Values {
				if above && !math.IsNaN(v) && v > p || !above && (math.IsNaN(v) || v < p) {
					s.Values[i] = nan
				}
			}
		}
		return ss, nil
	}}
}

func valueRemove(above bool) fnDef {
	return fnDef{params: []string{"seriesList", "n"}, impl: func(c *call) ([]*Series, error) {
		ss, n, err := c.seriesAndNum()
		if err != nil {
			return nil, err
		}
		fname := "removeBelowValue"
		if above {
			fname = "removeAboveValue"
		}
		return mapEach(ss, func(s *Series) string { return fname + "(" + s.Name + ", " + pyG(n) + ")" }, func(v float64) float64 {
			if math.IsNaN(v) || above && v > n || !above && v < n {
				return nan
			}
			return v
		}), nil
	}}
}

func fnRemoveBetweenPercentile(c *call) ([]*Series, error) {
	ss, n, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	if n < 50 {
		n = 100 - n
	}
	if len(ss) == 0 {
		return nil, nil
	}
	cols := len(ss[0].Values)
	for _, s := range ss {
		cols = min(cols, len(s.Values))
	}
	lo, hi := make([]float64, cols), make([]float64, cols)
	col := make([]float64, len(ss))
	for i := 0; i < cols; i++ {
		for j, s := range ss {
			col[j] = s.Values[i]
		}
		lo[i], hi[i] = getPercentile(col, 100-n, false), getPercentile(col, n, false)
	}
	var out []*Series
	for _, s := range ss {
		for i, v := range s.Values {
			if i < cols && !(lo[i] < v && v < hi[i]) {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

func fnAverageOutsidePercentile(c *call) ([]*Series, error) {
	ss, n, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	if n < 50 {
		n = 100 - n
	}
	avgs := make([]float64, len(ss))
	for i, s := range ss {
		avgs[i] = safeAvg(s.Values)
	}
	lo, hi := getPercentile(avgs, 100-n, false), getPercentile(avgs, n, false)
	var out []*Series
	for i, s := range ss {
		if !(lo < avgs[i] && avgs[i] < hi) {
			out = append(out, s)
		}
	}
	return out, nil
}
