package traces

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
)

// randomSpans makes n spans of traces lo0.., spread over the last hours
// (and some without a timestamp), in random sizes and shapes.
func randomSpans(r *rand.Rand, lo0 uint64, n int, now time.Time) []Span {
	out := make([]Span, 0, n)
	for len(out) < n {
		lo := lo0 + uint64(len(out))
		size := 1 + r.IntN(6)
		at := now.Add(-time.Duration(r.IntN(5)) * time.Hour)
		for k := 0; k < size && len(out) < n; k++ {
			m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: model.TraceID{Low: lo}, ID: model.ID(uint64(k) + 1)},
				Name: []string{"get", "put", "select"}[r.IntN(3)], Kind: []model.Kind{model.Server, model.Client, ""}[r.IntN(3)],
				LocalEndpoint: &model.Endpoint{ServiceName: []string{"a", "b", "c"}[r.IntN(3)]}, Duration: time.Duration(r.IntN(1e6)) * time.Microsecond,
				Tags: map[string]string{"k": []string{"1", "2"}[r.IntN(2)]}}
			if r.IntN(20) > 0 {
				m.Timestamp = at.Add(time.Duration(k) * time.Millisecond)
			}
			if k > 0 {
				p := model.ID(1)
				m.ParentID = &p
			}
			js, _ := m.MarshalJSON()
			out = append(out, Span{Model: m, JSON: js})
		}
		lo0 += uint64(size)
	}
	return out
}

// Committers, searchers, trace lookups, seals, index runs and merges all at
// once; then every committed span is found, before and after reopening.
func TestConcurrentCommitsAndReads(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	now := time.Now()
	var mu sync.Mutex
	want := map[uint64]int{} // trace low → spans committed
	var wg sync.WaitGroup
	stop := make(chan struct{})
	writers := 4
	batches := 25
	if testing.Short() {
		batches = 10
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for b := 0; b < batches; b++ {
				lo := uint64(w)<<40 | uint64(b)<<20
				spans := randomSpans(r, lo+1, 50+r.IntN(300), now)
				if err := s.Commit(context.Background(), spans); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, sp := range spans {
					want[sp.Model.TraceID.Low]++
				}
				mu.Unlock()
			}
		}(w)
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Search(Query{ServiceName: "a", EndTs: now.Add(time.Minute).UnixMilli(), Lookback: 6 * 3600 * 1000, Limit: 5})
			s.Trace(model.TraceID{Low: uint64(i%writers)<<40 | 1})
			s.Dependencies(now.UnixMilli(), 86400000)
			if i%25 == 0 {
				s.Flush()
				s.Compact()
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	check := func(stage string) {
		lost := 0
		for lo, n := range want {
			spans, err := s.Trace(model.TraceID{Low: lo})
			if err != nil || len(spans) < n {
				lost++
				if lost < 5 {
					t.Errorf("%s: trace %x: %d of %d spans, %v", stage, lo, len(spans), n, err)
				}
			}
		}
		if lost > 0 {
			t.Fatalf("%s: %d of %d traces incomplete", stage, lost, len(want))
		}
	}
	check("live")
	s.Close()
	s = open(t, dir, Options{})
	defer s.Close()
	check("reopened")
}
