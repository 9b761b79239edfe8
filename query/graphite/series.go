package graphite

import (
	"math"
	"sort"
	"strings"
)

var (
	inf = math.Inf(1)
	nan = math.NaN()
)

// Series is a Graphite series: one value per Step seconds from Start, NaN
// for null. As in graphite-web, End is the exclusive end of the last
// interval and a series is read out as zip(values, range(Start, End+1,
// Step*ValuesPerPoint)): whichever runs out first ends it.
type Series struct {
	Name     string
	PathExpr string // the expression that fetched it; aggregates name themselves by it
	Start    int64  // unix seconds
	End      int64
	Step     int64
	Values   []float64
	Tags     map[string]string
	// Consolidation for the render API: ValuesPerPoint values become one by
	// Consolidate ("average" unless consolidateBy said otherwise).
	ValuesPerPoint int
	Consolidate    string
	XFilesFactor   float64
}

// newSeries makes a series with graphite-web's defaults: tags from the
// name (name;k=v), the pathExpression the name itself.
func newSeries(name string, start, end, step int64, values []float64, xff float64) *Series {
	return &Series{Name: name, PathExpr: name, Start: start, End: end, Step: step, Values: values,
		Tags: tagsOf(name), ValuesPerPoint: 1, Consolidate: "average", XFilesFactor: xff}
}

// tagsOf parses a Graphite tagged name, metric;k=v;k2=v2, into tags with
// the metric as "name"; a call such as sumSeries(...) is only a name.
func tagsOf(name string) map[string]string {
	if strings.HasSuffix(name, ")") && callName.MatchString(name) {
		return map[string]string{"name": name}
	}
	parts := strings.Split(name, ";")
	t := map[string]string{"name": strings.TrimLeft(parts[0], "~")}
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(p, "="); ok && k != "" {
			t[k] = v
		}
	}
	return t
}

// copyWith copies s with new values (and the same everything else).
func (s *Series) copyWith(name string, values []float64) *Series {
	c := *s
	c.Name = name
	c.PathExpr = name
	c.Values = values
	c.Tags = copyTags(s.Tags)
	return &c
}

func copyTags(t map[string]string) map[string]string {
	c := make(map[string]string, len(t)+1)
	for k, v := range t {
		c[k] = v
	}
	return c
}

// consolidated returns the values as graphite-web iterates them: in groups
// of ValuesPerPoint, each group reduced by the consolidation function when
// enough of it (XFilesFactor) is non-null.
func (s *Series) consolidated() []float64 {
	vpp := s.ValuesPerPoint
	if vpp <= 1 {
		return s.Values
	}
	out := make([]float64, 0, (len(s.Values)+vpp-1)/vpp)
	buf := make([]float64, 0, vpp)
	for i := 0; i < len(s.Values); i += vpp {
		buf = buf[:0]
		end := min(i+vpp, len(s.Values))
		for _, v := range s.Values[i:end] {
			if !math.IsNaN(v) {
				buf = append(buf, v)
			} else if s.Consolidate == "avg_zero" {
				buf = append(buf, 0)
			}
		}
		nonNull := 0
		for _, v := range s.Values[i:end] {
			if !math.IsNaN(v) {
				nonNull++
			}
		}
		if nonNull > 0 && float64(nonNull)/float64(vpp) >= s.XFilesFactor {
			out = append(out, consolidationFuncs[s.Consolidate](buf))
		} else {
			out = append(out, nan)
		}
	}
	return out
}

var consolidationFuncs = map[string]func([]float64) float64{
	"sum":      func(v []float64) float64 { return sumOf(v) },
	"average":  func(v []float64) float64 { return sumOf(v) / float64(len(v)) },
	"avg":      func(v []float64) float64 { return sumOf(v) / float64(len(v)) },
	"avg_zero": func(v []float64) float64 { return sumOf(v) / float64(len(v)) },
	"max": func(v []float64) float64 {
		m := v[0]
		for _, x := range v {
			m = math.Max(m, x)
		}
		return m
	},
	"min": func(v []float64) float64 {
		m := v[0]
		for _, x := range v {
			m = math.Min(m, x)
		}
		return m
	},
	"first": func(v []float64) float64 { return v[0] },
	"last":  func(v []float64) float64 { return v[len(v)-1] },
}

func sumOf(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// Point is one rendered datapoint.
type Point struct {
	Value float64 // NaN for null
	TS    int64
}

// Points is the series as the render API writes it.
func (s *Series) Points() []Point {
	vals := s.consolidated()
	step := s.Step * int64(max(s.ValuesPerPoint, 1))
	if step <= 0 {
		step = 1
	}
	var out []Point
	for i, ts := 0, s.Start; i < len(vals) && ts < s.End+1; i, ts = i+1, ts+step {
		out = append(out, Point{vals[i], ts})
	}
	return out
}

// lcm and gcd are for normalize: series of different steps meet at their
// least common multiple.
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b int64) int64 {
	if a == b || b == 0 {
		return a
	}
	return a / gcd(a, b) * b
}

// normalize brings series onto one step (consolidating the finer ones) and
// returns the common start, end and step, as graphite-web's normalize.
func normalize(ss []*Series) (start, end, step int64, ok bool) {
	if len(ss) == 0 {
		return 0, 0, 0, false
	}
	step = ss[0].Step
	for _, s := range ss[1:] {
		step = lcm(step, s.Step)
	}
	start, end = ss[0].Start, ss[0].End
	for _, s := range ss {
		if s.Step > 0 && step/s.Step > 1 {
			s.ValuesPerPoint = int(step / s.Step)
			s.Values = s.consolidated()
			s.Step, s.ValuesPerPoint = step, 1
		}
		start = min(start, s.Start)
		end = max(end, s.End)
	}
	end -= (end - start) % step
	return start, end, step, true
}

// rows calls fn for each index of the longest series with the column of
// values there (NaN where a series is shorter), as izip_longest.
func rows(ss []*Series, fn func(i int, col []float64)) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s.Values))
	}
	col := make([]float64, len(ss))
	for i := 0; i < n; i++ {
		for j, s := range ss {
			if i < len(s.Values) {
				col[j] = s.Values[i]
			} else {
				col[j] = nan
			}
		}
		fn(i, col)
	}
	return n
}

// formatPathExpressions joins the distinct pathExpressions in order, the
// argument text aggregates put in their names.
func formatPathExpressions(ss []*Series) string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s.PathExpr] {
			seen[s.PathExpr] = true
			out = append(out, s.PathExpr)
		}
	}
	return strings.Join(out, ",")
}

func sortByName(ss []*Series) {
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
}

// Aggregation functions over one column or series of values, nulls (NaN)
// skipped; NaN out is null, as graphite-web's aggFuncs.
type aggFn func([]float64) float64

func nonNull(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// sumNonNull adds the non-null values in order (the same sum as sumOf of
// nonNull, without copying: sumSeries over an hour of 1,800 series made
// that copy for every point, 8 MB in flight per render in the soak).
func sumNonNull(v []float64) (sum float64, n int) {
	for _, x := range v {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	return sum, n
}

func safeSum(v []float64) float64 {
	s, n := sumNonNull(v)
	if n == 0 {
		return nan
	}
	return s
}

func safeAvg(v []float64) float64 {
	s, n := sumNonNull(v)
	if n == 0 {
		return nan
	}
	return s / float64(n)
}

func safeMin(v []float64) float64 {
	m := nan
	for _, x := range v {
		if !math.IsNaN(x) && (math.IsNaN(m) || x < m) {
			m = x
		}
	}
	return m
}

func safeMax(v []float64) float64 {
	m := nan
	for _, x := range v {
		if !math.IsNaN(x) && (math.IsNaN(m) || x > m) {
			m = x
		}
	}
	return m
}

func safeLast(v []float64) float64 {
	for i := len(v) - 1; i >= 0; i-- {
		if !math.IsNaN(v[i]) {
			return v[i]
		}
	}
	return nan
}

func safeLen(v []float64) float64 {
	_, n := sumNonNull(v)
	return float64(n)
}

func safeMedian(v []float64) float64 {
	n := nonNull(v)
	if len(n) == 0 {
		return nan
	}
	sort.Float64s(n)
	mid := len(n) / 2
	if len(n)%2 == 0 {
		return (n[mid-1] + n[mid]) / 2
	}
	return n[mid]
}

func safeStdDev(v []float64) float64 {
	n := nonNull(v)
	if len(n) == 0 {
		return nan
	}
	avg := sumOf(n) / float64(len(n))
	s := 0.0
	for _, x := range n {
		s += (x - avg) * (x - avg)
	}
	return math.Sqrt(s / float64(len(n)))
}

func safeDiffAgg(v []float64) float64 {
	n := nonNull(v)
	if len(n) == 0 {
		return nan
	}
	// graphite-web sums the first value and the negated rest.
	s := n[0]
	for _, x := range n[1:] {
		s += -x
	}
	return s
}

func safeMultiply(v []float64) float64 {
	if len(v) == 0 {
		return nan
	}
	p := 1.0
	for i, x := range v {
		if math.IsNaN(x) {
			return nan
		}
		if i == 0 {
			p = x
		} else {
			p *= x
		}
	}
	return p
}

func safeAvgZero(v []float64) float64 {
	if len(v) == 0 {
		return nan
	}
	s := 0.0
	for _, x := range v {
		if !math.IsNaN(x) {
			s += x
		}
	}
	return s / float64(len(v))
}

func safeRange(v []float64) float64 { return safeMax(v) - safeMin(v) }

var aggFuncs = map[string]aggFn{
	"average": safeAvg, "avg": safeAvg, "avg_zero": safeAvgZero, "median": safeMedian,
	"sum": safeSum, "total": safeSum, "min": safeMin, "max": safeMax, "diff": safeDiffAgg,
	"stddev": safeStdDev, "count": safeLen, "range": safeRange, "rangeOf": safeRange,
	"multiply": safeMultiply, "last": safeLast, "current": safeLast,
}

// aggFuncNames is for error messages.
const aggFuncNames = "average, avg, avg_zero, median, sum, total, min, max, diff, stddev, count, range, rangeOf, multiply, last, current"

func safeDiv(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return nan
	}
	return a / b
}

// safePow is math.pow with Python's errors (domain, overflow) as null.
func safePow(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return nan
	}
	r := math.Pow(a, b)
	if math.IsNaN(r) || math.IsInf(r, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0) {
		return nan
	}
	return r
}

// getPercentile is graphite-web's _getPercentile: the nearest rank, or
// linear interpolation between ranks.
func getPercentile(points []float64, n float64, interpolate bool) float64 {
	s := nonNull(points)
	if len(s) == 0 {
		return nan
	}
	sort.Float64s(s)
	fractionalRank := n / 100.0 * float64(len(s)+1)
	rank := int(fractionalRank)
	rankFraction := fractionalRank - float64(rank)
	if !interpolate {
		rank += int(math.Ceil(rankFraction))
	}
	var p float64
	switch {
	case rank == 0:
		p = s[0]
	case rank-1 >= len(s):
		p = s[len(s)-1]
	default:
		p = s[rank-1]
	}
	if interpolate && rank != len(s) && rank < len(s) {
		p = p + rankFraction*(s[rank]-p)
	}
	return p
}
