package graphite

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The Transform family: functions that change each series' values.

// mapEach applies f to every series, renaming it name(series).
func mapEach(ss []*Series, name func(*Series) string, f func(v float64) float64) []*Series {
	for _, s := range ss {
		for i, v := range s.Values {
			s.Values[i] = f(v)
		}
		s.Name = name(s)
		s.PathExpr = s.Name
	}
	return ss
}

// pointwise registers a function of the values alone, name(series).
func pointwise(fname string, f func(v float64) float64) fnDef {
	return fnDef{params: []string{"seriesList"}, impl: func(c *call) ([]*Series, error) {
		ss, err := c.series(0)
		if err != nil {
			return nil, err
		}
		return mapEach(ss, func(s *Series) string { return fname + "(" + s.Name + ")" }, f), nil
	}}
}

// withNumber registers name(series,N) functions, N formatted by format.
func withNumber(fname string, format func(c *call) string, f func(v, n float64) float64, def ...float64) fnDef {
	return fnDef{impl: func(c *call) ([]*Series, error) {
		ss, n, err := c.seriesAndNum(def...)
		if err != nil {
			return nil, err
		}
		suffix := format(c)
		return mapEach(ss, func(s *Series) string { return fname + "(" + s.Name + "," + suffix + ")" },
			func(v float64) float64 {
				if math.IsNaN(v) {
					return nan
				}
				return f(v, n)
			}), nil
	}}
}

func fmtG(c *call) string { n, _ := c.num(1); return pyG(n) }
func fmtD(c *call) string { n, _ := c.num(1); return pyD(n) }
func nullSafe(f func(float64) float64) func(float64) float64 {
	return func(v float64) float64 {
		if math.IsNaN(v) {
			return nan
		}
		r := f(v)
		if math.IsInf(r, 0) {
			return nan
		}
		return r
	}
}

// pyRound is Python's round(x, n): the exact binary value rounded half to
// even, which strconv's formatting does too.
func pyRound(x float64, n int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	if n < 0 {
		p := math.Pow(10, float64(-n))
		return math.RoundToEven(x/p) * p
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', n, 64), 64)
	return r
}

func fnRound(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	p := 0
	name := func(s *Series) string { return "round(" + s.Name + ")" }
	if c.has(1) {
		if p, err = c.int(1); err != nil {
			return nil, err
		}
		name = func(s *Series) string { return "round(" + s.Name + "," + strconv.Itoa(p) + ")" }
	}
	return mapEach(ss, name, func(v float64) float64 { return pyRound(v, p) }), nil
}

func fnScaleToSeconds(c *call) ([]*Series, error) {
	ss, secs, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		factor := secs / float64(s.Step)
		for i, v := range s.Values {
			if !math.IsNaN(v) {
				s.Values[i] = pyRound(v*factor, 6)
			}
		}
		s.Name = "scaleToSeconds(" + s.Name + "," + pyD(secs) + ")"
		s.PathExpr = s.Name
	}
	return ss, nil
}

func fnLog(c *call) ([]*Series, error) {
	ss, base, err := c.seriesAndNum(10)
	if err != nil {
		return nil, err
	}
	baseText := "10"
	if c.has(1) {
		baseText = c.pyArg(1)
	}
	var out []*Series
	for _, s := range ss {
		vals := make([]float64, len(s.Values))
		for i, v := range s.Values {
			if math.IsNaN(v) || v <= 0 {
				vals[i] = nan
			} else {
				vals[i] = math.Log(v) / math.Log(base)
			}
		}
		out = append(out, s.copyWith("log("+s.Name+", "+baseText+")", vals))
	}
	return out, nil
}

func fnOffsetToZero(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		m := safeMin(s.Values)
		for i, v := range s.Values {
			if !math.IsNaN(v) {
				s.Values[i] = v - m
			}
		}
		s.Name = "offsetToZero(" + s.Name + ")"
		s.PathExpr = s.Name
	}
	return ss, nil
}

func fnMinMax(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		lo, hi := safeMin(s.Values), safeMax(s.Values)
		if math.IsNaN(lo) {
			lo, hi = 0, 0
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			if hi == lo {
				s.Values[i] = 0
			} else {
				s.Values[i] = (v - lo) / (hi - lo)
			}
		}
		s.Name = "minMax(" + s.Name + ")"
		s.PathExpr = s.Name
	}
	return ss, nil
}

func fnDerivative(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range ss {
		vals := make([]float64, len(s.Values))
		prev := nan
		for i, v := range s.Values {
			vals[i] = v - prev // NaN when either is null
			prev = v
		}
		out = append(out, s.copyWith("derivative("+s.Name+")", vals))
	}
	return out, nil
}

// nonNegativeDelta is graphite-web's _nonNegativeDelta: the increase since
// the previous point, with counter wraps at maxValue and resets to
// minValue; null after a null.
func nonNegativeDelta(v, prev, maxV, minV float64) (delta, next float64) {
	if !math.IsNaN(maxV) && v > maxV {
		return nan, nan
	}
	if !math.IsNaN(minV) && v < minV {
		return nan, nan
	}
	if math.IsNaN(prev) || math.IsNaN(v) {
		return nan, v
	}
	if v >= prev {
		return v - prev, v
	}
	if !math.IsNaN(maxV) {
		m := minV
		if math.IsNaN(m) {
			m = 0
		}
		return maxV + 1 + v - prev - m, v
	}
	if !math.IsNaN(minV) {
		return v - minV, v
	}
	return nan, v
}

func deltaFn(perSecond bool) func(c *call) ([]*Series, error) {
	return func(c *call) ([]*Series, error) {
		ss, err := c.series(0)
		if err != nil {
			return nil, err
		}
		maxV, minV := nan, nan
		if c.has(1) {
			if maxV, err = c.num(1); err != nil {
				return nil, err
			}
		}
		if c.has(2) {
			if minV, err = c.num(2); err != nil {
				return nil, err
			}
		}
		fname := "nonNegativeDerivative"
		if perSecond {
			fname = "perSecond"
		}
		var out []*Series
		for _, s := range ss {
			vals := make([]float64, len(s.Values))
			prev := nan
			for i, v := range s.Values {
				var d float64
				d, prev = nonNegativeDelta(v, prev, maxV, minV)
				if perSecond && !math.IsNaN(d) {
					d = pyRound(d/float64(s.Step), 6)
				}
				vals[i] = d
			}
			out = append(out, s.copyWith(fname+"("+s.Name+")", vals))
		}
		return out, nil
	}
}

func fnDelay(c *call) ([]*Series, error) {
	ss, steps, err := c.seriesAndInt()
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range ss {
		n := len(s.Values)
		vals := make([]float64, 0, n)
		if steps < 0 {
			k := min(-steps, n)
			vals = append(vals, s.Values[k:]...)
			for i := 0; i < k; i++ {
				vals = append(vals, nan)
			}
		} else {
			k := min(steps, n)
			for i := 0; i < k; i++ {
				vals = append(vals, nan)
			}
			// series[:-steps] (with -0 meaning nothing, as Python slices)
			if steps > 0 {
				vals = append(vals, s.Values[:max(n-steps, 0)]...)
			}
		}
		out = append(out, s.copyWith("delay("+s.Name+","+strconv.Itoa(steps)+")", vals))
	}
	return out, nil
}

func fnIntegral(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range ss {
		vals := make([]float64, len(s.Values))
		acc := 0.0
		for i, v := range s.Values {
			if math.IsNaN(v) {
				vals[i] = nan
				continue
			}
			acc += v
			vals[i] = acc
		}
		out = append(out, s.copyWith("integral("+s.Name+")", vals))
	}
	return out, nil
}

func fnIntegralByInterval(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	d, unit, err := c.interval(1)
	if err != nil {
		return nil, err
	}
	d = abs64(d)
	if d == 0 {
		return nil, argErr(c.arg(1), "integralByInterval: the interval must not be zero")
	}
	start := c.rc.from
	var out []*Series
	for _, s := range ss {
		vals := make([]float64, len(s.Values))
		t, acc := s.Start, 0.0
		for i, v := range s.Values {
			if floorDiv(t-start, d) != floorDiv(t-start-s.Step, d) {
				acc = 0
			}
			if !math.IsNaN(v) {
				acc += v
			}
			vals[i] = acc
			t += s.Step
		}
		out = append(out, s.copyWith("integralByInterval("+s.Name+",'"+unit+"')", vals))
	}
	return out, nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// floorDiv is Python's // on integers.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func fnInterpolate(c *call) ([]*Series, error) {
	ss, limit, err := c.seriesAndNum(inf)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		gap := 0
		for i, v := range s.Values {
			if i == 0 {
				continue
			}
			switch {
			case math.IsNaN(v):
				gap++
			case gap == 0:
			case math.IsNaN(s.Values[i-gap-1]):
				gap = 0
			default:
				if float64(gap) <= limit {
					prev := s.Values[i-gap-1]
					for j := i - gap; j < i; j++ {
						s.Values[j] = prev + float64(j-(i-gap-1))*(v-prev)/float64(gap+1)
					}
				}
				gap = 0
			}
		}
		s.Name = "interpolate(" + s.Name + ")"
		s.PathExpr = s.Name
	}
	return ss, nil
}

func fnKeepLastValue(c *call) ([]*Series, error) {
	ss, limit, err := c.seriesAndNum(inf)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = "keepLastValue(" + s.Name + ")"
		s.PathExpr = s.Name
		gap, last := 0, nan
		fill := func(end int) {
			if gap > 0 && float64(gap) <= limit && !math.IsNaN(last) {
				for j := end - gap; j < end; j++ {
					s.Values[j] = last
				}
			}
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				gap++
				continue
			}
			fill(i)
			gap, last = 0, v
		}
		fill(len(s.Values))
	}
	return ss, nil
}

func fnChanged(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		s.Name = "changed(" + s.Name + ")"
		s.PathExpr = s.Name
		prev := nan
		for i, v := range s.Values {
			switch {
			case math.IsNaN(prev):
				prev = v
				s.Values[i] = 0
			case !math.IsNaN(v) && v != prev:
				s.Values[i] = 1
				prev = v
			default:
				s.Values[i] = 0
			}
		}
	}
	return ss, nil
}

func fnTransformNull(c *call) ([]*Series, error) {
	ss, def, err := c.seriesAndNum(0)
	if err != nil {
		return nil, err
	}
	var defaults []float64
	hasRef := c.has(2)
	if hasRef {
		ref, err := c.series(2)
		if err != nil {
			return nil, err
		}
		hasRef = len(ref) > 0
		rows(ref, func(_ int, col []float64) {
			if _, n := sumNonNull(col); n > 0 {
				defaults = append(defaults, def)
			} else {
				defaults = append(defaults, nan)
			}
		})
	}
	for _, s := range ss {
		if hasRef {
			s.Name = "transformNull(" + s.Name + "," + pyG(def) + ",referenceSeries)"
		} else {
			s.Name = "transformNull(" + s.Name + "," + pyG(def) + ")"
		}
		s.PathExpr = s.Name
		n := len(s.Values)
		if hasRef {
			n = max(n, len(defaults))
		}
		vals := make([]float64, n)
		for i := range vals {
			v := at(s.Values, i)
			d := def
			if hasRef {
				d = at(defaults, i)
			}
			if math.IsNaN(v) {
				v = d
			}
			vals[i] = v
		}
		s.Values = vals
	}
	return ss, nil
}

func fnIsNonNull(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	return mapEach(ss, func(s *Series) string { return "isNonNull(" + s.Name + ")" }, func(v float64) float64 {
		if math.IsNaN(v) {
			return 0
		}
		return 1
	}), nil
}

// summarizeValues is graphite-web's _summarizeValues: buckets of interval
// seconds from newStart, each reduced by f when xFilesFactor allows.
func summarizeValues(s *Series, f aggFn, interval, newStart, newEnd int64) ([]float64, int64) {
	var ts []int64
	for t := s.Start; t < s.End; t += s.Step {
		ts = append(ts, t)
	}
	n := min(len(ts), len(s.Values))
	intervalPoints := float64(interval) / float64(s.Step)
	var out []float64
	i := 0
	t := newStart
	for ; t < newEnd; t += interval {
		st, nn := i, 0
		for i < n && ts[i] < t+interval {
			if ts[i] <= t {
				st = i
			}
			if ts[i] >= t && !math.IsNaN(s.Values[i]) {
				nn++
			}
			i++
		}
		if nn > 0 && float64(nn)/intervalPoints >= s.XFilesFactor {
			out = append(out, f(s.Values[st:i]))
		} else {
			out = append(out, nan)
		}
	}
	return out, t
}

func fnSummarize(c *call) ([]*Series, error) {
	ss, interval, iv, err := c.seriesAndInterval()
	if err != nil {
		return nil, err
	}
	f, fname, err := c.aggFunc(2, "sum")
	if err != nil {
		return nil, err
	}
	alignToFrom, err := c.boolean(3, false)
	if err != nil {
		return nil, err
	}
	if interval <= 0 {
		return nil, argErr(c.arg(1), "summarize: the interval must be positive")
	}
	var out []*Series
	for _, s := range ss {
		newStart, newEnd := s.Start, s.End
		if !alignToFrom {
			newStart = s.Start - floorMod(s.Start, interval)
			newEnd = s.End - floorMod(s.End, interval) + interval
		}
		vals, alignedEnd := summarizeValues(s, f, interval, newStart, newEnd)
		if alignToFrom {
			newEnd = alignedEnd
		}
		suffix := ""
		if alignToFrom {
			suffix = ", true"
		}
		r := s.copyWith("summarize("+s.Name+", \""+iv+"\", \""+fname+"\""+suffix+")", vals)
		r.Start, r.End, r.Step = newStart, newEnd, interval
		out = append(out, r)
	}
	return out, nil
}

// alignStart truncates t (UTC) to the start of its unit, as smartSummarize's
// alignTo and hitcount's alignToInterval do.
func alignStart(t int64, unit string) int64 {
	tm := time.Unix(t, 0).UTC()
	y, mo, d := tm.Date()
	switch {
	case strings.HasPrefix(unit, "y"):
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	case strings.HasPrefix(unit, "mon"):
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC).Unix()
	case strings.HasPrefix(unit, "w"):
		want := 1
		if last := unit[len(unit)-1]; last >= '0' && last <= '9' {
			want = int(last - '0')
		}
		wd := int(tm.Weekday())
		if wd == 0 {
			wd = 7
		}
		back := wd - want
		if back < 0 {
			back += 7
		}
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -back).Unix()
	case strings.HasPrefix(unit, "d"):
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix()
	case strings.HasPrefix(unit, "h"):
		return t - floorMod(t, 3600)
	case strings.HasPrefix(unit, "min"):
		return t - floorMod(t, 60)
	}
	return t
}

func fnSmartSummarize(c *call) ([]*Series, error) {
	ss, interval, iv, err := c.seriesAndInterval()
	if err != nil {
		return nil, err
	}
	f, fname, err := c.aggFunc(2, "sum")
	if err != nil {
		return nil, err
	}
	if interval <= 0 {
		return nil, argErr(c.arg(1), "smartSummarize: the interval must be positive")
	}
	if c.isStr(3) {
		unit := strings.TrimLeft(c.args[3].Str, "0123456789+-")
		if _, ok := unitSeconds(strings.ToLower(unit)); !ok {
			return nil, argErr(c.args[3], "smartSummarize: alignTo %q is not a time unit", c.args[3].Str)
		}
		rc := c.rc
		rc.from = alignStart(rc.from, strings.ToLower(unit)+c.args[3].Str[len(c.args[3].Str)-1:])
		if ss, err = c.seriesAt(0, rc); err != nil {
			return nil, err
		}
	}
	var out []*Series
	for _, s := range ss {
		vals, end := summarizeValues(s, f, interval, s.Start, s.End)
		r := s.copyWith("smartSummarize("+s.Name+", \""+iv+"\", \""+fname+"\")", vals)
		r.End, r.Step = end, interval
		out = append(out, r)
	}
	return out, nil
}

func fnHitcount(c *call) ([]*Series, error) {
	ss, interval, iv, err := c.seriesAndInterval()
	if err != nil {
		return nil, err
	}
	align, err := c.boolean(2, false)
	if err != nil {
		return nil, err
	}
	if interval <= 0 {
		return nil, argErr(c.arg(1), "hitcount: the interval must be positive")
	}
	if align {
		rc := c.rc
		switch {
		case interval >= 86400:
			rc.from = alignStart(rc.from, "d")
		case interval >= 3600:
			rc.from = alignStart(rc.from, "h")
		case interval >= 60:
			rc.from = alignStart(rc.from, "min")
		}
		if ss, err = c.seriesAt(0, rc); err != nil {
			return nil, err
		}
		for _, s := range ss {
			count := floorDiv(s.End-s.Start, interval)
			s.End = s.Start + count*interval + interval
		}
	}
	var out []*Series
	for _, s := range ss {
		step := s.Step
		buckets := int((s.End - s.Start + interval - 1) / interval)
		if s.End <= s.Start {
			buckets = 0
		}
		sums := make([]float64, buckets)
		seen := make([]bool, buckets)
		newStart := s.End - int64(buckets)*interval
		add := func(b int64, v float64) {
			sums[b] += v
			seen[b] = true
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			startTime := s.Start + int64(i)*step
			sb, sm := floorDiv(startTime-newStart, interval), floorMod(startTime-newStart, interval)
			endTime := startTime + step
			eb, em := floorDiv(endTime-newStart, interval), floorMod(endTime-newStart, interval)
			if eb >= int64(buckets) {
				eb, em = int64(buckets)-1, interval
			}
			if sb == eb {
				if sb >= 0 {
					add(sb, v*float64(em-sm))
				}
			} else {
				if sb >= 0 {
					add(sb, v*float64(interval-sm))
				}
				for j := sb + 1; j < eb; j++ {
					if j >= 0 {
						add(j, v*float64(interval))
					}
				}
				if em > 0 && eb >= 0 {
					add(eb, v*float64(em))
				}
			}
		}
		vals := make([]float64, buckets)
		for i := range vals {
			if seen[i] {
				vals[i] = sums[i]
			} else {
				vals[i] = nan
			}
		}
		suffix := ""
		if align {
			suffix = ", true"
		}
		r := s.copyWith("hitcount("+s.Name+", \""+iv+"\""+suffix+")", vals)
		r.Start, r.Step = newStart, interval
		out = append(out, r)
	}
	return out, nil
}

func fnTimeShift(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	shift, err := c.str(1)
	if err != nil {
		return nil, err
	}
	resetEnd, err := c.boolean(2, true)
	if err != nil {
		return nil, err
	}
	if shift != "" && shift[0] >= '0' && shift[0] <= '9' {
		shift = "-" + shift
	}
	d, err := ParseInterval(shift)
	if err != nil {
		return nil, argErr(c.arg(1), "timeShift: %v", err)
	}
	if len(ss) == 0 {
		return nil, nil
	}
	first := ss[0]
	rc := c.rc
	rc.from += d
	rc.until += d
	shifted, err := c.seriesAt(0, rc)
	if err != nil {
		return nil, err
	}
	for _, s := range shifted {
		s.Name = "timeShift(" + s.Name + ", \"" + shift + "\")"
		if resetEnd {
			s.End = first.End
		} else {
			s.End = s.End - s.Start + first.Start
		}
		s.Start = first.Start
	}
	return shifted, nil
}

func fnTimeStack(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	unit, err := c.str(1, "1d")
	if err != nil {
		return nil, err
	}
	from, err := c.int(2, 0)
	if err != nil {
		return nil, err
	}
	to, err := c.int(3, 7)
	if err != nil {
		return nil, err
	}
	if unit != "" && unit[0] >= '0' && unit[0] <= '9' {
		unit = "-" + unit
	}
	d, err := ParseInterval(unit)
	if err != nil {
		return nil, argErr(c.arg(1), "timeStack: %v", err)
	}
	if len(ss) == 0 {
		return nil, nil
	}
	if to-from > 1000 {
		return nil, argErr(c.e, "timeStack: at most 1000 shifts")
	}
	first := ss[0]
	var out []*Series
	for k := from; k < to; k++ {
		rc := c.rc
		rc.from += d * int64(k)
		rc.until += d * int64(k)
		shifted, err := c.seriesAt(0, rc)
		if err != nil {
			return nil, err
		}
		for _, s := range shifted {
			s.Name = "timeShift(" + s.Name + ", " + unit + ", " + strconv.Itoa(k) + ")"
			s.PathExpr = s.Name
			s.Start, s.End = first.Start, first.End
			out = append(out, s)
		}
	}
	return out, nil
}

func fnTimeSlice(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	a, err := c.str(1)
	if err != nil {
		return nil, err
	}
	b, err := c.str(2, "now")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	start, err := ParseTime(a, now)
	if err != nil {
		return nil, argErr(c.arg(1), "timeSlice: %v", err)
	}
	end, err := ParseTime(b, now)
	if err != nil {
		return nil, argErr(c.arg(2), "timeSlice: %v", err)
	}
	for _, s := range ss {
		s.Name = "timeSlice(" + s.Name + ", " + strconv.FormatInt(start, 10) + ", " + strconv.FormatInt(end, 10) + ")"
		cur := c.rc.from
		for i := range s.Values {
			if cur < start || cur > end {
				s.Values[i] = nan
			}
			cur += s.Step
		}
	}
	return ss, nil
}

func fnTimeFunction(c *call) ([]*Series, error) {
	return generated(c, func(ts int64, _ float64) float64 { return float64(ts) }, 1)
}

func fnSinFunction(c *call) ([]*Series, error) {
	return generated(c, func(ts int64, amp float64) float64 { return math.Sin(float64(ts)) * amp }, 2)
}

// generated makes time() and sin(): a value per step from the start.
func generated(c *call, f func(ts int64, amp float64) float64, stepArg int) ([]*Series, error) {
	name, err := c.str(0)
	if err != nil {
		return nil, err
	}
	amp := 1.0
	if stepArg == 2 {
		if amp, err = c.num(1, 1); err != nil {
			return nil, err
		}
	}
	step, err := c.int(stepArg, 60)
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, argErr(c.arg(stepArg), "%s: step must be positive", c.name())
	}
	var vals []float64
	for t := c.rc.from; t < c.rc.until; t += int64(step) {
		vals = append(vals, f(t, amp))
	}
	s := newSeries(name, c.rc.from, c.rc.until, int64(step), vals, c.rc.XFF())
	return []*Series{s}, nil
}
