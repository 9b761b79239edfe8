package graphite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

var N = math.NaN()

// memFetcher serves fixed series; the function library is tested on its own,
// the store path end to end in e2e.
type memFetcher map[string][]float64

func (m memFetcher) Fetch(_ context.Context, glob string, from, until int64) ([]*Series, error) {
	re, err := regexp.Compile(GlobRegexp(glob))
	if err != nil {
		return nil, fmt.Errorf("glob %q gave a bad regexp: %w", glob, err)
	}
	var out []*Series
	for _, name := range sortedNames(m) {
		if re.MatchString(name) {
			out = append(out, &Series{Name: name, Start: from, Step: 10, Values: append([]float64(nil), m[name]...)})
		}
	}
	return out, nil
}

func sortedNames(m memFetcher) []string {
	var ns []string
	for n := range m {
		ns = append(ns, n)
	}
	for i := range ns {
		for j := i + 1; j < len(ns); j++ {
			if ns[j] < ns[i] {
				ns[i], ns[j] = ns[j], ns[i]
			}
		}
	}
	return ns
}

var data = memFetcher{
	"stats_counts.web-api.inbound.response_code.200":                  {10, 20, N, 40},
	"stats_counts.web-api.inbound.response_code.500":                  {1, N, 3, 4},
	"stats_counts.web-api.inbound.response_code.404":                  {0, 0, 0, 1},
	"stats.timers.web-api.outbound.recipe-api.request-time.upper_90":  {100, 300, 200, N},
	"stats.timers.web-api.outbound.profile-api.request-time.upper_90": {50, 50, 60, 70},
	"counter.total": {1, 3, 6, 4},
}

func fmtSeries(ss []*Series) string {
	var parts []string
	for _, s := range ss {
		var vs []string
		for _, v := range s.Values {
			if math.IsNaN(v) {
				vs = append(vs, "null")
			} else {
				vs = append(vs, fmt.Sprintf("%g", v))
			}
		}
		parts = append(parts, s.Name+"="+strings.Join(vs, ","))
	}
	return strings.Join(parts, " ")
}

func TestFunctions(t *testing.T) {
	for _, c := range []struct{ target, want string }{
		{`aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)`, "200=10,20,null,40 404=0,0,0,1 500=1,null,3,4"},
		{`aliasByNode(stats.timers.web-api.outbound.*.request-time.upper_90, 4)`, "profile-api=50,50,60,70 recipe-api=100,300,200,null"},
		{`stats_counts.web-api.inbound.response_code.{200,500}`, "stats_counts.web-api.inbound.response_code.200=10,20,null,40 stats_counts.web-api.inbound.response_code.500=1,null,3,4"},
		{`aliasByNode(stats_counts.web-api.inbound.response_code.[45]0[04], 4)`, "404=0,0,0,1 500=1,null,3,4"},
		{`sumSeries(stats_counts.web-api.inbound.response_code.*)`, "sumSeries(stats_counts.web-api.inbound.response_code.*)=11,20,3,45"},
		{`averageSeries(stats_counts.web-api.inbound.response_code.{200,500})`, "averageSeries(stats_counts.web-api.inbound.response_code.{200,500})=5.5,20,3,22"},
		{`alias(maxSeries(stats_counts.web-api.inbound.response_code.*), "max")`, "max=10,20,3,40"},
		{`alias(minSeries(stats_counts.web-api.inbound.response_code.*), 'min')`, "min=0,0,0,1"},
		{`alias(diffSeries(counter.total, stats_counts.web-api.inbound.response_code.500), "d")`, "d=0,3,3,0"},
		{`alias(multiplySeries(counter.total, counter.total), "m")`, "m=1,9,36,16"},
		{`alias(divideSeries(stats_counts.web-api.inbound.response_code.500, counter.total), "r")`, "r=1,null,0.5,1"},
		{`alias(asPercent(stats_counts.web-api.inbound.response_code.500, counter.total), "p")`, "p=100,null,50,100"},
		{`aliasByNode(groupByNode(stats.timers.web-api.outbound.*.request-time.upper_90, 2, "sum"), 0)`, "web-api=150,350,260,70"},
		{`alias(scale(counter.total, 2), "s")`, "s=2,6,12,8"},
		{`alias(offset(counter.total, -1), "o")`, "o=0,2,5,3"},
		{`alias(absolute(offset(counter.total, -5)), "a")`, "a=4,2,1,1"},
		{`alias(integral(stats_counts.web-api.inbound.response_code.500), "i")`, "i=1,null,4,8"},
		{`alias(derivative(counter.total), "d")`, "d=null,2,3,-2"},
		{`alias(nonNegativeDerivative(counter.total), "d")`, "d=null,2,3,null"},
		{`alias(perSecond(counter.total), "d")`, "d=null,0.2,0.3,null"},
		{`alias(movingAverage(counter.total, 2), "m")`, "m=1,2,4.5,5"},
		{`alias(transformNull(stats_counts.web-api.inbound.response_code.500), "t")`, "t=1,0,3,4"},
		{`alias(transformNull(stats_counts.web-api.inbound.response_code.500, -1), "t")`, "t=1,-1,3,4"},
		{`alias(keepLastValue(stats_counts.web-api.inbound.response_code.200), "k")`, "k=10,20,20,40"},
		{`alias(removeBelowValue(counter.total, 3), "r")`, "r=null,3,6,4"},
		{`alias(removeAboveValue(counter.total, 3), "r")`, "r=1,3,null,null"},
		{`aliasByNode(highestCurrent(stats_counts.web-api.inbound.response_code.*, 1), 4)`, "200=10,20,null,40"},
		{`aliasByNode(highestMax(stats.timers.web-api.outbound.*.request-time.upper_90, 1), 4)`, "recipe-api=100,300,200,null"},
		{`aliasByNode(highestAverage(stats_counts.web-api.inbound.response_code.*, 2), 4)`, "200=10,20,null,40 500=1,null,3,4"},
		{`aliasByNode(lowestCurrent(stats_counts.web-api.inbound.response_code.*, 1), 4)`, "404=0,0,0,1"},
		{`aliasByNode(limit(stats_counts.web-api.inbound.response_code.*, 1), 4)`, "200=10,20,null,40"},
		{`aliasByNode(sortByMaxima(stats_counts.web-api.inbound.response_code.*), 4)`, "200=10,20,null,40 500=1,null,3,4 404=0,0,0,1"},
		{`aliasByNode(sortByName(stats_counts.web-api.inbound.response_code.*), 4)`, "200=10,20,null,40 404=0,0,0,1 500=1,null,3,4"},
		{`countSeries(stats_counts.web-api.inbound.response_code.*)`, "countSeries()=3,3,3,3"},
		{`alias(summarize(counter.total, "20s", "sum"), "s")`, "s=4,10"},
		{`alias(summarize(counter.total, "20s", "max"), "s")`, "s=3,6"},
		{`alias(hitcount(counter.total, "20s"), "h")`, "h=40,100"},
		{`aliasSub(stats_counts.web-api.inbound.response_code.200, "^.*\.(\d+)$", "code \1")`, "code 200=10,20,null,40"},
		{`constantLine(42)`, "42=42,42"},
		{`alias(timeShift(counter.total, "1h"), "t")`, "t=1,3,6,4"},
	} {
		got, err := Eval(context.Background(), data, c.target, 1000, 1040)
		if err != nil {
			t.Errorf("%s: %v", c.target, err)
			continue
		}
		if fmtSeries(got) != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.target, fmtSeries(got), c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		target string
		pos    int
		msg    string
	}{
		{`sumSeries(a.b`, 13, "expected ',' or ')'"},
		{`nosuch(a.b)`, 0, "unknown function nosuch"},
		{`scale(a.b, "x")`, 11, "must be a number"},
		{`a.b )`, 4, "unexpected"},
		{`summarize(a, "5 parsecs")`, 13, "bad interval"},
		{`alias(a, 'x`, 9, "unterminated"},
		{``, 0, "expected a path"},
	} {
		_, err := Eval(context.Background(), data, c.target, 0, 100)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Pos != c.pos || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: got %v, want position %d and %q", c.target, err, c.pos, c.msg)
		}
	}
}

func TestGlob(t *testing.T) {
	re := regexp.MustCompile(GlobRegexp("a.{b,c*}.d?.[0-9]"))
	for s, want := range map[string]bool{"a.b.dx.1": true, "a.cat.dy.9": true, "a.b.c.dx.1": false, "a.x.dx.1": false, "a.b.dxx.1": false} {
		if re.MatchString(s) != want {
			t.Errorf("%s: %v", s, !want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)`, `sumSeries(a.{b,c}.d, "x", 1.5, true)`, `f(g(h(a)),'s')`, `a.b[0-9]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("%q: bad error %v", s, err)
			}
			return
		}
		// Evaluating any parsed target must not panic, and globs must
		// always make valid regular expressions.
		for _, t := range []string{e.String(), s} {
			if _, err := Eval(context.Background(), data, t, 1000, 1040); err != nil && strings.Contains(err.Error(), "bad regexp") {
				t := t
				panic(t + ": " + err.Error())
			}
		}
	})
}
