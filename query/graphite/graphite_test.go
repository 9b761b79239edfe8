package graphite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var N = math.NaN()

// memFetcher serves fixed series on a 10 s step, the first value at
// the first interval after from; the function library is tested on its
// own here, against graphite-web in e2e.
type memFetcher map[string][]float64

func (m memFetcher) Fetch(_ context.Context, glob string, from, until int64) ([]*Series, error) {
	re, err := regexp.Compile(GlobRegexp(glob))
	if err != nil {
		return nil, fmt.Errorf("glob %q gave a bad regexp: %w", glob, err)
	}
	var out []*Series
	for _, name := range sortedNames(m) {
		if re.MatchString(name) {
			start := from/10*10 + 10
			vals := append([]float64(nil), m[name]...)
			out = append(out, newSeries(name, start, start+int64(len(vals))*10, 10, vals, 0))
		}
	}
	return out, nil
}

func (m memFetcher) FetchTagged(ctx context.Context, exprs []string, from, until int64) ([]*Series, error) {
	all, _ := m.Fetch(ctx, "*", from, until)
	var out []*Series
	for _, s := range all {
		ok := true
		for _, e := range exprs {
			tag, op, val, _ := ParseTagExpr(e)
			ok = ok && TagExprMatches(tag, op, val, s.Tags[tag])
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func sortedNames(m memFetcher) []string {
	var ns []string
	for n := range m {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

var data = memFetcher{
	"stats_counts.web-api.inbound.response_code.200":                  {10, 20, N, 40},
	"stats_counts.web-api.inbound.response_code.500":                  {1, N, 3, 4},
	"stats_counts.web-api.inbound.response_code.404":                  {0, 0, 0, 1},
	"stats.timers.web-api.outbound.recipe-api.request-time.upper_90":  {100, 300, 200, N},
	"stats.timers.web-api.outbound.profile-api.request-time.upper_90": {50, 50, 60, 70},
	"counter.total": {1, 3, 6, 4},
	"gaps.long":     {1, N, N, N, N, 2, N, 3},
	"req;env=prod":  {1, 2, 3, 4},
	"req;env=test":  {5, 6, 7, 8},
}

func fmtSeries(ss []*Series) string {
	var parts []string
	for _, s := range ss {
		var vs []string
		for _, p := range s.Points() {
			if math.IsNaN(p.Value) {
				vs = append(vs, "null")
			} else {
				vs = append(vs, fmt.Sprintf("%g", p.Value))
			}
		}
		parts = append(parts, s.Name+"="+strings.Join(vs, ","))
	}
	return strings.Join(parts, " ")
}

// TestFunctions holds cases whose graphite-web 1.1.8 answers were read off
// the real graphite-web (the e2e differential suite checks every function).
func TestFunctions(t *testing.T) {
	for _, c := range []struct{ target, want string }{
		{`aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)`, "200=10,20,null,40 404=0,0,0,1 500=1,null,3,4"},
		{`stats_counts.web-api.inbound.response_code.{200,500}`, "stats_counts.web-api.inbound.response_code.200=10,20,null,40 stats_counts.web-api.inbound.response_code.500=1,null,3,4"},
		{`sumSeries(stats_counts.web-api.inbound.response_code.*)`, "sumSeries(stats_counts.web-api.inbound.response_code.*)=11,20,3,45"},
		{`sumSeries(scale(counter.total,2),counter.total)`, "sumSeries(scale(counter.total,2),counter.total)=3,9,18,12"},
		{`asPercent(stats_counts.web-api.inbound.response_code.500, counter.total)`, "asPercent(stats_counts.web-api.inbound.response_code.500,counter.total)=100,null,50,100"},
		{`transformNull(stats_counts.web-api.inbound.response_code.500, 0)`, "transformNull(stats_counts.web-api.inbound.response_code.500,0)=1,0,3,4"},
		{`removeBelowValue(counter.total, 3)`, "removeBelowValue(counter.total, 3)=null,3,6,4"},
		{`derivative(stats_counts.web-api.inbound.response_code.500)`, "derivative(stats_counts.web-api.inbound.response_code.500)=null,null,null,1"},
		{`perSecond(counter.total)`, "perSecond(counter.total)=null,0.2,0.3,null"},
		{`keepLastValue(gaps.long, 3)`, "keepLastValue(gaps.long)=1,null,null,null,null,2,2,3"},
		{`summarize(counter.total, "20s", "sum")`, `summarize(counter.total, "20s", "sum")=1,9,4`},
		{`countSeries(stats_counts.web-api.inbound.response_code.*)`, "countSeries(stats_counts.web-api.inbound.response_code.*)=3,3,3,3"},
		{`aliasByTags(seriesByTag('env=~pro'), 'env')`, "prod=1,2,3,4"},
		{`counter.total|scale(10)|alias('x')`, "x=10,30,60,40"},
		{`color(lineWidth(counter.total, 2), 'red')`, "counter.total=1,3,6,4"},
		{`exclude(stats_counts.web-api.inbound.response_code.*, '[45]0')`, "stats_counts.web-api.inbound.response_code.200=10,20,null,40"},
		{`groupByNode(stats.timers.web-api.outbound.*.request-time.upper_90, 2, "sum")`, "web-api=150,350,260,70"},
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
		{`movingAverage(a.b, windowSize=2, 3)`, 33, "positional argument after a keyword"},
		{`alias(a.b, nosuch='x')`, 18, "unknown keyword argument nosuch"},
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
	for _, s := range []string{`aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)`, `sumSeries(a.{b,c}.d, "x", 1.5, true)`, `f(g(h(a)),'s')`, `a.b[0-9]`,
		`movingAverage(counter.total, windowSize='1min', xFilesFactor=0.5)`, `counter.total|scale(2)|alias('x')`, `seriesByTag('env=~pro', 'name!=x')`,
		`summarize(gaps.long, '20s', 'last', true)`, `hitcount(counter.total, '30s', true)`, `a\(b\).c`, `constantLine(1e3)`, `transformNull(x, None)`,
		`applyByNode(stats.timers.*.*.*.request-time.upper_90, 2, 'sumSeries(%.*.*.*)', '%.total')`, `reduceSeries(mapSeries(req*, 0), 'asPercent', 1, 'a', 'b')`} {
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
