package logs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// poolBlocks are blocks of different shapes: varied events (escapes,
// nested objects, arrays, mixed kinds, dictionary and plain columns, times,
// large values, a line that is not JSON), a block of few fields, and one
// with more fields than the pool keeps.
func poolBlocks() [][]Entry {
	r := rand.New(rand.NewPCG(7, 7))
	words := []string{"connection", "refused", "héllo", "日本語", `quote\"d`, `tab\there`, "<script>", "cache miss"}
	varied := func(n, pad int) []Entry {
		var es []Entry
		for i := range n {
			ts := day.Add(time.Duration(i)*time.Millisecond + time.Duration(r.IntN(50))*time.Millisecond)
			status := []string{"200", "404", `"500"`, "null", "true"}[r.IntN(5)] // mixed kinds
			raw := fmt.Sprintf(`{"@timestamp":%q,"app":"app%d","severity":%q,"message":"%s %s %d",`+
				`"fields":{"status":%s,"latency_ms":%d.%02d,"path":"/r/%d"},"tags":["%s","t%d"],"req":%d%s}`,
				ts.Format("2006-01-02T15:04:05.000Z"), r.IntN(4), []string{"info", "warn", "error"}[r.IntN(3)],
				words[r.IntN(len(words))], words[r.IntN(len(words))], i, status, r.IntN(900), r.IntN(100), r.IntN(3000),
				words[r.IntN(len(words))], r.IntN(5), r.Uint64()>>1, strings.Repeat(`,"pad":"`+strings.Repeat("x", pad)+`"`, min(1, pad)))
			es = append(es, Entry{TS: ts, Raw: []byte(raw)})
		}
		es = append(es, Entry{TS: day, Raw: []byte(`a line that is not JSON`)})
		return es
	}
	out := [][]Entry{varied(BlockSize-1, 0), varied(700, 900), mkEntries(BlockSize, day, time.Millisecond)}
	var wide []Entry
	for i := range 300 {
		wide = append(wide, Entry{TS: day.Add(time.Duration(i) * time.Second),
			Raw: []byte(`{"f` + strconv.Itoa(i) + `":"v ` + strconv.Itoa(i) + `","n":` + strconv.Itoa(i) + `}`)})
	}
	return append(out, wide)
}

// A recycled builder builds exactly the block a new one builds, whatever
// blocks it built before, and the blocks it built before are not changed
// by its reuse.
func TestRecycledBuilderBuildsTheSameBlock(t *testing.T) {
	cd := newCodec(1)
	encode := func(b *builtBlock) []byte { buf, _ := encodeBlock(cd, 1, b); return buf }
	blocks := poolBlocks()
	var want [][]byte
	for _, es := range blocks {
		bb := newBlockBuilder()
		for _, e := range es {
			bb.add(e.TS.UnixMilli(), e.Raw)
		}
		want = append(want, encode(bb.build()))
	}
	bb := newBlockBuilder()
	var built []*builtBlock
	for round := range 3 {
		for i, es := range blocks {
			for _, e := range es {
				bb.add(e.TS.UnixMilli(), e.Raw)
			}
			b := bb.build()
			if !bb.reset() {
				bb = newBlockBuilder() // the wide block is not kept
			}
			if got := encode(b); !bytes.Equal(got, want[i]) {
				t.Fatalf("round %d, block %d: a recycled builder built a different block", round, i)
			}
			built = append(built, b)
		}
	}
	for k, b := range built {
		if got := encode(b); !bytes.Equal(got, want[k%len(blocks)]) {
			t.Fatalf("block %d changed after its builder was reused", k)
		}
	}
}

// BenchmarkBuildBlock: a block of 2,000 generated events built from
// rows, as the sealer and every query over the head do.
func BenchmarkBuildBlock(b *testing.B) {
	es := poolBlocks()[0]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bb := getBlockBuilder()
		for _, e := range es {
			bb.add(e.TS.UnixMilli(), e.Raw)
		}
		bb.build()
		putBlockBuilder(bb)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/event")
}

// FuzzRecycledBuilder: events from the fuzzer (one per line) built by a
// builder that built other blocks before give the block a new builder
// gives.
func FuzzRecycledBuilder(f *testing.F) {
	for _, s := range []string{"{\"a\":1,\"b\":[true,null,\"x\"]}\n{\"a\":\"x y\"}", "{\"m\":\"\\u00e9 t\"}\nnot json\n{\"m\":2}",
		"{\"t\":\"2026-11-20T12:00:00.123Z\"}\n{\"t\":\"2026-11-20T12:00:00.124Z\"}"} {
		f.Add([]byte(s))
	}
	cd := newCodec(1)
	prior := poolBlocks()[1][:60]
	f.Fuzz(func(t *testing.T, in []byte) {
		var es []Entry
		for i, line := range bytes.Split(in, []byte("\n")) {
			es = append(es, Entry{TS: day.Add(time.Duration(i) * time.Millisecond), Raw: line})
		}
		build := func(bb *blockBuilder) []byte {
			for _, e := range es {
				bb.add(e.TS.UnixMilli(), e.Raw)
			}
			buf, _ := encodeBlock(cd, 1, bb.build())
			return buf
		}
		want := build(newBlockBuilder())
		bb := newBlockBuilder()
		for round := range 2 {
			for _, e := range prior {
				bb.add(e.TS.UnixMilli(), e.Raw)
			}
			bb.build()
			if !bb.reset() {
				t.Fatal("a small block's builder was not kept")
			}
			if round == 1 {
				build(bb) // the fuzz input's own columns, then the prior block's again
				if !bb.reset() {
					return
				}
			}
		}
		if got := build(bb); !bytes.Equal(got, want) {
			t.Fatalf("%q: a recycled builder built a different block", in)
		}
	})
}
