package logs

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// wordIs matches events whose field w is the word; it says every row of
// a block may match, so each is checked on its fields.
type wordIs string

func (w wordIs) MatchBlock(b *Block) (Bits, bool) { return AllBits(b.N), false }

func (w wordIs) MatchFields(fs []Field) bool {
	for _, f := range fs {
		if f.Path == "w" && f.Str == string(w) {
			return true
		}
	}
	return false
}

// keyedWord is wordIs with a key: the store may keep its counts.
type keyedWord struct{ wordIs }

func (k keyedWord) MatchKey() string { return "w:" + string(k.wordIs) }

// TestKeptCountsAnswerAsTheBlocksDo: a Keyed matcher's counts and
// histograms, asked again and again over sealed blocks, a head and
// ranges that cut blocks, equal what reading every block gives; two keys
// never share a count; and once the first query's metas have gone idle,
// the cache holds counts for the blocks a query covers whole, not their
// metas.
func TestKeptCountsAnswerAsTheBlocksDo(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	start := day.Add(10 * time.Hour)
	const sealed, inHead = 12000, 700
	var all []Entry
	for i := range sealed + inHead {
		w := "beta"
		if i%3 == 0 {
			w = "alpha"
		}
		all = append(all, Entry{TS: start.Add(time.Duration(i) * 200 * time.Millisecond),
			Raw: []byte(fmt.Sprintf(`{"seq":%d,"w":%q,"message":"event %d"}`, i, w, i))})
	}
	if err := s.Append(context.Background(), all[:sealed]); err != nil {
		t.Fatal(err)
	}
	s.Flush()
	if err := s.Append(context.Background(), all[sealed:]); err != nil {
		t.Fatal(err)
	}
	s.Sync()

	want := func(w string, r Range) (int, map[int64]int) {
		n, bars := 0, map[int64]int{}
		from, to := r.millis()
		for i, e := range all {
			ts := e.TS.UnixMilli()
			if ts < from || ts > to || (w == "alpha") != (i%3 == 0) {
				continue
			}
			n++
			bars[e.TS.Truncate(time.Minute).UnixMilli()]++
		}
		return n, bars
	}
	ranges := []Range{
		{From: start.Add(-time.Hour), To: start.Add(2 * time.Hour)},
		// Cuts blocks at both ends, and minute bars inside blocks.
		{From: start.Add(7*time.Minute + 13*time.Second), To: start.Add(33*time.Minute + 41*time.Second)},
	}
	clock := time.Now()
	s.cache.now = func() time.Time { return clock }
	for rep := range 3 {
		for _, r := range ranges {
			for _, w := range []string{"alpha", "beta"} {
				wantN, wantBars := want(w, r)
				for _, m := range []Matcher{wordIs(w), keyedWord{wordIs(w)}} {
					n, err := s.CountMatches(context.Background(), m, r)
					if err != nil || n != wantN {
						t.Fatalf("rep %d %T %s %v: count %d (%v), want %d", rep, m, w, r, n, err, wantN)
					}
					bs, total, err := s.Histogram(context.Background(), m, r, time.Minute)
					if err != nil || total != wantN {
						t.Fatalf("rep %d %T %s: histogram total %d (%v), want %d", rep, m, w, total, err, wantN)
					}
					for _, b := range bs {
						if b.Count != wantBars[b.Start.UnixMilli()] {
							t.Fatalf("rep %d %T %s: bar %v has %d, want %d", rep, m, w, b.Start, b.Count, wantBars[b.Start.UnixMilli()])
						}
					}
				}
			}
		}
		clock = clock.Add(cacheIdle + time.Second) // what the first round loaded goes idle
	}

	// Only the keyed queries now, as a page refreshing its histogram:
	// the metas the first round loads go idle, the counts stay in use.
	hist := func() {
		for _, w := range []string{"alpha", "beta"} {
			if _, _, err := s.Histogram(context.Background(), keyedWord{wordIs(w)}, ranges[0], time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock = clock.Add(cacheIdle + time.Second)
	hist()
	clock = clock.Add(cacheIdle / 2)
	hist()
	clock = clock.Add(cacheIdle/2 + time.Second)
	hist()
	s.cache.mu.Lock()
	counts, other := 0, 0
	for k := range s.cache.items {
		if k.item == partCount {
			counts++
		} else {
			other++
		}
	}
	size := s.cache.size
	s.cache.mu.Unlock()
	// 12,000 rows are six blocks, all within the 10:00 bar; the head's
	// rows are read each time.
	if counts != 12 || other != 0 {
		t.Fatalf("cache holds %d counts and %d other parts, want 12 counts (six blocks, two words) and nothing else", counts, other)
	}
	if size > 16<<10 {
		t.Fatalf("cache holds %d bytes for a dozen counts", size)
	}
}
