package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// all matches every event (the store's own tests need no KQL).
type all struct{}

func (all) MatchBlock(b *Block) (Bits, bool) { return AllBits(b.N), true }
func (all) MatchFields([]Field) bool         { return true }

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func mkEntries(n int, start time.Time, step time.Duration) []Entry {
	out := make([]Entry, n)
	for i := range out {
		raw := fmt.Sprintf(`{"seq":%d,"app":"a%d","message":"event number %d"}`, i, i%3, i)
		out[i] = Entry{TS: start.Add(time.Duration(i) * step), Raw: []byte(raw)}
	}
	return out
}

func seqs(t *testing.T, hits []Hit) []int {
	var out []int
	for _, h := range hits {
		var v struct{ Seq int }
		if err := json.Unmarshal(h.Raw, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Seq)
	}
	return out
}

func openT(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPagingAcrossHeadAndBlocks(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	// 5,500 events: two full blocks plus a head.
	s.Append(context.Background(), mkEntries(5500, day, time.Millisecond))
	s.Sync()
	var got []int
	cursor := ""
	for {
		res, err := s.Search(context.Background(), SearchRequest{Match: all{}, Limit: 700, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, seqs(t, res.Hits)...)
		if res.Next == "" {
			break
		}
		cursor = res.Next
	}
	if len(got) != 5500 {
		t.Fatalf("paged %d events", len(got))
	}
	for i, v := range got {
		if v != 5499-i {
			t.Fatalf("position %d holds %d: not newest first", i, v)
		}
	}
	// Oldest first with a time range.
	res, _ := s.Search(context.Background(), SearchRequest{Match: all{}, Limit: 3, Oldest: true,
		Range: Range{From: day.Add(10 * time.Millisecond), To: day.Add(time.Hour)}})
	if fmt.Sprint(seqs(t, res.Hits)) != "[10 11 12]" {
		t.Fatalf("oldest first: %v", seqs(t, res.Hits))
	}
}

func TestHistogram(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	s.Append(context.Background(), mkEntries(3000, day, time.Second)) // 50 minutes
	s.Flush()
	b, total, err := s.Histogram(context.Background(), all{}, Range{From: day, To: day.Add(time.Hour)}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3000 || len(b) != 7 || b[0].Count != 600 || b[4].Count != 600 || b[5].Count != 0 {
		t.Fatalf("total %d buckets %v", total, b)
	}
}

// TestCrashRecovery simulates kill -9 at the worst moments: a WAL with a torn
// last record, a block torn mid-write, and a block written but not indexed.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	s.Append(context.Background(), mkEntries(2500, day, time.Millisecond))
	s.Sync()
	// Simulate a kill: copy the files as they are now, without Close.
	crash := t.TempDir()
	copyDir(t, dir, crash)
	s.Close()

	part := filepath.Join(crash, dayName(day))
	wals, _ := filepath.Glob(filepath.Join(part, "wal-*.log"))
	if len(wals) != 1 {
		t.Fatalf("wals %v", wals)
	}
	// A torn record at the WAL's end and a torn block at the segment's end.
	appendFile(t, wals[0], []byte{0x80, 0x01, 0x02})
	appendFile(t, filepath.Join(part, "segment.dat"), []byte("OBSB\x07\x00\x00\x00garbage"))

	r := openT(t, crash, Options{})
	defer r.Close()
	if n, _ := r.CountMatches(context.Background(), all{}, Range{}); n != 2500 {
		t.Fatalf("after crash %d events, want 2500", n)
	}
	// New writes go on from there.
	r.Append(context.Background(), mkEntries(10, day.Add(time.Hour), time.Millisecond))
	r.Flush()
	if n, _ := r.CountMatches(context.Background(), all{}, Range{}); n != 2510 {
		t.Fatalf("after more writes %d events", n)
	}
}

func TestReindexMissingBlocks(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	s.Append(context.Background(), mkEntries(4000, day, time.Millisecond))
	s.Flush()
	s.Close()
	// Lose the bleve index entirely: it is derived data.
	os.RemoveAll(filepath.Join(dir, dayName(day), "blocks.bleve"))
	r := openT(t, dir, Options{})
	defer r.Close()
	if n, _ := r.CountMatches(context.Background(), all{}, Range{}); n != 4000 {
		t.Fatalf("%d events", n)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Retention: 48 * time.Hour})
	old := time.Now().UTC().AddDate(0, 0, -5)
	s.Append(context.Background(), mkEntries(10, old, time.Second))
	s.Append(context.Background(), mkEntries(10, time.Now().UTC(), time.Millisecond))
	s.Flush()
	if len(s.Partitions()) != 2 {
		t.Fatalf("partitions %v", s.Partitions())
	}
	s.applyRetention()
	if p := s.Partitions(); len(p) != 1 || p[0] != dayName(time.Now()) {
		t.Fatalf("after retention %v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, dayName(old))); !os.IsNotExist(err) {
		t.Fatalf("old day still on disk: %v", err)
	}
	s.Close()
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	s := openT(t, t.TempDir(), Options{QueueSize: 1})
	defer s.Close()
	sent := 0
	for i := 0; i < 2000; i++ {
		if s.TryAppend(mkEntries(1, day, 0)) {
			sent++
		}
	}
	s.Sync()
	if int(s.Stats.Dropped.Load())+sent != 2000 {
		t.Fatalf("dropped %d + accepted %d != 2000", s.Stats.Dropped.Load(), sent)
	}
}

func copyDir(t *testing.T, src, dst string) {
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

func appendFile(t *testing.T, p string, b []byte) {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
}

// FuzzDecodeBlockIndex feeds the v1 block index reader (blocks of the
// previous format are still read).
func FuzzDecodeBlockIndex(f *testing.F) {
	seg, err := os.Open("testdata/v1-store/logs-2026.11.27/segment.dat")
	if err != nil {
		f.Fatal(err)
	}
	res, _ := scanSegment(seg)
	cd := newCodec(1)
	for _, m := range res.blocks[:1] {
		z := make([]byte, m.IdxLen)
		seg.ReadAt(z, m.Off+int64(m.RawLen))
		b, err := cd.dec.DecodeAll(z, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seg.Close()
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := decodeV1Index(b)
		if err == nil && len(ts) > BlockSize {
			t.Fatalf("%d rows", len(ts))
		}
	})
}

// FuzzDecodeBlock feeds the v2 block decoder (meta, then every column):
// whatever it accepts must be safe to query and to rebuild events from.
func FuzzDecodeBlock(f *testing.F) {
	bb := newBlockBuilder()
	for _, e := range mkEntries(20, day, time.Second) {
		bb.add(e.TS.UnixMilli(), e.Raw)
	}
	bb.add(day.UnixMilli(), []byte(`{"a":[1,"x",true,null],"b":{"c":"\u00e9 d"},"message":"hello world"}`))
	built := bb.build()
	cd := newCodec(1)
	metaZ, data := cd.encode(built)
	meta, _ := cd.dec.DecodeAll(metaZ, nil)
	f.Add(meta, data, 0)
	f.Add([]byte{}, []byte{}, 0)
	f.Fuzz(func(t *testing.T, meta, data []byte, col int) {
		bm, err := decodeMeta(meta, len(data))
		if err != nil {
			return
		}
		// data is also tried as a column's uncompressed data, so that the
		// fuzzer reaches the column decoder without forging zstd frames.
		if len(bm.cols) > 0 {
			i := col & 0xffff % len(bm.cols)
			if d, err := decodeColData(data, &bm.cols[i], bm, nil); err == nil {
				query(t, newBlock(bm, oneColumn{i, d}))
			}
		}
		e := &encodedBlock{meta: bm, cd: cd, read: func(off, n int) ([]byte, error) { return data[off : off+n], nil }}
		query(t, newBlock(bm, e))
		// The same meta as the cache keeps it, its row times read again
		// when a query asks for one.
		lazy, err := decodeMetaTS(meta, len(data), false)
		if err != nil {
			t.Fatalf("decoded with row times but not without: %v", err)
		}
		if lazy.ts.lo != bm.ts.lo || lazy.ts.hi != bm.ts.hi {
			t.Fatalf("span without row times %d..%d, with %d..%d", lazy.ts.lo, lazy.ts.hi, bm.ts.lo, bm.ts.hi)
		}
		e = &encodedBlock{meta: lazy, cd: cd, read: e.read, readMeta: func() ([]byte, error) { return meta, nil }}
		query(t, newBlock(lazy, e))
	})
}

// oneColumn has one column's data; every other part is unreadable.
type oneColumn struct {
	i int
	d *colData
}

func (o oneColumn) colData(i int) (*colData, error) {
	if i == o.i {
		return o.d, nil
	}
	return nil, errCorrupt
}

func (o oneColumn) colBloom(int) (bloom, error) { return nil, errCorrupt }
func (o oneColumn) stamps() (*stamps, error)    { return nil, errCorrupt }

// query asks everything of a block, as a fuzz target: nothing may panic.
func query(t *testing.T, b *Block) {
	{
		for _, name := range b.Fields() {
			c := b.Field(name)
			c.Present(b.N)
			c.Term(b.N, "x")
			c.MatchValues(b.N, 0xff, func(string) bool { return true })
			c.MatchWords(b.N, func([]string) bool { return true })
			c.NumMatch(b.N, func(float64) bool { return true })
			c.MayHaveWord("x")
		}
		for r := 0; r < b.N; r++ {
			b.rebuild(nil, r)
		}
	}
}

// TestHistogramBars: bars counted a block at a time (a block inside one
// bar) and row by row (a block across bars or range ends) agree with
// counting each event: random times, some out of order, random ranges and
// intervals from a second to an hour.
func TestHistogramBars(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	rnd := rand.New(rand.NewPCG(7, 8))
	entries := make([]Entry, 30000)
	for i := range entries {
		ts := day.Add(time.Duration(i)*300*time.Millisecond + time.Duration(rnd.IntN(4000))*time.Millisecond)
		entries[i] = Entry{TS: ts, Raw: fmt.Appendf(nil, `{"seq":%d}`, i)}
	}
	s.Append(context.Background(), entries)
	s.Flush()
	for range 40 {
		from := day.Add(time.Duration(rnd.IntN(9000)) * time.Second)
		to := from.Add(time.Duration(rnd.IntN(4000)+1) * time.Second)
		iv := []time.Duration{time.Second, 7 * time.Second, time.Minute, 5 * time.Minute, time.Hour}[rnd.IntN(5)]
		bars, total, err := s.Histogram(context.Background(), all{}, Range{From: from, To: to}, iv)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]int, len(bars))
		wantTotal := 0
		for _, e := range entries {
			if e.TS.Before(from) || e.TS.After(to) {
				continue
			}
			for i := len(bars) - 1; i >= 0; i-- {
				if !e.TS.Before(bars[i].Start) {
					want[i]++
					wantTotal++
					break
				}
			}
		}
		for i := range bars {
			if bars[i].Count != want[i] {
				t.Fatalf("%s..%s every %s: bar %d (%s) = %d, want %d", from, to, iv, i, bars[i].Start, bars[i].Count, want[i])
			}
		}
		if total != wantTotal {
			t.Fatalf("%s..%s every %s: total %d, want %d", from, to, iv, total, wantTotal)
		}
	}
}

// TestMetaWithoutRowTimes: the cache keeps metas without their row times
// (decodeMetaTS). An hour-bar histogram reads none for the blocks inside
// one bar; a search reads them for the blocks it returns, and gets every
// row's time, and every time field stored against it, back exactly.
func TestMetaWithoutRowTimes(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	entries := make([]Entry, 5*BlockSize)
	for i := range entries {
		ts := day.Add(time.Duration(i) * 700 * time.Millisecond)
		at := ts.Add(time.Duration(i%7) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		entries[i] = Entry{TS: ts, Raw: fmt.Appendf(nil, `{"seq":%d,"at":%q}`, i, at)}
	}
	s.Append(context.Background(), entries)
	s.Flush()
	stampsCached := func() (n int) {
		s.cache.mu.Lock()
		defer s.cache.mu.Unlock()
		for k := range s.cache.items {
			if k.item == partStamps {
				n++
			}
		}
		return n
	}
	if _, total, err := s.Histogram(context.Background(), all{}, Range{From: day, To: day.Add(24 * time.Hour)}, time.Hour); err != nil || total != len(entries) {
		t.Fatalf("histogram: %d, %v", total, err)
	}
	// 5 blocks of ~23 minutes each over 2 hours: at most the one or two
	// that cross an hour need their row times.
	if n := stampsCached(); n > 2 {
		t.Fatalf("an hour-bar histogram read the row times of %d blocks", n)
	}
	res, err := s.Search(context.Background(), SearchRequest{Match: all{}, Range: Range{From: day, To: day.Add(24 * time.Hour)}, Limit: len(entries)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != len(entries) {
		t.Fatalf("%d hits, want %d", len(res.Hits), len(entries))
	}
	for k, h := range res.Hits {
		e := entries[len(entries)-1-k]
		if !h.TS.Equal(e.TS) || string(h.Raw) != string(e.Raw) {
			t.Fatalf("hit %d: %s %s, want %s %s", k, h.TS, h.Raw, e.TS, e.Raw)
		}
	}
	if n := stampsCached(); n != 5 {
		t.Fatalf("%d blocks' row times cached after reading all 5", n)
	}
}
