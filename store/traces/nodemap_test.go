package traces

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
)

// withSmallTrace runs f with nodeMap's list bound set to n.
func withSmallTrace(t *testing.T, n int, f func()) {
	t.Helper()
	old := smallTrace
	smallTrace = n
	defer func() { smallTrace = old }()
	f()
}

// The linker's cases give the same links whether its node maps are lists
// (the table's traces are all short), maps from the first key, or lists
// that turn into maps part way through a trace.
func TestDependencyLinkerListsAndMaps(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		withSmallTrace(t, n, func() {
			for _, c := range linkCases {
				if got := linksOf(c.traces); !reflect.DeepEqual(got, c.want) {
					t.Errorf("smallTrace %d, %s:\n got %+v\nwant %+v", n, c.zipkinTest, got, c.want)
				}
			}
		})
	}
}

// Random traces of 1 to 60 spans, shared and not, some parts of one span
// sent twice, some parents missing, one linker reused for all as the
// linker goroutine does: lists and maps give the same links.
func TestNodeMapListsAgreeWithMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	svcs := []string{"web", "api", "db", "cache", ""}
	kinds := []string{"", "CLIENT", "SERVER", "PRODUCER", "CONSUMER"}
	var traces [][]ls
	for tr := range 400 {
		n := 1 + r.IntN(60)
		var spans []ls
		for i := range n {
			s := ls{trace: fmt.Sprintf("%x", tr+1), id: fmt.Sprintf("%x", 1+r.IntN(n+3)), kind: kinds[r.IntN(len(kinds))],
				local: svcs[r.IntN(len(svcs))], remote: svcs[r.IntN(len(svcs))], isError: r.IntN(9) == 0, shared: r.IntN(4) == 0}
			if i > 0 && r.IntN(8) != 0 {
				s.parent = fmt.Sprintf("%x", 1+r.IntN(n+3))
			}
			if r.IntN(3) == 0 {
				s.ip = fmt.Sprintf("10.0.0.%d", r.IntN(4))
			}
			spans = append(spans, s)
		}
		traces = append(traces, spans)
	}
	run := func() map[linkKey]linkCount {
		m := map[linkKey]linkCount{}
		l := newLinker()
		for _, tr := range traces {
			l.link(rows(tr), 1, m)
		}
		return m
	}
	var lists, mapped, mixed map[linkKey]linkCount
	withSmallTrace(t, 1<<20, func() { lists = run() })
	withSmallTrace(t, 0, func() { mapped = run() })
	withSmallTrace(t, 5, func() { mixed = run() })
	if len(lists) == 0 {
		t.Fatal("no links at all: the generator is wrong")
	}
	if !maps.Equal(lists, mapped) || !maps.Equal(lists, mixed) {
		t.Fatalf("lists %v\nmaps %v\nmixed %v", lists, mapped, mixed)
	}
}
