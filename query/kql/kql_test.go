package kql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/query/kql/kqltest"
	"github.com/obs-dev/obs/store/logs"
)

var (
	base   = kqltest.Base
	corpus = kqltest.Corpus
	cases  = kqltest.Cases
)

func eventN(t *testing.T, raw []byte) int {
	var v struct{ N int }
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v.N
}

func entries(t *testing.T) []logs.Entry {
	var out []logs.Entry
	for _, raw := range corpus {
		var v struct {
			TS time.Time `json:"@timestamp"`
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatal(err)
		}
		f, err := logs.Flatten([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, logs.Entry{TS: v.TS, Raw: []byte(raw), Fields: f})
	}
	return out
}

// TestQueries checks every case three ways: against single events (live
// tail), against the in-memory head and against on-disk blocks.
func TestQueries(t *testing.T) {
	now := base.Add(time.Hour)
	es := entries(t)
	st, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Append(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	st.Sync()
	check := func(stage string) {
		for _, c := range cases {
			q, err := Compile(c.Q, now)
			if err != nil {
				t.Errorf("%s: Compile(%q): %v", stage, c.Q, err)
				continue
			}
			want := append([]int{}, c.Want...)
			sort.Ints(want)
			var got []int
			for i, e := range es {
				if q.MatchFields(e.Fields) {
					got = append(got, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("event: %q = %v, want %v", c.Q, got, want)
			}
			res, err := st.Search(context.Background(), logs.SearchRequest{Match: q, Limit: 100})
			if err != nil {
				t.Fatalf("%s: search %q: %v", stage, c.Q, err)
			}
			got = got[:0]
			for _, h := range res.Hits {
				got = append(got, eventN(t, h.Raw))
			}
			sort.Ints(got)
			if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("%s: %q = %v, want %v", stage, c.Q, got, want)
			}
			n, err := st.CountMatches(context.Background(), q, logs.Range{})
			if err != nil || n != len(want) {
				t.Errorf("%s: count %q = %d, %v; want %d", stage, c.Q, n, err, len(want))
			}
		}
	}
	check("head")
	st.Flush()
	check("blocks")
}

func TestNested(t *testing.T) {
	q, err := Compile(`fields:{ status >= 500 and path:"/recipes/42" }`, base)
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t)
	var got []int
	for i, e := range es {
		if q.MatchFields(e.Fields) {
			got = append(got, i)
		}
	}
	if fmt.Sprint(got) != "[0]" {
		t.Fatalf("nested = %v", got)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct {
		q   string
		pos int
		exp string
	}{
		{`app:`, 4, "value"},
		{`app:"web-api`, 12, `closing '"'`},
		{`(app:x`, 6, `")"`},
		{`app:x and`, 9, "value"},
		{`app:x )`, 6, "end of query"},
		{`:x`, 0, "field name"},
		{`severity:(error or)`, 18, "value"},
		{`a < `, 4, "value"},
		{`@timestamp < yesterday`, 13, "date"},
		{`app:x\`, 5, "escape"},
		{`a:b:c`, 3, "AND"},
	} {
		_, err := Compile(c.q, base)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: want SyntaxError, got %v", c.q, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Error(), c.exp) {
			t.Errorf("%q: got %v (pos %d), want pos %d mentioning %q", c.q, se, se.Pos, c.pos, c.exp)
		}
	}
}

func TestDateMath(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 30, 45, 0, time.UTC)
	for _, c := range []struct {
		in   string
		up   bool
		want string
	}{
		{"now", false, "2026-11-22T15:30:45Z"},
		{"now-2w", false, "2026-11-08T15:30:45Z"},
		{"now-15m", false, "2026-11-22T15:15:45Z"},
		{"now/d", false, "2026-11-22T00:00:00Z"},
		{"now/d", true, "2026-11-22T23:59:59.999Z"},
		{"now-1M/M", false, "2026-10-01T00:00:00Z"},
		{"2026-01-31||+1M", false, "2026-03-03T00:00:00Z"},
		{"2026-11-20T10:00:00+02:00", false, "2026-11-20T08:00:00Z"},
		{"2026-11-20", false, "2026-11-20T00:00:00Z"},
	} {
		got, err := ParseDateMath(c.in, now, c.up)
		if err != nil || got.Format(time.RFC3339Nano) != c.want {
			t.Errorf("%s (up=%v) = %v, %v; want %s", c.in, c.up, got.Format(time.RFC3339Nano), err, c.want)
		}
	}
	for _, bad := range []string{"now-", "now+1x", "yesterday", "now/q"} {
		if _, err := ParseDateMath(bad, now, false); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// corpusBlock is the corpus in one block, each row at its @timestamp.
func corpusBlock(f *testing.F) *logs.Block {
	var es []logs.Entry
	for _, e := range corpus {
		var v struct {
			TS time.Time `json:"@timestamp"`
		}
		if err := json.Unmarshal([]byte(e), &v); err != nil {
			f.Fatal(err)
		}
		es = append(es, logs.Entry{TS: v.TS, Raw: []byte(e)})
	}
	return logs.NewBlock(es)
}

func FuzzParse(f *testing.F) {
	blk := corpusBlock(f)
	for _, c := range cases {
		f.Add(c.Q)
	}
	f.Add(`fields:{ a:b }`)
	f.Add(`a\:b:"x\"y" or not (c >= now-1d/d)`)
	f.Fuzz(func(t *testing.T, q string) {
		c, err := Compile(q, base)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(q) {
				t.Fatalf("%q: bad error %v", q, err)
			}
			return
		}
		// A compiled query must evaluate without panicking, and its
		// answer on a block's columns must be its answer event by event.
		bits, exact := c.MatchBlock(blk)
		for r, e := range corpus {
			f, _ := logs.Flatten([]byte(e))
			if got := c.MatchFields(f); exact && got != bits.Has(r) || !exact && got && !bits.Has(r) {
				t.Fatalf("%q on %s: block says %v (exact %v), event says %v", q, e, bits.Has(r), exact, got)
			}
		}
	})
}
