package graphite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/metrics"
)

// gridOnly hides FetchAggregate: every target takes the grid path.
type gridOnly struct{ Fetcher }

// sumSeries and its siblings over one path, added up as the store reads
// them, give what the grid path gives, bit for bit: the name, tags, window
// and every value, over data with several samples in one interval, gaps,
// NaN samples, -0, magnitudes whose sums depend on their order, a series
// with no point in the window, and tagged series (which the streamed
// path leaves to the grid path).
func TestStreamedAggregatesEqualTheGridPath(t *testing.T) {
	st, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	end := time.Now().Truncate(time.Minute)
	r := rand.New(rand.NewPCG(3, 5))
	var batch []metrics.Sample
	value := func() float64 {
		switch r.IntN(12) {
		case 0:
			return math.NaN()
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return 1e16 * r.Float64()
		case 3:
			return float64(r.IntN(500))
		}
		return r.NormFloat64() * 100
	}
	for k := range 40 {
		name := fmt.Sprintf("app.s%d.lat", k)
		for ts := end.Add(-time.Hour); ts.Before(end); ts = ts.Add(time.Duration(1+r.IntN(15)) * time.Second) {
			if r.IntN(10) == 0 {
				ts = ts.Add(time.Duration(r.IntN(120)) * time.Second) // a gap
			}
			batch = append(batch, metrics.Sample{Name: name, TS: ts.UnixMilli(), Value: value()})
		}
	}
	// Known, but with no point in the window.
	batch = append(batch, metrics.Sample{Name: "app.old.lat", TS: end.Add(-5 * time.Hour).UnixMilli(), Value: 7})
	for k := range 3 {
		s := metrics.Sample{Name: fmt.Sprintf("tagged.s%d.lat", k), TS: end.Add(-time.Minute).UnixMilli(), Value: float64(k)}
		if k == 1 {
			s.Labels = []metrics.Label{{Name: "dc", Value: "eu"}}
		}
		batch = append(batch, s)
	}
	if err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	f := StoreFetcher{Store: st, BaseStep: 10, Now: func() time.Time { return end }}
	streamed := 0
	for _, target := range []string{
		"sumSeries(app.*.lat)", "averageSeries(app.*.lat)", "minSeries(app.*.lat)", "maxSeries(app.*.lat)",
		"sum(app.*.lat)", "avg(app.s1*.lat)", "sumSeries(app.{s1,s2,old}.lat)", "sumSeries(app.s3.lat)",
		"sumSeries(app.old.lat)", "sumSeries(nothing.*)", "sumSeries(tagged.*.lat)", "alias(sumSeries(app.*.lat),'x')",
		"sumSeries(app.*.lat,app.s1.lat)", "scale(maxSeries(app.s2*.lat),2)",
	} {
		for _, w := range [][2]int64{{3600, 0}, {3607, 13}, {600, 0}, {86400, 0}, {3, 1}} {
			from, until := end.Unix()-w[0], end.Unix()-w[1]
			want, err := Eval(context.Background(), gridOnly{f}, target, from, until)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Eval(context.Background(), f, target, from, until)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s %v: %d series, grid path %d", target, w, len(got), len(want))
			}
			for i := range got {
				g, x := *got[i], *want[i]
				gv, xv := g.Values, x.Values
				g.Values, x.Values = nil, nil
				if !reflect.DeepEqual(g, x) {
					t.Fatalf("%s %v: series %d\n got %+v\nwant %+v", target, w, i, g, x)
				}
				if len(gv) != len(xv) {
					t.Fatalf("%s %v: %d values, grid path %d", target, w, len(gv), len(xv))
				}
				for j := range gv {
					if math.Float64bits(gv[j]) != math.Float64bits(xv[j]) && !(math.IsNaN(gv[j]) && math.IsNaN(xv[j])) {
						t.Fatalf("%s %v: value %d is %v (%x), grid path %v (%x)", target, w, j, gv[j], math.Float64bits(gv[j]), xv[j], math.Float64bits(xv[j]))
					}
				}
			}
		}
		if _, ok, _ := (&call{ev: &evaluator{ctx: context.Background(), f: f}, args: mustParse(t, target).Args,
			rc: reqCtx{from: end.Unix() - 3600, until: end.Unix(), xff: new(float64)}}).streamed("sum"); ok {
			streamed++
		}
	}
	// The plain sums over two or more untagged series did stream.
	if streamed < 5 {
		t.Fatalf("only %d targets streamed", streamed)
	}
}

func mustParse(t *testing.T, target string) *Expr {
	t.Helper()
	e, err := Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
