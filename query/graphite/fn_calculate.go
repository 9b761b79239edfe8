package graphite

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The Calculate family: moving windows, percentiles, forecasts.

// windowArg reads a window size: a number of points or an interval
// string. It returns the seconds to fetch before the range, the name text
// and, for a number, the point count.
func (c *call) windowArg(i int, ss []*Series) (preview int64, text string, points int, isStr bool, err error) {
	if c.isStr(i) {
		d, _, err := c.interval(i)
		if err != nil {
			return 0, "", 0, false, err
		}
		return abs64(d), "\"" + c.args[i].Str + "\"", 0, true, nil
	}
	n, err := c.num(i)
	if err != nil {
		return 0, "", 0, false, err
	}
	if n < 0 || n > 1e7 {
		return 0, "", 0, false, argErr(c.arg(i), "%s: window size must be between 0 and 10,000,000 points", c.name())
	}
	maxStep := int64(0)
	for _, s := range ss {
		maxStep = max(maxStep, s.Step)
	}
	return maxStep * int64(n), c.pyArg(i), int(n), false, nil
}

func movingWindow(c *call, fname string) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, nil
	}
	funcIdx, xffIdx := -1, 2
	if fname == "" {
		funcIdx, xffIdx = 2, 3
		if fname, err = c.str(2, "average"); err != nil {
			return nil, err
		}
	}
	f := aggFuncs[fname]
	if f == nil {
		return nil, argErr(c.arg(funcIdx), "movingWindow: unsupported aggregation function %q (%s)", fname, aggFuncNames)
	}
	var xff *float64
	if c.has(xffIdx) {
		x, err := c.num(xffIdx)
		if err != nil {
			return nil, err
		}
		xff = &x
	}
	preview, text, points, isStr, err := c.windowArg(1, ss)
	if err != nil {
		return nil, err
	}
	rc := c.rc
	rc.from -= preview
	pre, err := c.seriesAt(0, rc)
	if err != nil {
		return nil, err
	}
	tag := "moving" + strings.ToUpper(fname[:1]) + fname[1:]
	var out []*Series
	for _, s := range pre {
		wp := points
		if isStr {
			wp = int(preview / s.Step)
		}
		eff := s.XFilesFactor
		if xff != nil {
			eff = *xff
		}
		var vals []float64
		for i := wp; i < len(s.Values); i++ {
			win := s.Values[i-wp : i]
			nn := nonNull(win)
			if len(nn) > 0 && float64(len(nn))/float64(wp) >= eff {
				vals = append(vals, f(nn))
			} else {
				vals = append(vals, nan)
			}
		}
		r := s.copyWith(tag+"("+s.Name+","+text+")", vals)
		r.Start = s.Start + preview
		out = append(out, r)
	}
	return out, nil
}

func moving(fname string) fnDef {
	return fnDef{params: []string{"seriesList", "windowSize", "xFilesFactor"}, impl: func(c *call) ([]*Series, error) { return movingWindow(c, fname) }}
}

func fnExponentialMovingAverage(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, nil
	}
	preview, text, points, isStr, err := c.windowArg(1, ss)
	if err != nil {
		return nil, err
	}
	constant := 2.0 / float64(points+1)
	if isStr {
		constant = 2.0 / float64(preview+1)
	}
	rc := c.rc
	rc.from -= preview
	pre, err := c.seriesAt(0, rc)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range pre {
		wp := points
		if isStr {
			wp = int(preview / s.Step)
		}
		ema := safeAvg(s.Values[:min(wp, len(s.Values))])
		if math.IsNaN(ema) || ema == 0 {
			ema = 0
		}
		vals := []float64{pyRound(ema, 6)}
		for i := wp; i < len(s.Values); i++ {
			if math.IsNaN(s.Values[i]) {
				vals = append(vals, nan)
				continue
			}
			ema = constant*s.Values[i] + (1-constant)*ema
			vals = append(vals, pyRound(ema, 6))
		}
		r := s.copyWith("exponentialMovingAverage("+s.Name+","+text+")", vals)
		r.Start = s.Start + preview
		out = append(out, r)
	}
	return out, nil
}

func fnNPercentile(c *call) ([]*Series, error) {
	ss, n, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, argErr(c.arg(1), "nPercentile: the requested percent is required to be greater than 0")
	}
	var out []*Series
	for _, s := range ss {
		nn := nonNull(s.Values)
		if len(nn) == 0 {
			continue
		}
		p := getPercentile(nn, n, false)
		if math.IsNaN(p) {
			continue
		}
		count := int((s.End - s.Start) / s.Step)
		vals := make([]float64, count)
		for i := range vals {
			vals[i] = p
		}
		out = append(out, s.copyWith("nPercentile("+s.Name+", "+pyG(n)+")", vals))
	}
	return out, nil
}

func fnStdev(c *call) ([]*Series, error) {
	ss, pointsF, err := c.seriesAndNum()
	if err != nil {
		return nil, err
	}
	tol, err := c.num(2, 0.1)
	if err != nil {
		return nil, err
	}
	points := int(pointsF)
	if points <= 0 {
		return nil, argErr(c.arg(1), "stdev: points must be positive")
	}
	var out []*Series
	for _, s := range ss {
		vals := make([]float64, 0, len(s.Values))
		valid := 0
		sum, sumSq := 0.0, 0.0
		for i, v := range s.Values {
			dropped := nan
			if i >= points {
				dropped = s.Values[i-points]
			}
			if !math.IsNaN(dropped) {
				valid--
				sum -= dropped
				sumSq -= dropped * dropped
			}
			if !math.IsNaN(v) {
				valid++
				sum += v
				sumSq += v * v
			}
			if valid > 0 && float64(valid)/pointsF >= tol {
				d := float64(valid)*sumSq - sum*sum
				if d < 0 {
					vals = append(vals, nan) // Python's sqrt of a negative: None
				} else {
					vals = append(vals, math.Sqrt(d)/float64(valid))
				}
			} else {
				vals = append(vals, nan)
			}
		}
		out = append(out, s.copyWith("stdev("+s.Name+","+strconv.Itoa(points)+")", vals))
	}
	return out, nil
}

func constantLineSeries(rc reqCtx, v float64) *Series {
	step := (rc.until - rc.from) / 2
	s := newSeries(pyRepr(v), rc.from, rc.until, max(step, 1), []float64{v, v, v}, rc.XFF())
	return s
}

func fnConstantLine(c *call) ([]*Series, error) {
	v, err := c.num(0)
	if err != nil {
		return nil, err
	}
	// graphite-web takes the value as a float: constantLine(42) is "42.0".
	s := constantLineSeries(c.rc, v)
	s.PathExpr = "constantLine(" + pyRepr(v) + ")"
	return []*Series{s}, nil
}

func fnThreshold(c *call) ([]*Series, error) {
	ss, err := fnConstantLine(c)
	if err != nil {
		return nil, err
	}
	if label, _ := c.str(1, ""); label != "" {
		ss[0].Name = label
	}
	return ss, nil
}

func fnAggregateLine(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	f, _, err := c.aggFunc(1, "average")
	if err != nil {
		return nil, err
	}
	keepStep, err := c.boolean(2, false)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range ss {
		v := f(s.Values)
		name := "aggregateLine(" + s.Name + ", None)"
		if !math.IsNaN(v) {
			name = "aggregateLine(" + s.Name + ", " + pyG(v) + ")"
		}
		if keepStep {
			vals := make([]float64, len(s.Values))
			for i := range vals {
				vals[i] = v
			}
			out = append(out, s.copyWith(name, vals))
			continue
		}
		r := constantLineSeries(c.rc, v)
		r.Name, r.PathExpr = name, name
		out = append(out, r)
	}
	return out, nil
}

func fnIdentity(c *call) ([]*Series, error) {
	name, err := c.str(0)
	if err != nil {
		return nil, err
	}
	var vals []float64
	for t := c.rc.from; t < c.rc.until; t += 60 {
		vals = append(vals, float64(t))
	}
	s := newSeries(name, c.rc.from, c.rc.until, 60, vals, c.rc.XFF())
	s.PathExpr = "identity(\"" + name + "\")"
	return []*Series{s}, nil
}

func fnLinearRegression(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	rc := c.rc
	now := time.Now()
	for i, p := range []*int64{&rc.from, &rc.until} {
		if c.isStr(i + 1) {
			t, err := ParseTime(c.args[i+1].Str, now)
			if err != nil {
				return nil, argErr(c.args[i+1], "linearRegression: %v", err)
			}
			*p = t
		}
	}
	src, err := c.seriesAt(0, rc)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for i := 0; i < len(src) && i < len(ss); i++ {
		s := ss[i]
		name := "linearRegression(" + s.Name + ", " + strconv.FormatInt(rc.from, 10) + ", " + strconv.FormatInt(rc.until, 10) + ")"
		factor, offset, ok := linearRegressionAnalysis(src[i])
		if !ok {
			continue
		}
		vals := make([]float64, len(s.Values))
		for j := range vals {
			vals[j] = offset + float64(s.Start+int64(j)*s.Step)*factor
		}
		out = append(out, s.copyWith(name, vals))
	}
	return out, nil
}

func linearRegressionAnalysis(s *Series) (factor, offset float64, ok bool) {
	var n, sumI, sumV, sumII, sumIV float64
	for i, v := range s.Values {
		if math.IsNaN(v) {
			continue
		}
		fi := float64(i)
		n++
		sumI += fi
		sumV += v
		sumII += fi * fi
		sumIV += fi * v
	}
	den := n*sumII - sumI*sumI
	if den == 0 {
		return 0, 0, false
	}
	factor = (n*sumIV - sumI*sumV) / den / float64(s.Step)
	offset = (sumII*sumV-sumIV*sumI)/den - factor*float64(s.Start)
	return factor, offset, true
}

// holtWinters is graphite-web's holtWintersAnalysis: predictions and
// deviations with alpha = gamma = 0.1, beta = 0.0035.
func holtWinters(s *Series, seasonLength int) (pred, dev []float64) {
	const alpha, gamma, beta = 0.1, 0.1, 0.0035
	var intercepts, slopes, seasonals []float64
	interceptNull := []bool{}
	lastSeasonal := func(i int) float64 {
		if j := i - seasonLength; j >= 0 {
			return seasonals[j]
		}
		return 0
	}
	lastDev := func(i int) float64 {
		if j := i - seasonLength; j >= 0 {
			return dev[j]
		}
		return 0
	}
	nextPred := nan
	for i, actual := range s.Values {
		if math.IsNaN(actual) {
			intercepts = append(intercepts, 0)
			interceptNull = append(interceptNull, true)
			slopes = append(slopes, 0)
			seasonals = append(seasonals, 0)
			pred = append(pred, nextPred)
			dev = append(dev, 0)
			nextPred = nan
			continue
		}
		var lastIntercept, lastSlope, prediction float64
		if i == 0 {
			lastIntercept, lastSlope, prediction = actual, 0, actual
		} else {
			lastIntercept, lastSlope = intercepts[len(intercepts)-1], slopes[len(slopes)-1]
			if interceptNull[len(interceptNull)-1] {
				lastIntercept = actual
			}
			prediction = nextPred
		}
		ls := lastSeasonal(i)
		nextLS := lastSeasonal(i + 1)
		lsd := lastDev(i)
		intercept := alpha*(actual-ls) + (1-alpha)*(lastIntercept+lastSlope)
		slope := beta*(intercept-lastIntercept) + (1-beta)*lastSlope
		seasonal := gamma*(actual-intercept) + (1-gamma)*ls
		nextPred = intercept + slope + nextLS
		p := prediction
		if math.IsNaN(p) {
			p = 0
		}
		deviation := gamma*math.Abs(actual-p) + (1-gamma)*lsd
		intercepts = append(intercepts, intercept)
		interceptNull = append(interceptNull, false)
		slopes = append(slopes, slope)
		seasonals = append(seasonals, seasonal)
		pred = append(pred, prediction)
		dev = append(dev, deviation)
	}
	return pred, dev
}

// holtWintersBase fetches the bootstrap window and analyses each series;
// fn gets the series and its predictions and deviations over the range.
func holtWintersBase(c *call, bootIdx, seasonIdx int, fn func(s *Series, start int64, pred, dev []float64)) error {
	boot, err := c.str(bootIdx, "7d")
	if err != nil {
		return err
	}
	season, err := c.str(seasonIdx, "1d")
	if err != nil {
		return err
	}
	b, err := ParseInterval(boot)
	if err != nil {
		return argErr(c.arg(bootIdx), "%s: %v", c.name(), err)
	}
	sl, err := ParseInterval(season)
	if err != nil {
		return argErr(c.arg(seasonIdx), "%s: %v", c.name(), err)
	}
	rc := c.rc
	rc.from -= b
	pre, err := c.seriesAt(0, rc)
	if err != nil {
		return err
	}
	for _, s := range pre {
		pred, dev := holtWinters(s, int(sl/s.Step))
		wp := int(b / s.Step)
		if wp > len(pred) {
			wp = len(pred)
		}
		fn(s, s.Start+b, pred[wp:], dev[wp:])
	}
	return nil
}

func fnHoltWintersForecast(c *call) ([]*Series, error) {
	var out []*Series
	err := holtWintersBase(c, 1, 2, func(s *Series, start int64, pred, _ []float64) {
		r := s.copyWith("holtWintersForecast("+s.Name+")", pred)
		r.Start = start
		out = append(out, r)
	})
	return out, err
}

func bands(c *call, deltaIdx int) ([]*Series, error) {
	delta, err := c.num(deltaIdx, 3)
	if err != nil {
		return nil, err
	}
	var out []*Series
	err = holtWintersBase(c, deltaIdx+1, deltaIdx+2, func(s *Series, start int64, pred, dev []float64) {
		up, lo := make([]float64, len(pred)), make([]float64, len(pred))
		for i := range pred {
			up[i] = pred[i] + delta*dev[i]
			lo[i] = pred[i] - delta*dev[i]
		}
		l := s.copyWith("holtWintersConfidenceLower("+s.Name+")", lo)
		u := s.copyWith("holtWintersConfidenceUpper("+s.Name+")", up)
		for _, r := range []*Series{l, u} {
			r.Start, r.PathExpr = start, s.PathExpr
		}
		out = append(out, l, u)
	})
	return out, err
}

func fnHoltWintersConfidenceBands(c *call) ([]*Series, error) { return bands(c, 1) }

func fnHoltWintersAberration(c *call) ([]*Series, error) {
	ss, err := c.series(0)
	if err != nil {
		return nil, err
	}
	bs, err := bands(c, 1)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Series{}
	for _, b := range bs {
		byName[b.Name] = b
	}
	var out []*Series
	for _, s := range ss {
		lo, up := byName["holtWintersConfidenceLower("+s.Name+")"], byName["holtWintersConfidenceUpper("+s.Name+")"]
		if lo == nil || up == nil {
			continue
		}
		vals := make([]float64, len(s.Values))
		for i, v := range s.Values {
			u, l := at(up.Values, i), at(lo.Values, i)
			switch {
			case math.IsNaN(v):
				vals[i] = 0
			case !math.IsNaN(u) && v > u:
				vals[i] = v - u
			case !math.IsNaN(l) && v < l:
				vals[i] = v - l
			}
		}
		out = append(out, s.copyWith("holtWintersAberration("+s.Name+")", vals))
	}
	return out, nil
}

func fnHoltWintersConfidenceArea(c *call) ([]*Series, error) {
	bs, err := bands(c, 1)
	if err != nil {
		return nil, err
	}
	if len(bs) != 2 {
		return nil, argErr(c.e, "holtWintersConfidenceArea needs exactly one series (got %d)", len(bs)/2)
	}
	name := "holtWintersConfidenceArea(" + bs[1].PathExpr + ")"
	for _, s := range bs {
		s.Name, s.PathExpr = name, name
	}
	return bs, nil
}
