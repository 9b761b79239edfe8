package graphite

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// The Alias, Graph and Special families, and the function table.

func fnAlias(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	name, err := c.str(1)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = name
	}
	return ss, nil
}

func fnAliasByNode(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	nodes := c.nodeKeys(1)
	for _, s := range ss {
		s.Name = aggKey(s, nodes)
	}
	return ss, nil
}

// substr is graphite-web's substr: nodes start..stop of the innermost
// path in the name.
func substr(name string, start, stop int) string {
	left := strings.LastIndexByte(name, '(') + 1
	right := strings.IndexByte(name, ')')
	if right < 0 {
		right = len(name) + 1
	}
	clean := ""
	if left < right && left <= len(name) {
		clean = name[left:min(right, len(name))]
	}
	parts := strings.Split(clean, ".")
	lo := pyIndex(start, len(parts))
	hi := len(parts)
	if stop != 0 {
		hi = pyIndex(stop, len(parts))
	}
	out := ""
	if lo < hi {
		out = strings.Join(parts[lo:hi], ".")
	}
	if i := strings.IndexByte(out, ','); i >= 0 {
		out = out[:i]
	}
	return out
}

// pyIndex clamps a Python slice index.
func pyIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

func fnSubstr(c *call) ([]*Series, error) {
	ss, start, err := c.seriesAndInt(0)
	if err != nil {
		return nil, err
	}
	stop, err := c.int(2, 0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = substr(s.Name, start, stop)
	}
	return ss, nil
}

func fnAliasByMetric(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = substr(s.Name, -1, 0)
	}
	return ss, nil
}

func fnAliasSub(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	re, err := c.pyRegexp(1)
	if err != nil {
		return nil, err
	}
	repl, err := c.str(2)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = re.ReplaceAllString(s.Name, pyReplacement(repl))
	}
	return ss, nil
}

func fnAliasQuery(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	re, err := c.pyRegexp(1)
	if err != nil {
		return nil, err
	}
	repl, err := c.str(2)
	if err != nil {
		return nil, err
	}
	format, err := c.str(3)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		q := re.ReplaceAllString(s.Name, pyReplacement(repl))
		found, err := c.evalTarget(q, c.rc)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, argErr(c.e, "aliasQuery: no series found with query: %s", q)
		}
		cur := safeLast(found[0].Values)
		if math.IsNaN(cur) {
			return nil, argErr(c.e, "aliasQuery: cannot get last value of series: %s", found[0].Name)
		}
		s.Name = pyPercent(format, cur)
	}
	return ss, nil
}

var pyVerb = regexp.MustCompile(`%([-+ 0#]*)(\d*)(?:\.(\d+))?([diouxXeEfFgGsr%])`)

// pyPercent formats one number with a Python %-format string.
func pyPercent(format string, v float64) string {
	return pyVerb.ReplaceAllStringFunc(format, func(m string) string {
		p := pyVerb.FindStringSubmatch(m)
		flags, width, prec, verb := p[1], p[2], p[3], p[4]
		spec := "%" + flags + width
		if prec != "" {
			spec += "." + prec
		}
		switch verb {
		case "%":
			return "%"
		case "d", "i", "u":
			return fmt.Sprintf(spec+"d", int64(v))
		case "s", "r":
			return fmt.Sprintf("%"+flags+width+"s", pyRepr(v))
		case "o", "x", "X":
			return fmt.Sprintf(spec+verb, int64(v))
		case "f", "F":
			if prec == "" {
				spec += ".6"
			}
			return fmt.Sprintf(spec+"f", v)
		case "e", "E":
			if prec == "" {
				spec += ".6"
			}
			return fmt.Sprintf(spec+verb, v)
		}
		if prec == "" {
			return pyG(v)
		}
		return fmt.Sprintf(spec+verb, v)
	})
}

func fnLegendValue(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	var types []string
	for i := 1; i < len(c.args); i++ {
		t, err := c.str(i)
		if err != nil {
			return nil, err
		}
		types = append(types, t)
	}
	system := ""
	if n := len(types); n > 0 && (types[n-1] == "si" || types[n-1] == "binary") {
		system, types = types[n-1], types[:n-1]
	}
	for _, t := range types {
		f := aggFuncs[t]
		for _, s := range ss {
			text := "(?)"
			if f != nil {
				v := f(s.Values)
				switch {
				case math.IsNaN(v):
					text = "None"
				case system != "":
					x, unit := formatUnits(v, system)
					text = fmt.Sprintf("%.2f%s", x, unit)
				case t == "count":
					text = pyD(v)
				default:
					text = pyRepr(v)
				}
			}
			if system == "" {
				s.Name += " (" + t + ": " + text + ")"
			} else {
				s.Name = fmt.Sprintf("%-20s%-5s%-10s", s.Name, t, text)
			}
		}
	}
	return ss, nil
}

// formatUnits scales a value by SI (1000) or binary (1024) prefixes, as
// graphite-web's glyph.format_units.
func formatUnits(v float64, system string) (float64, string) {
	type unit struct {
		name string
		size float64
	}
	units := []unit{{"Y", 1e24}, {"Z", 1e21}, {"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}}
	if system == "binary" {
		units = []unit{{"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}}
	}
	for _, u := range units {
		if math.Abs(v) >= u.size {
			return v / u.size, u.name
		}
	}
	return v, ""
}

func fnCactiStyle(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	system, _ := c.str(1, "")
	units, _ := c.str(2, "")
	if len(ss) == 0 {
		return ss, nil
	}
	fmtV := func(x float64) string {
		switch {
		case system != "" && units != "":
			v, p := formatUnits(x, system)
			return fmt.Sprintf("%.2f %s", v, p+units)
		case system != "":
			v, p := formatUnits(x, system)
			return fmt.Sprintf("%.2f%s", v, p)
		case units != "":
			return fmt.Sprintf("%.2f %s", x, units)
		}
		return fmt.Sprintf("%.2f", x)
	}
	orDefault := func(v float64) float64 {
		if math.IsNaN(v) || v == 0 {
			return 3
		}
		return math.Trunc(v)
	}
	nameLen, lastLen, maxLen, minLen := 0, 0, 0, 0
	for _, s := range ss {
		nameLen = max(nameLen, len(s.Name))
		lastLen = max(lastLen, len(fmtV(orDefault(safeLast(s.Values))))+3)
		maxLen = max(maxLen, len(fmtV(orDefault(safeMax(s.Values))))+3)
		minLen = max(minLen, len(fmtV(orDefault(safeMin(s.Values))))+3)
	}
	text := func(v float64) string {
		if math.IsNaN(v) {
			return "nan"
		}
		return fmtV(v)
	}
	for _, s := range ss {
		s.Name = fmt.Sprintf("%-*s Current:%-*s Max:%-*s Min:%-*s ", nameLen, s.Name, lastLen, text(safeLast(s.Values)),
			maxLen, text(safeMax(s.Values)), minLen, text(safeMin(s.Values)))
	}
	return ss, nil
}

// styleOnly registers a graph-styling function: the data passes unchanged.
func styleOnly() fnDef {
	return fnDef{impl: func(c *call) ([]*Series, error) { return c.series(0) }}
}

// renamed registers styling functions that graphite-web also renames.
func renamed(fname string, withArg bool) fnDef {
	return fnDef{impl: func(c *call) ([]*Series, error) {
		ss, err := c.series(0)
		if err != nil {
			return nil, err
		}
		suffix := ""
		if withArg {
			n, err := c.num(1, 5)
			if err != nil {
				return nil, err
			}
			suffix = ", " + pyG(n)
		}
		for _, s := range ss {
			s.Name = fname + "(" + s.Name + suffix + ")"
		}
		return ss, nil
	}}
}

func fnStacked(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	stack, err := c.str(1, "__DEFAULT__")
	if err != nil {
		return nil, err
	}
	if c.ev.stacks == nil {
		c.ev.stacks = map[string][]float64{}
	}
	total := c.ev.stacks[stack]
	var out []*Series
	for _, s := range ss {
		vals := make([]float64, len(s.Values))
		for i, v := range s.Values {
			for len(total) <= i {
				total = append(total, 0)
			}
			if math.IsNaN(v) {
				vals[i] = nan
				continue
			}
			total[i] += v
			vals[i] = total[i]
		}
		name := s.Name
		if stack == "__DEFAULT__" {
			name = "stacked(" + s.Name + ")"
		}
		r := s.copyWith(name, vals)
		r.PathExpr = s.PathExpr
		out = append(out, r)
	}
	c.ev.stacks[stack] = total
	return out, nil
}

func fnAreaBetween(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	if len(ss) != 2 {
		return nil, argErr(c.e, "areaBetween series argument must reference *exactly* 2 series (got %d)", len(ss))
	}
	name := "areaBetween(" + ss[1].PathExpr + ")"
	ss[0].Name, ss[1].Name = name, name
	return ss, nil
}

func fnVerticalLine(c *call) ([]*Series, error) {
	ts, err := c.str(0)
	if err != nil {
		return nil, err
	}
	t, err := ParseTime(ts, nowFunc())
	if err != nil {
		return nil, argErr(c.arg(0), "verticalLine: %v", err)
	}
	if t < c.rc.from {
		return nil, argErr(c.arg(0), "verticalLine(): timestamp %d exists before start of range", t)
	}
	if t > c.rc.until {
		return nil, argErr(c.arg(0), "verticalLine(): timestamp %d exists after end of range", t)
	}
	label, _ := c.str(1, "")
	return []*Series{newSeries(label, t, t, 1, []float64{1, 1}, c.rc.XFF())}, nil
}

func fnConsolidateBy(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	f, err := c.str(1)
	if err != nil {
		return nil, err
	}
	return consolidateBy(c, ss, f)
}

func consolidateBy(c *call, ss []*Series, f string) ([]*Series, error) {
	if consolidationFuncs[f] == nil {
		return nil, argErr(c.arg(1), "consolidateBy: unknown function %q (sum, average, avg, avg_zero, min, max, first, last)", f)
	}
	for _, s := range ss {
		s.Consolidate = f
		s.Name = "consolidateBy(" + s.Name + ",\"" + f + "\")"
		s.PathExpr = s.Name
	}
	return ss, nil
}

func fnCumulative(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	return consolidateBy(c, ss, "sum")
}

func fnSetXFilesFactor(c *call) ([]*Series, error) {
	ss, x, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	*c.rc.xff = x
	for _, s := range ss {
		s.XFilesFactor = x
	}
	return ss, nil
}

func fnFallbackSeries(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	if len(ss) > 0 {
		return ss, nil
	}
	return c.series(1)
}

func fnRandomWalk(c *call) ([]*Series, error) {
	name, err := c.str(0)
	if err != nil {
		return nil, err
	}
	step, err := c.int(1, 60)
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, argErr(c.arg(1), "randomWalk: step must be positive")
	}
	var vals []float64
	cur := 0.0
	for t := c.rc.from; t < c.rc.until; t += int64(step) {
		vals = append(vals, cur)
		cur += rnd() - 0.5
	}
	return []*Series{newSeries(name, c.rc.from, c.rc.until, int64(step), vals, c.rc.XFF())}, nil
}

func fnApplyByNode(c *call) ([]*Series, error) {
	ss, node, err := c.seriesAndInt()
	if err != nil {
		return nil, err
	}
	tmpl, err := c.str(2)
	if err != nil {
		return nil, err
	}
	newName, err := c.str(3, "")
	if err != nil {
		return nil, err
	}
	prefixes := map[string]bool{}
	for _, s := range ss {
		parts := strings.Split(s.Name, ".")
		prefixes[strings.Join(parts[:min(node+1, len(parts))], ".")] = true
	}
	var keys []string
	for p := range prefixes {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	var out []*Series
	for _, p := range keys {
		rs, err := c.evalTarget(strings.ReplaceAll(tmpl, "%", p), c.rc)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if newName != "" {
				r.Name = strings.ReplaceAll(newName, "%", p)
			}
			r.PathExpr = p
			last := ss[len(ss)-1]
			r.Start, r.End = last.Start, last.End
			out = append(out, r)
		}
	}
	return out, nil
}

func fnEvents(c *call) ([]*Series, error) {
	return nil, argErr(c.e, "events(): obs keeps no Graphite event annotations (DogStatsD events are log events: search them with obs logs search)")
}

func sortStrings(s []string) { sort.Strings(s) }

var functions map[string]fnDef

func init() {
	fd := func(f func(*call) ([]*Series, error), params ...string) fnDef { return fnDef{params: params, impl: f} }
	functions = map[string]fnDef{
		// Combine
		"aggregate":                   fd(fnAggregate, "seriesList", "func", "xFilesFactor"),
		"aggregateSeriesLists":        seriesListsPair(""),
		"aggregateWithWildcards":      withWildcards(""),
		"applyByNode":                 fd(fnApplyByNode, "seriesList", "nodeNum", "templateFunction", "newName"),
		"asPercent":                   fd(fnAsPercent, "seriesList", "total"),
		"pct":                         fd(fnAsPercent, "seriesList", "total"),
		"averageSeries":               combine("average"),
		"avg":                         combine("average"),
		"averageSeriesWithWildcards":  withWildcards("average"),
		"countSeries":                 fd(fnCountSeries),
		"diffSeries":                  combine("diff"),
		"diffSeriesLists":             seriesListsPair("diff"),
		"divideSeries":                fd(fnDivideSeries, "dividendSeriesList", "divisorSeries"),
		"divideSeriesLists":           fd(fnDivideSeriesLists, "dividendSeriesList", "divisorSeriesList"),
		"group":                       fd(fnGroup),
		"groupByNode":                 fd(fnGroupByNode, "seriesList", "nodeNum", "callback"),
		"groupByNodes":                fd(fnGroupByNodesF, "seriesList", "callback"),
		"groupByTags":                 fd(fnGroupByTags, "seriesList", "callback"),
		"map":                         fd(fnMapSeries, "seriesList"),
		"mapSeries":                   fd(fnMapSeries, "seriesList"),
		"maxSeries":                   combine("max"),
		"minSeries":                   combine("min"),
		"multiplySeries":              combine("multiply"),
		"multiplySeriesLists":         seriesListsPair("multiply"),
		"multiplySeriesWithWildcards": withWildcards("multiply"),
		"percentileOfSeries":          fd(fnPercentileOfSeries, "seriesList", "n", "interpolate"),
		"powSeries":                   fd(fnPowSeries),
		"rangeOfSeries":               combine("rangeOf"),
		"reduce":                      fd(fnReduceSeries, "seriesLists", "reduceFunction", "reduceNode"),
		"reduceSeries":                fd(fnReduceSeries, "seriesLists", "reduceFunction", "reduceNode"),
		"stddevSeries":                combine("stddev"),
		"sum":                         combine("sum"),
		"sumSeries":                   combine("sum"),
		"sumSeriesLists":              seriesListsPair("sum"),
		"sumSeriesWithWildcards":      withWildcards("sum"),
		"weightedAverage":             fd(fnWeightedAverage, "seriesListAvg", "seriesListWeight"),
		// Transform
		"absolute":              pointwise("absolute", math.Abs),
		"add":                   withNumber("add", fmtD, func(v, n float64) float64 { return v + n }),
		"delay":                 fd(fnDelay, "seriesList", "steps"),
		"derivative":            fd(fnDerivative, "seriesList"),
		"exp":                   pointwise("exp", nullSafe(math.Exp)),
		"hitcount":              fd(fnHitcount, "seriesList", "intervalString", "alignToInterval"),
		"integral":              fd(fnIntegral, "seriesList"),
		"integralByInterval":    fd(fnIntegralByInterval, "seriesList", "intervalUnit"),
		"interpolate":           fd(fnInterpolate, "seriesList", "limit"),
		"invert":                pointwise("invert", func(v float64) float64 { return safePow(v, -1) }),
		"isNonNull":             fd(fnIsNonNull, "seriesList"),
		"keepLastValue":         fd(fnKeepLastValue, "seriesList", "limit"),
		"log":                   fd(fnLog, "seriesList", "base"),
		"logit":                 pointwise("logit", nullSafe(func(v float64) float64 { return math.Log(v / (1 - v)) })),
		"minMax":                fd(fnMinMax, "seriesList"),
		"nonNegativeDerivative": fd(deltaFn(false), "seriesList", "maxValue", "minValue"),
		"offset":                withNumber("offset", fmtG, func(v, n float64) float64 { return v + n }),
		"offsetToZero":          fd(fnOffsetToZero, "seriesList"),
		"perSecond":             fd(deltaFn(true), "seriesList", "maxValue", "minValue"),
		"pow":                   withNumber("pow", fmtG, safePow),
		"round":                 fd(fnRound, "seriesList", "precision"),
		"scale":                 withNumber("scale", fmtG, func(v, n float64) float64 { return v * n }),
		"scaleToSeconds":        fd(fnScaleToSeconds, "seriesList", "seconds"),
		"sigmoid":               pointwise("sigmoid", nullSafe(func(v float64) float64 { return 1 / (1 + math.Exp(-v)) })),
		"sin":                   fd(fnSinFunction, "name", "amplitude", "step"),
		"sinFunction":           fd(fnSinFunction, "name", "amplitude", "step"),
		"smartSummarize":        fd(fnSmartSummarize, "seriesList", "intervalString", "func", "alignTo"),
		"squareRoot":            pointwise("squareRoot", func(v float64) float64 { return safePow(v, 0.5) }),
		"summarize":             fd(fnSummarize, "seriesList", "intervalString", "func", "alignToFrom"),
		"time":                  fd(fnTimeFunction, "name", "step"),
		"timeFunction":          fd(fnTimeFunction, "name", "step"),
		"timeShift":             fd(fnTimeShift, "seriesList", "timeShift", "resetEnd", "alignDST"),
		"timeSlice":             fd(fnTimeSlice, "seriesList", "startSliceAt", "endSliceAt"),
		"timeStack":             fd(fnTimeStack, "seriesList", "timeShiftUnit", "timeShiftStart", "timeShiftEnd"),
		"transformNull":         fd(fnTransformNull, "seriesList", "default", "referenceSeries"),
		// Calculate
		"aggregateLine":              fd(fnAggregateLine, "seriesList", "func", "keepStep"),
		"exponentialMovingAverage":   fd(fnExponentialMovingAverage, "seriesList", "windowSize"),
		"holtWintersAberration":      fd(fnHoltWintersAberration, "seriesList", "delta", "bootstrapInterval", "seasonality"),
		"holtWintersConfidenceArea":  fd(fnHoltWintersConfidenceArea, "seriesList", "delta", "bootstrapInterval", "seasonality"),
		"holtWintersConfidenceBands": fd(fnHoltWintersConfidenceBands, "seriesList", "delta", "bootstrapInterval", "seasonality"),
		"holtWintersForecast":        fd(fnHoltWintersForecast, "seriesList", "bootstrapInterval", "seasonality"),
		"identity":                   fd(fnIdentity, "name"),
		"linearRegression":           fd(fnLinearRegression, "seriesList", "startSourceAt", "endSourceAt"),
		"movingAverage":              moving("average"),
		"movingMax":                  moving("max"),
		"movingMedian":               moving("median"),
		"movingMin":                  moving("min"),
		"movingSum":                  moving("sum"),
		"movingWindow":               fd(func(c *call) ([]*Series, error) { return movingWindow(c, "") }, "seriesList", "windowSize", "func", "xFilesFactor"),
		"nPercentile":                fd(fnNPercentile, "seriesList", "n"),
		"stdev":                      fd(fnStdev, "seriesList", "points", "windowTolerance"),
		// Filter Series
		"averageAbove":             filter("average", ">"),
		"averageBelow":             filter("average", "<="),
		"averageOutsidePercentile": fd(fnAverageOutsidePercentile, "seriesList", "n"),
		"currentAbove":             filter("last", ">"),
		"currentBelow":             filter("last", "<="),
		"exclude":                  grepFn(false),
		"filterSeries":             fd(fnFilterSeries, "seriesList", "func", "operator", "threshold"),
		"grep":                     grepFn(true),
		"highest":                  top("", true),
		"highestAverage":           top("average", true),
		"highestCurrent":           top("last", true),
		"highestMax":               top("max", true),
		"limit":                    fd(fnLimit, "seriesList", "n"),
		"lowest":                   top("", false),
		"lowestAverage":            top("average", false),
		"lowestCurrent":            top("last", false),
		"maximumAbove":             filter("max", ">"),
		"maximumBelow":             filter("max", "<="),
		"minimumAbove":             filter("min", ">"),
		"minimumBelow":             filter("min", "<="),
		"mostDeviant":              fd(fnMostDeviant, "seriesList", "n"),
		"removeBetweenPercentile":  fd(fnRemoveBetweenPercentile, "seriesList", "n"),
		"removeEmptySeries":        fd(fnRemoveEmptySeries, "seriesList", "xFilesFactor"),
		"unique":                   fd(fnUnique),
		"useSeriesAbove":           fd(fnUseSeriesAbove, "seriesList", "value", "search", "replace"),
		// Filter Data
		"removeAbovePercentile": percentileRemove(true),
		"removeAboveValue":      valueRemove(true),
		"removeBelowPercentile": percentileRemove(false),
		"removeBelowValue":      valueRemove(false),
		// Sorting
		"sortBy":       fd(fnSortBy, "seriesList", "func", "reverse"),
		"sortByMaxima": sortFixed("max", true),
		"sortByMinima": fd(fnSortByMinima, "seriesList"),
		"sortByName":   fd(fnSortByName, "seriesList", "natural", "reverse"),
		"sortByTotal":  sortFixed("sum", true),
		// Alias
		"alias":         fd(fnAlias, "seriesList", "newName"),
		"aliasByMetric": fd(fnAliasByMetric, "seriesList"),
		"aliasByNode":   fd(fnAliasByNode, "seriesList"),
		"aliasByTags":   fd(fnAliasByNode, "seriesList"),
		"aliasQuery":    fd(fnAliasQuery, "seriesList", "search", "replace", "newName"),
		"aliasSub":      fd(fnAliasSub, "seriesList", "search", "replace"),
		"legendValue":   fd(fnLegendValue, "seriesList"),
		// Graph: styling for graphite-web's PNG renderer; the data is unchanged.
		"alpha":          styleOnly(),
		"areaBetween":    fd(fnAreaBetween, "seriesList"),
		"color":          styleOnly(),
		"dashed":         renamed("dashed", true),
		"drawAsInfinite": renamed("drawAsInfinite", false),
		"lineWidth":      styleOnly(),
		"secondYAxis":    renamed("secondYAxis", false),
		"stacked":        fd(fnStacked, "seriesLists", "stack"),
		"threshold":      fd(fnThreshold, "value", "label", "color"),
		"verticalLine":   fd(fnVerticalLine, "ts", "label", "color"),
		// Special
		"cactiStyle":         fd(fnCactiStyle, "seriesList", "system", "units"),
		"changed":            fd(fnChanged, "seriesList"),
		"consolidateBy":      fd(fnConsolidateBy, "seriesList", "consolidationFunc"),
		"constantLine":       fd(fnConstantLine, "value"),
		"cumulative":         fd(fnCumulative, "seriesList"),
		"events":             fd(fnEvents),
		"fallbackSeries":     fd(fnFallbackSeries, "seriesList", "fallback"),
		"randomWalk":         fd(fnRandomWalk, "name", "step"),
		"randomWalkFunction": fd(fnRandomWalk, "name", "step"),
		"setXFilesFactor":    fd(fnSetXFilesFactor, "seriesList", "xFilesFactor"),
		"substr":             fd(fnSubstr, "seriesList", "start", "stop"),
		"xFilesFactor":       fd(fnSetXFilesFactor, "seriesList", "xFilesFactor"),
	}
}

// Functions lists the function names obs evaluates (seriesByTag included).
func Functions() []string {
	out := []string{"seriesByTag"}
	for k := range functions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
