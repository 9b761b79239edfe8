package graphite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/obs-dev/obs/store/metrics"
)

// Source is the metric storage Graphite targets are read from: the
// embedded TSDB (*metrics.Store) or a remote engine's query API
// (store/remote/promapi); Graphite's functions run in obs either way, so
// answers do not depend on where the samples live.
type Source interface {
	// Select reads the samples of the series matching ms in [from, to] (unix ms).
	Select(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]metrics.Series, error)
	// SeriesIn lists the series matching ms with data in [from, to], without samples.
	SeriesIn(ctx context.Context, from, to int64, ms ...*labels.Matcher) ([]metrics.Series, error)
	// Names lists the metric names with data in [from, to], sorted.
	Names(ctx context.Context, from, to int64) ([]string, error)
}

// StoreFetcher reads Graphite series from the metrics store.
type StoreFetcher struct {
	Store Source
	// BaseStep is the grid in seconds: the StatsD flush interval, the
	// resolution data arrives at (default 10), as a whisper schema's step.
	BaseStep int64
	// Now is the clock (default time.Now); as whisper, no point lies after it.
	Now func() time.Time
}

var nowFunc = time.Now

func rnd() float64 { return rand.Float64() }

// window is whisper's: the intervals after from up to and including the
// one holding until, capped at now.
func (f StoreFetcher) window(from, until int64) (start, end, step int64) {
	step = f.BaseStep
	if step <= 0 {
		step = 10
	}
	now := nowFunc
	if f.Now != nil {
		now = f.Now
	}
	until = min(until, now().Unix())
	start = floorDiv(from, step)*step + step
	end = floorDiv(until, step)*step + step
	if end < start {
		end = start
	}
	return start, end, step
}

// Fetch implements Fetcher: names matching glob on the step grid, the
// last sample in each interval (whisper keeps the last write).
func (f StoreFetcher) Fetch(ctx context.Context, glob string, from, until int64) ([]*Series, error) {
	m, err := globMatcher(glob)
	if err != nil {
		return nil, err
	}
	return f.fetch(ctx, from, until, m)
}

// globMatcher is the __name__ matcher of a path glob.
func globMatcher(glob string) (*labels.Matcher, error) {
	m, err := labels.NewMatcher(labels.MatchRegexp, labels.MetricName, strings.TrimSuffix(strings.TrimPrefix(GlobRegexp(glob), "^"), "$"))
	if err != nil {
		return nil, &SyntaxError{0, "bad path " + glob + ": " + err.Error()}
	}
	return m, nil
}

// FetchTagged implements Fetcher for seriesByTag: "name" is the metric
// name, other tags are labels; a regex matches from the start of the value.
func (f StoreFetcher) FetchTagged(ctx context.Context, exprs []string, from, until int64) ([]*Series, error) {
	var ms []*labels.Matcher
	for _, e := range exprs {
		tag, op, val, ok := ParseTagExpr(e)
		if !ok {
			return nil, &SyntaxError{0, fmt.Sprintf("seriesByTag: bad expression %q", e)}
		}
		if tag == "name" {
			tag = labels.MetricName
		}
		var t labels.MatchType
		switch op {
		case "=":
			t = labels.MatchEqual
		case "!=":
			t = labels.MatchNotEqual
		case "=~":
			t, val = labels.MatchRegexp, "(?:"+val+").*"
		case "!=~":
			t, val = labels.MatchNotRegexp, "(?:"+val+").*"
		}
		m, err := labels.NewMatcher(t, tag, val)
		if err != nil {
			return nil, &SyntaxError{0, fmt.Sprintf("seriesByTag %q: %v", e, err)}
		}
		ms = append(ms, m)
	}
	return f.fetch(ctx, from, until, ms...)
}

// visitor is a Source that can stream samples (the embedded store):
// fetch then fills each series' grid as samples are read.
type visitor interface {
	Visit(ctx context.Context, from, to int64, add func(metrics.Series) func(t int64, v float64), ms ...*labels.Matcher) error
}

func (f StoreFetcher) fetch(ctx context.Context, from, until int64, ms ...*labels.Matcher) ([]*Series, error) {
	start, end, step := f.window(from, until)
	n := int((end - start) / step)
	byName := map[string]*Series{}
	// grid is where a series' samples go: the last sample in each
	// interval, as whisper keeps the last write.
	grid := func(r metrics.Series) func(t int64, v float64) {
		name := TaggedName(r.Name, r.Labels)
		s := newSeries(name, start, end, step, make([]float64, n), 0)
		for i := range s.Values {
			s.Values[i] = nan
		}
		byName[name] = s
		return func(t int64, v float64) {
			if b := (floorDiv(t, 1000) - start) / step; b >= 0 && b < int64(n) {
				s.Values[b] = v
			}
		}
	}
	if vs, ok := f.Store.(visitor); ok {
		if err := vs.Visit(ctx, start*1000, end*1000-1, grid, ms...); err != nil {
			return nil, err
		}
	} else {
		raw, err := f.Store.Select(ctx, start*1000, end*1000-1, ms...)
		if err != nil {
			return nil, err
		}
		for _, r := range raw {
			put := grid(r)
			for i, t := range r.TS {
				put(t, r.Values[i])
			}
		}
	}
	// Series that exist but have no points in the range come back as
	// nulls, as whisper files do.
	known, err := f.Store.SeriesIn(ctx, math.MinInt64/2, end*1000-1, ms...)
	if err != nil {
		return nil, err
	}
	for _, k := range known {
		if byName[TaggedName(k.Name, k.Labels)] == nil {
			grid(k)
		}
	}
	out := make([]*Series, 0, len(byName))
	for _, s := range byName {
		out = append(out, s)
	}
	sortByName(out)
	return out, nil
}

// FetchAggregate is sumSeries, averageSeries, minSeries or maxSeries (fn:
// sum, average, min, max) of one path glob, added up as the samples are
// read: no grid per series, which for an hour of a few thousand timers
// was most of what a render held (the soak: 6.6 of 11 MB per render). It
// answers only where that equals the grid path exactly, ok false
// otherwise: a store that can stream, at least two series, none of them
// tagged (the store's order is then Graphite's name order, so sums add in
// the same order), and no xFilesFactor (series without points in the
// range, which the grid path lists as nulls, then change nothing).
func (f StoreFetcher) FetchAggregate(ctx context.Context, glob string, from, until int64, fn string, xff float64) (vals []float64, start, end, step int64, ok bool, err error) {
	vs, canVisit := f.Store.(visitor)
	if !canVisit || xff != 0 || (fn != "sum" && fn != "average" && fn != "min" && fn != "max") {
		return nil, 0, 0, 0, false, nil
	}
	m, err := globMatcher(glob)
	if err != nil {
		return nil, 0, 0, 0, false, err
	}
	start, end, step = f.window(from, until)
	n := int((end - start) / step)
	if n == 0 {
		return nil, 0, 0, 0, false, nil // nothing to add up: the grid path says how that looks
	}
	acc := make([]float64, n)
	cnt := make([]int32, n)
	// put adds one series' value at bucket b: the last sample in each
	// interval, as the grid keeps it.
	put := func(b int64, v float64) {
		if b < 0 || math.IsNaN(v) {
			return
		}
		// As safeSum, safeMin and safeMax take a column, in order.
		switch {
		case fn == "sum" || fn == "average":
			acc[b] += v
		case cnt[b] == 0 || fn == "min" && v < acc[b] || fn == "max" && v > acc[b]:
			acc[b] = v
		}
		cnt[b]++
	}
	series, tagged := 0, false
	curB, curV := int64(-1), nan
	err = vs.Visit(ctx, start*1000, end*1000-1, func(r metrics.Series) func(t int64, v float64) {
		put(curB, curV)
		curB, curV = -1, nan
		series++
		if len(r.Labels) > 0 || strings.ContainsAny(r.Name, ";~") {
			// Its place in Graphite's name order is not the store's.
			tagged = true
			return func(int64, float64) {}
		}
		return func(t int64, v float64) {
			b := (floorDiv(t, 1000) - start) / step
			if b < 0 || b >= int64(n) {
				return
			}
			if b != curB {
				put(curB, curV)
				curB = b
			}
			curV = v
		}
	}, m)
	put(curB, curV)
	if err != nil {
		return nil, 0, 0, 0, false, err
	}
	if series < 2 || tagged {
		return nil, 0, 0, 0, false, nil
	}
	for i := range acc {
		switch {
		case cnt[i] == 0:
			acc[i] = nan
		case fn == "average":
			acc[i] /= float64(cnt[i])
		}
	}
	return acc, start, end, step, true, nil
}

// TaggedName is Graphite's tagged-series form, name;k=v (tags sorted).
func TaggedName(name string, tags map[string]string) string {
	if len(tags) == 0 {
		return name
	}
	var ks []string
	for k := range tags {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	b.WriteString(name)
	for _, k := range ks {
		b.WriteString(";" + k + "=" + tags[k])
	}
	return b.String()
}

// Find lists the next path nodes under a query such as "stats.timers.*",
// as /metrics/find answers: leaves and branches.
func Find(ctx context.Context, st Source, query string, from, until int64) ([]Node, error) {
	names, err := st.Names(ctx, from*1000, until*1000)
	if err != nil {
		return nil, err
	}
	depth := strings.Count(query, ".")
	re, err := regexp.Compile(GlobRegexp(query))
	if err != nil {
		return nil, &SyntaxError{0, "bad path " + query + ": " + err.Error()}
	}
	seen := map[string]int{} // path -> index in out
	var out []Node
	for _, n := range names {
		parts := strings.Split(n, ".")
		if len(parts) <= depth {
			continue
		}
		prefix := strings.Join(parts[:depth+1], ".")
		if !re.MatchString(prefix) {
			continue
		}
		leaf := len(parts) == depth+1
		if i, ok := seen[prefix]; ok {
			out[i].Leaf = out[i].Leaf || leaf
			out[i].Branch = out[i].Branch || !leaf
			continue
		}
		seen[prefix] = len(out)
		out = append(out, Node{Path: prefix, Text: parts[depth], Leaf: leaf, Branch: !leaf})
	}
	return out, nil
}

// Node is one /metrics/find result.
type Node struct {
	Path   string
	Text   string
	Leaf   bool
	Branch bool
}

// Values evaluates a target over the last window and returns each series'
// values (nulls as NaN), for checks that compare them to a threshold.
func Values(ctx context.Context, f Fetcher, target string, window time.Duration) ([][]float64, error) {
	until := time.Now().Unix()
	ss, err := Eval(ctx, f, target, until-int64(window/time.Second), until)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(ss))
	for i, s := range ss {
		for _, p := range s.Points() {
			out[i] = append(out[i], p.Value)
		}
	}
	return out, nil
}

// ParseTime reads Graphite's from/until: now, -1h / -15min / -2d (any
// interval ParseInterval takes), now-1h, unix seconds, YYYYMMDD,
// HH:MM_YYYYMMDD or RFC 3339. Times without a zone are UTC.
func ParseTime(s string, now time.Time) (int64, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "now":
		return now.Unix(), nil
	case strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+"):
		d, err := ParseInterval(s)
		if err != nil {
			return 0, err
		}
		return now.Unix() + d, nil
	case strings.HasPrefix(s, "now-") || strings.HasPrefix(s, "now+"):
		return ParseTime(s[3:], now)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) != 8 {
		return n, nil
	}
	for _, l := range []string{"15:04_20060102", "20060102", time.RFC3339} {
		if t, err := time.Parse(l, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("bad time %q (want now, -1h, unix seconds, YYYYMMDD or HH:MM_YYYYMMDD)", s)
}
