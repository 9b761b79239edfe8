package graphite

import (
	"context"
	"math"
	"strings"
)

// The Combine family: functions that make one series out of several.

// aggregateSeries is graphite-web's aggregate(): one series, the column
// function applied where enough values (xFilesFactor) are non-null.
func aggregateSeries(rc reqCtx, ss []*Series, fname string, xff *float64) []*Series {
	fname = strings.TrimSuffix(fname, "Series")
	f := aggFuncs[fname]
	start, end, step, ok := normalize(ss)
	if !ok || f == nil {
		return nil
	}
	x := rc.XFF()
	if xff != nil {
		x = *xff
	}
	name := fname + "Series(" + formatPathExpressions(ss) + ")"
	var vals []float64
	rows(ss, func(_ int, col []float64) {
		if xffOK(col, x) {
			vals = append(vals, f(col))
		} else {
			vals = append(vals, nan)
		}
	})
	out := newSeries(name, start, end, step, vals, x)
	tags := copyTags(ss[0].Tags)
	for _, s := range ss[1:] {
		for k, v := range tags {
			if s.Tags[k] != v {
				delete(tags, k)
			}
		}
	}
	if _, ok := tags["name"]; !ok {
		tags["name"] = name
	}
	tags["aggregatedBy"] = fname
	out.Tags = tags
	return []*Series{out}
}

// xffOK: some values are non-null, and at least the xFilesFactor share.
// It counts without copying: called once per point of a combined series,
// a copy of each column was 6% of all that the 60-minute soak allocated.
func xffOK(v []float64, xff float64) bool {
	_, n := sumNonNull(v)
	return n > 0 && len(v) > 0 && float64(n)/float64(len(v)) >= xff
}

func flatten(lists [][]*Series) []*Series {
	var out []*Series
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// combine registers sumSeries and its siblings: every argument a series list.
func combine(fname string) fnDef {
	return fnDef{impl: func(c *call) ([]*Series, error) {
		if s, ok, err := c.streamed(fname); ok || err != nil {
			return s, err
		}
		lists, err := c.seriesLists(0)
		if err != nil {
			return nil, err
		}
		ss := flatten(lists)
		if fname == "multiply" && len(lists) == 1 && len(lists[0]) == 1 {
			return ss, nil
		}
		return aggregateSeries(c.rc, ss, fname, nil), nil
	}}
}

// streamingFetcher is a Fetcher that can aggregate one path's series as it
// reads them (StoreFetcher.FetchAggregate).
type streamingFetcher interface {
	FetchAggregate(ctx context.Context, glob string, from, until int64, fn string, xff float64) (vals []float64, start, end, step int64, ok bool, err error)
}

// streamed is sumSeries(path) and its siblings read without a grid per
// series, where the fetcher can give exactly what aggregateSeries would:
// the name, tags and values are those of the grid path.
func (c *call) streamed(fname string) ([]*Series, bool, error) {
	sf, ok := c.ev.f.(streamingFetcher)
	if !ok || len(c.args) != 1 || !c.has(0) || c.args[0].Kind != KindPath {
		return nil, false, nil
	}
	path := c.args[0].Path
	if _, isConst := c.ev.consts[path]; isConst {
		return nil, false, nil
	}
	x := c.rc.XFF()
	vals, start, end, step, ok, err := sf.FetchAggregate(c.ev.ctx, path, c.rc.from, c.rc.until, fname, x)
	if !ok || err != nil {
		return nil, false, err
	}
	name := fname + "Series(" + path + ")"
	out := newSeries(name, start, end, step, vals, x)
	// Two or more untagged series have nothing in common but their
	// names' absence: aggregateSeries keeps these two.
	out.Tags = map[string]string{"name": name, "aggregatedBy": fname}
	return []*Series{out}, true, nil
}

func fnAggregate(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	_, name, err := c.aggFunc(1, "")
	if err != nil {
		return nil, err
	}
	var xff *float64
	if c.has(2) {
		x, err := c.num(2)
		if err != nil {
			return nil, err
		}
		xff = &x
	}
	return aggregateSeries(c.rc, ss, name, xff), nil
}

// seriesListsPair is the *SeriesLists family: the i-th of each list together.
func seriesListsPair(fname string) fnDef {
	return fnDef{params: []string{"seriesListFirstPos", "seriesListSecondPos", "func", "xFilesFactor"}, impl: func(c *call) ([]*Series, error) {
		a, err := c.series(0)
		if err != nil {
			return nil, err
		}
		b, err := c.series(1)
		if err != nil {
			return nil, err
		}
		f := fname
		if f == "" {
			if _, f, err = c.aggFunc(2, ""); err != nil {
				return nil, err
			}
		}
		var xff *float64
		if fname == "" && c.has(3) {
			x, err := c.num(3)
			if err != nil {
				return nil, err
			}
			xff = &x
		}
		if len(a) != len(b) {
			return nil, argErr(c.e, "%s: both series lists must have the same length (%d and %d)", c.name(), len(a), len(b))
		}
		var out []*Series
		for i := range a {
			r := aggregateSeries(c.rc, []*Series{a[i], b[i]}, f, xff)
			if len(r) == 0 {
				continue
			}
			n := r[0].Name
			r[0].Name = n[:strings.Index(n, "Series(")] + "Series(" + a[i].Name + "," + b[i].Name + ")"
			out = append(out, r[0])
		}
		return out, nil
	}}
}

func withWildcards(fname string) fnDef {
	return fnDef{impl: func(c *call) ([]*Series, error) {
		ss, err := c.series(0)
		if err != nil {
			return nil, err
		}
		f := fname
		first := 1
		if f == "" {
			if _, f, err = c.aggFunc(1, ""); err != nil {
				return nil, err
			}
			first = 2
		}
		pos := map[int]bool{}
		for i := first; i < len(c.args); i++ {
			n, err := c.int(i)
			if err != nil {
				return nil, err
			}
			pos[n] = true
		}
		groups, keys := groupBy(ss, func(s *Series) string {
			var parts []string
			for i, p := range strings.Split(s.Name, ".") {
				if !pos[i] {
					parts = append(parts, p)
				}
			}
			return strings.Join(parts, ".")
		})
		var out []*Series
		for _, k := range keys {
			r := aggregateSeries(c.rc, groups[k], f, nil)
			if len(r) == 0 {
				continue
			}
			r[0].Name = k
			out = append(out, r[0])
		}
		return out, nil
	}}
}

// groupBy groups series by key, keys in first-seen order.
func groupBy(ss []*Series, key func(*Series) string) (map[string][]*Series, []string) {
	groups := map[string][]*Series{}
	var keys []string
	for _, s := range ss {
		k := key(s)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	return groups, keys
}

func fnCountSeries(c *call) ([]*Series, error) {
	lists, err := c.seriesLists(0)
	if err != nil {
		return nil, err
	}
	ss := flatten(lists)
	if len(lists) == 0 {
		s := constantLineSeries(c.rc, 0)
		s.PathExpr = "countSeries()"
		return []*Series{s}, nil
	}
	start, end, step, ok := normalize(ss)
	if !ok {
		return nil, nil
	}
	name := "countSeries(" + formatPathExpressions(ss) + ")"
	var vals []float64
	rows(ss, func(_ int, col []float64) { vals = append(vals, float64(len(col))) })
	return []*Series{newSeries(name, start, end, step, vals, c.rc.XFF())}, nil
}

func divideSeriesPair(rc reqCtx, a, b *Series) *Series {
	both := []*Series{a, b}
	start, end, step, _ := normalize(both)
	var vals []float64
	rows(both, func(_ int, col []float64) { vals = append(vals, safeDiv(col[0], col[1])) })
	return newSeries("divideSeries("+a.Name+","+b.Name+")", start, end, step, vals, rc.XFF())
}

func fnDivideSeries(c *call) ([]*Series, error) {
	num, err := c.series(0)
	if err != nil {
		return nil, err
	}
	den, err := c.series(1)
	if err != nil {
		return nil, err
	}
	if len(den) == 0 {
		for _, s := range num {
			s.Name = "divideSeries(" + s.Name + ",MISSING)"
			s.PathExpr = s.Name
			for i := range s.Values {
				s.Values[i] = nan
			}
		}
		return num, nil
	}
	if len(den) > 1 {
		return nil, argErr(c.arg(1), "divideSeries second argument must reference exactly 1 series (got %d)", len(den))
	}
	var out []*Series
	for _, s := range num {
		out = append(out, divideSeriesPair(c.rc, s, den[0]))
	}
	return out, nil
}

func fnDivideSeriesLists(c *call) ([]*Series, error) {
	a, err := c.series(0)
	if err != nil {
		return nil, err
	}
	b, err := c.series(1)
	if err != nil {
		return nil, err
	}
	if len(a) != len(b) {
		return nil, argErr(c.e, "divideSeriesLists: dividendSeriesList and divisorSeriesList argument must have equal length (%d and %d)", len(a), len(b))
	}
	var out []*Series
	for i := range a {
		out = append(out, divideSeriesPair(c.rc, a[i], b[i]))
	}
	return out, nil
}

// sumTotal is the total asPercent divides by: the one series itself, or
// the sum of several.
func sumTotal(rc reqCtx, ss []*Series) *Series {
	if len(ss) == 1 {
		return ss[0]
	}
	start, end, step, _ := normalize(ss)
	var vals []float64
	rows(ss, func(_ int, col []float64) { vals = append(vals, safeSum(col)) })
	return newSeries("sumSeries("+formatPathExpressions(ss)+")", start, end, step, vals, rc.XFF())
}

func percentOf(rc reqCtx, a, b *Series) *Series {
	both := []*Series{a, b}
	start, end, step, _ := normalize(both)
	var vals []float64
	rows(both, func(_ int, col []float64) { vals = append(vals, safeDiv(col[0], col[1])*100) })
	return newSeries("asPercent("+a.Name+","+b.Name+")", start, end, step, vals, rc.XFF())
}

func fnAsPercent(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	normalize(ss)
	var nodes []nodeKey
	for i := 2; i < len(c.args); i++ {
		nodes = append(nodes, c.nodeKey(i))
	}
	var total []*Series
	totalIsSeries := c.has(1) && !c.isNum(1)
	if totalIsSeries {
		if total, err = c.series(1); err != nil {
			return nil, err
		}
	}
	if len(nodes) > 0 {
		if c.has(1) && !totalIsSeries {
			return nil, argErr(c.arg(1), "asPercent: total must be None or a seriesList when nodes are given")
		}
		meta, keys := groupBy(ss, func(s *Series) string { return aggKey(s, nodes) })
		totals := map[string]*Series{}
		if !totalIsSeries {
			for _, k := range keys {
				totals[k] = sumTotal(c.rc, meta[k])
			}
		} else {
			tg, tkeys := groupBy(total, func(s *Series) string { return aggKey(s, nodes) })
			for _, k := range tkeys {
				if _, ok := meta[k]; !ok {
					keys = append(keys, k)
				}
				totals[k] = sumTotal(c.rc, tg[k])
			}
		}
		var out []*Series
		for _, k := range keys {
			if _, ok := meta[k]; !ok {
				t := totals[k]
				vals := make([]float64, len(t.Values))
				for i := range vals {
					vals[i] = nan
				}
				out = append(out, newSeries("asPercent(MISSING,"+t.Name+")", t.Start, t.End, t.Step, vals, c.rc.XFF()))
				continue
			}
			for _, s := range meta[k] {
				t, ok := totals[k]
				if !ok {
					vals := make([]float64, len(s.Values))
					for i := range vals {
						vals[i] = nan
					}
					out = append(out, newSeries("asPercent("+s.Name+",MISSING)", s.Start, s.End, s.Step, vals, c.rc.XFF()))
					continue
				}
				out = append(out, percentOf(c.rc, s, t))
			}
		}
		return out, nil
	}
	if len(ss) == 0 {
		return nil, nil
	}
	var totalVals []float64
	var totalText string
	switch {
	case !c.has(1):
		rows(ss, func(_ int, col []float64) { totalVals = append(totalVals, safeSum(col)) })
		totalText = "sumSeries(" + formatPathExpressions(ss) + ")"
	case totalIsSeries:
		if len(total) != 1 && len(total) != len(ss) {
			return nil, argErr(c.arg(1), "asPercent second argument must be missing, a single digit, reference exactly 1 series or reference the same number of series as the first argument")
		}
		if len(total) == 1 {
			normalize(append(append([]*Series(nil), ss...), total...))
			totalVals = total[0].Values
			totalText = total[0].Name
		}
	default:
		t, _ := c.num(1)
		totalVals = make([]float64, len(ss[0].Values))
		for i := range totalVals {
			totalVals[i] = t
		}
		totalText = c.pyArg(1)
	}
	var out []*Series
	if totalIsSeries && len(total) == len(ss) {
		a := append([]*Series(nil), ss...)
		b := append([]*Series(nil), total...)
		sortByName(a)
		sortByName(b)
		for i := range a {
			out = append(out, percentOf(c.rc, a[i], b[i]))
		}
		return out, nil
	}
	for _, s := range ss {
		n := max(len(s.Values), len(totalVals))
		vals := make([]float64, n)
		for i := range vals {
			v, t := nan, nan
			if i < len(s.Values) {
				v = s.Values[i]
			}
			if i < len(totalVals) {
				t = totalVals[i]
			}
			vals[i] = safeDiv(v, t) * 100
		}
		tt := totalText
		if tt == "" {
			tt = s.PathExpr
		}
		out = append(out, newSeries("asPercent("+s.Name+","+tt+")", s.Start, s.End, s.Step, vals, c.rc.XFF()))
	}
	return out, nil
}

// nodeKey is a node index or a tag name, as aliasByNode and groupByNodes take.
type nodeKey struct {
	n     int
	isNum bool
	tag   string
}

func (c *call) nodeKey(i int) nodeKey {
	if c.isNum(i) {
		return nodeKey{n: int(c.args[i].Num), isNum: true}
	}
	if c.isStr(i) {
		return nodeKey{tag: c.args[i].Str}
	}
	return nodeKey{tag: c.pyArg(i)}
}

func (c *call) nodeKeys(from int) []nodeKey {
	var out []nodeKey
	for i := from; i < len(c.args); i++ {
		out = append(out, c.nodeKey(i))
	}
	return out
}

// aggKey is graphite-web's aggKey: the chosen nodes of the series' first
// path expression (or tags), joined with dots.
func aggKey(s *Series, nodes []nodeKey) string {
	path := s.Name
	if strings.HasSuffix(s.Name, ")") {
		path = firstPathExpression(s.Name)
	}
	var parts []string
	for _, n := range nodes {
		parts = append(parts, nodeOrTag(s, n, path))
	}
	return strings.Join(parts, ".")
}

func nodeOrTag(s *Series, n nodeKey, path string) string {
	if n.isNum {
		p := strings.SplitN(path, ";", 2)[0]
		parts := strings.Split(p, ".")
		i := n.n
		if i < 0 {
			i += len(parts)
		}
		if i >= 0 && i < len(parts) {
			return parts[i]
		}
		return s.Tags[pyIntStr(n.n)]
	}
	return s.Tags[n.tag]
}

func pyIntStr(n int) string { return pyD(float64(n)) }

// firstPathExpression finds the first path in a name such as
// sumSeries(a.b.c,x.y): graphite-web parses the name as a target.
func firstPathExpression(name string) string {
	e, err := Parse(name)
	if err != nil {
		return name
	}
	for e != nil {
		switch e.Kind {
		case KindPath:
			return e.Path
		case KindCall:
			if len(e.Args) == 0 {
				return name
			}
			e = e.Args[0]
		default:
			return name
		}
	}
	return name
}

func fnGroupByNodes(c *call, callbackIdx int, nodes []nodeKey) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	cb, err := c.str(callbackIdx, "average")
	if err != nil {
		return nil, err
	}
	meta, keys := groupBy(ss, func(s *Series) string { return aggKey(s, nodes) })
	var out []*Series
	for _, k := range keys {
		r, err := applyCallback(c, cb, meta[k])
		if err != nil {
			return nil, err
		}
		if len(r) == 0 {
			continue
		}
		r[0].Name = k
		out = append(out, r[0])
	}
	return out, nil
}

// applyCallback runs a series function by name (sumSeries) or an
// aggregation (sum) over a group.
func applyCallback(c *call, cb string, ss []*Series) ([]*Series, error) {
	switch cb {
	case "sumSeries", "averageSeries", "avg", "sum", "minSeries", "maxSeries", "diffSeries", "multiplySeries",
		"stddevSeries", "rangeOfSeries", "countSeries":
		if cb == "countSeries" {
			start, end, step, ok := normalize(ss)
			if !ok {
				return nil, nil
			}
			var vals []float64
			rows(ss, func(_ int, col []float64) { vals = append(vals, float64(len(col))) })
			return []*Series{newSeries("countSeries("+formatPathExpressions(ss)+")", start, end, step, vals, c.rc.XFF())}, nil
		}
		name := map[string]string{"avg": "average", "sum": "sum"}[cb]
		if name == "" {
			name = cb
		}
		if cb == "multiplySeries" && len(ss) == 1 {
			return ss, nil
		}
		return aggregateSeries(c.rc, ss, name, nil), nil
	}
	if f := aggFuncs[cb]; f == nil {
		return nil, argErr(c.e, "%s: unsupported aggregation function %q (%s)", c.name(), cb, aggFuncNames)
	}
	return aggregateSeries(c.rc, ss, cb, nil), nil
}

func fnGroupByNode(c *call) ([]*Series, error) {
	return fnGroupByNodes(c, 2, []nodeKey{c.nodeKey(1)})
}

func fnGroupByNodesF(c *call) ([]*Series, error) {
	return fnGroupByNodes(c, 1, c.nodeKeys(2))
}

func fnGroupByTags(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	cb, err := c.str(1)
	if err != nil {
		return nil, err
	}
	var tags []string
	hasName := false
	for i := 2; i < len(c.args); i++ {
		t, err := c.str(i)
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
		hasName = hasName || t == "name"
	}
	if len(tags) == 0 {
		return nil, argErr(c.e, "groupByTags(): no tags specified")
	}
	commonName := cb
	if !hasName {
		names := map[string]bool{}
		for _, s := range ss {
			names[s.Tags["name"]] = true
		}
		if len(names) == 1 {
			for n := range names {
				commonName = n
			}
		}
	}
	meta, keys := groupBy(ss, func(s *Series) string {
		var kv []string
		for _, t := range tags {
			if t != "name" {
				kv = append(kv, t+"="+s.Tags[t])
			}
		}
		sortStrings(kv)
		head := commonName
		if hasName {
			head = s.Tags["name"]
		}
		return strings.Join(append([]string{head}, kv...), ";")
	})
	var out []*Series
	for _, k := range keys {
		r, err := applyCallback(c, cb, meta[k])
		if err != nil {
			return nil, err
		}
		if len(r) == 0 {
			continue
		}
		r[0].Name, r[0].PathExpr, r[0].Tags = k, k, tagsOf(k)
		out = append(out, r[0])
	}
	return out, nil
}

func fnPercentileOfSeries(c *call) ([]*Series, error) {
	ss, n, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	interp, err := c.boolean(2, false)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, argErr(c.arg(1), "percentileOfSeries: the requested percent is required to be greater than 0")
	}
	if len(ss) == 0 {
		return nil, nil
	}
	name := "percentileOfSeries(" + ss[0].PathExpr + "," + pyG(n) + ")"
	start, end, step, _ := normalize(ss)
	var vals []float64
	rows(ss, func(_ int, col []float64) { vals = append(vals, getPercentile(col, n, interp)) })
	return []*Series{newSeries(name, start, end, step, vals, c.rc.XFF())}, nil
}

func fnPowSeries(c *call) ([]*Series, error) {
	lists, err := c.seriesLists(0)
	if err != nil {
		return nil, err
	}
	ss := flatten(lists)
	start, end, step, ok := normalize(ss)
	if !ok {
		return nil, nil
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.Name)
	}
	var vals []float64
	rows(ss, func(_ int, col []float64) {
		v := col[0]
		for _, x := range col[1:] {
			v = safePow(v, x)
		}
		vals = append(vals, v)
	})
	return []*Series{newSeries("powSeries("+strings.Join(names, ",")+")", start, end, step, vals, c.rc.XFF())}, nil
}

func fnWeightedAverage(c *call) ([]*Series, error) {
	avgs, err := c.series(0)
	if err != nil {
		return nil, err
	}
	weights, err := c.series(1)
	if err != nil {
		return nil, err
	}
	nodes := c.nodeKeys(2)
	if len(avgs) != len(weights) {
		return nil, argErr(c.e, "weightedAverage must receive the same number of series for seriesListAvg and seriesListWeight but received respectively %d and %d", len(avgs), len(weights))
	}
	type pair struct{ avg, weight *Series }
	sorted := map[string]*pair{}
	var order []string
	get := func(k string) *pair {
		if sorted[k] == nil {
			sorted[k] = &pair{}
			order = append(order, k)
		}
		return sorted[k]
	}
	for i := range avgs {
		get(aggKey(avgs[i], nodes)).avg = avgs[i]
		get(aggKey(weights[i], nodes)).weight = weights[i]
	}
	var products []*Series
	for _, k := range order {
		p := sorted[k]
		if p.avg == nil || p.weight == nil {
			continue
		}
		n := max(len(p.avg.Values), len(p.weight.Values))
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = at(p.avg.Values, i) * at(p.weight.Values, i)
		}
		products = append(products, newSeries("product("+p.weight.Name+","+p.avg.Name+")", p.avg.Start, p.avg.End, p.avg.Step, vals, c.rc.XFF()))
	}
	if len(products) == 0 {
		return nil, nil
	}
	sp := aggregateSeries(c.rc, products, "sum", nil)[0]
	sw := aggregateSeries(c.rc, weights, "sum", nil)[0]
	n := max(len(sp.Values), len(sw.Values))
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = safeDiv(at(sp.Values, i), at(sw.Values, i))
	}
	var nodeStrs []string
	for i := 2; i < len(c.args); i++ {
		nodeStrs = append(nodeStrs, c.pyArg(i))
	}
	name := "weightedAverage(" + sortedUniquePaths(avgs) + ", " + sortedUniquePaths(weights) + ", " + strings.Join(nodeStrs, ",") + ")"
	return []*Series{newSeries(name, sp.Start, sp.End, sp.Step, vals, c.rc.XFF())}, nil
}

func sortedUniquePaths(ss []*Series) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s.PathExpr] {
			seen[s.PathExpr] = true
			out = append(out, s.PathExpr)
		}
	}
	sortStrings(out)
	return strings.Join(out, ",")
}

// at is v[i], or null past the end (izip_longest).
func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

func fnGroup(c *call) ([]*Series, error) {
	lists, err := c.seriesLists(0)
	if err != nil {
		return nil, err
	}
	return flatten(lists), nil
}

func fnReduceSeries(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	fn, err := c.str(1)
	if err != nil {
		return nil, err
	}
	node, err := c.int(2)
	if err != nil {
		return nil, err
	}
	var matchers []string
	for i := 3; i < len(c.args); i++ {
		m, err := c.str(i)
		if err != nil {
			return nil, err
		}
		matchers = append(matchers, m)
	}
	meta := map[string][]*Series{}
	var keys []string
	for _, s := range ss {
		nodes := strings.Split(s.Name, ".")
		if node < 0 || node >= len(nodes) {
			continue
		}
		key := strings.Join(nodes[:node], ".") + ".reduce." + fn
		for i, m := range matchers {
			if nodes[node] != m {
				continue
			}
			if meta[key] == nil {
				meta[key] = make([]*Series, len(matchers))
				keys = append(keys, key)
			}
			meta[key][i] = s
		}
	}
	def, ok := functions[fn]
	if !ok {
		return nil, argErr(c.arg(1), "reduceSeries: unknown function %s", fn)
	}
	var out []*Series
	for _, k := range keys {
		// Call the function with one series argument per matcher.
		sub := &call{ev: c.ev, e: &Expr{Pos: c.e.Pos, Kind: KindCall, Func: fn}, rc: c.rc}
		for _, s := range meta[k] {
			if s == nil {
				return nil, argErr(c.e, "reduceSeries: %s lacks one of %v", k, matchers)
			}
			sub.args = append(sub.args, constSeriesExpr(c.ev, s))
		}
		r, err := def.impl(sub)
		if err != nil {
			return nil, err
		}
		if len(r) > 0 {
			r[0].Name = k
			out = append(out, r[0])
		}
	}
	return out, nil
}

// constSeriesExpr lets a computed series stand as a function argument.
func constSeriesExpr(ev *evaluator, s *Series) *Expr {
	if ev.consts == nil {
		ev.consts = map[string][]*Series{}
	}
	key := "\x00const" + pyIntStr(len(ev.consts))
	ev.consts[key] = []*Series{s}
	return &Expr{Kind: KindPath, Path: key}
}

func fnMapSeries(c *call) ([]*Series, error) {
	// graphite-web returns a list of lists for reduceSeries; a plain render
	// of map() flattens it.
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	meta, keys := groupBy(ss, func(s *Series) string { return aggKey(s, c.nodeKeys(1)) })
	var out []*Series
	for _, k := range keys {
		out = append(out, meta[k]...)
	}
	return out, nil
}
