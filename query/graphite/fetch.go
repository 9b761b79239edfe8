package graphite

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/obs-dev/obs/store/metrics"
)

// StoreFetcher reads Graphite series from the metrics store.
type StoreFetcher struct {
	Store *metrics.Store
	// MaxPoints bounds points per series; the step grows to fit (default 1440).
	MaxPoints int
	// BaseStep is the finest grid in seconds: the StatsD flush interval, the
	// resolution data arrives at (default 10).
	BaseStep int64
}

// Step is the grid for a range: the base step (StatsD's flush interval), or
// a multiple of it so that no series has more than maxPoints points.
func Step(from, until int64, maxPoints int, base int64) int64 {
	if maxPoints <= 0 {
		maxPoints = 1440
	}
	if base <= 0 {
		base = 10
	}
	step := base
	for (until-from)/step > int64(maxPoints) {
		step *= 2
	}
	return step
}

// Fetch implements Fetcher: names matching glob, averaged onto the grid.
func (f StoreFetcher) Fetch(ctx context.Context, glob string, from, until int64) ([]*Series, error) {
	m, err := labels.NewMatcher(labels.MatchRegexp, labels.MetricName, GlobRegexp(glob))
	if err != nil {
		return nil, &SyntaxError{0, "bad path " + glob + ": " + err.Error()}
	}
	raw, err := f.Store.Select(ctx, from*1000, until*1000, m)
	if err != nil {
		return nil, err
	}
	step := Step(from, until, f.MaxPoints, f.BaseStep)
	start := from / step * step
	n := int((until-start)/step) + 1
	var out []*Series
	for _, r := range raw {
		s := &Series{Name: taggedName(r.Name, r.Labels), Start: start, Step: step, Values: make([]float64, n), Tags: r.Labels}
		sums := make([]float64, n)
		counts := make([]int, n)
		for i, t := range r.TS {
			b := int((t/1000 - start) / step)
			if b >= 0 && b < n {
				sums[b] += r.Values[i]
				counts[b]++
			}
		}
		for i := range s.Values {
			if counts[i] == 0 {
				s.Values[i] = math.NaN()
			} else {
				s.Values[i] = sums[i] / float64(counts[i])
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// taggedName is Graphite's tagged-series form, name;k=v (tags sorted).
func taggedName(name string, tags map[string]string) string {
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
func Find(ctx context.Context, st *metrics.Store, query string, from, until int64) ([]Node, error) {
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
		out[i] = s.Values
	}
	return out, nil
}
