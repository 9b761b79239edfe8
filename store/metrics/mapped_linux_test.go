package metrics

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// mappedRss is how much of obs's mappings of files under dir is resident
// (the kernel's own count, /proc/self/smaps).
func mappedRss(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if _, _, ok := mappingRange(line); ok { // a mapping's header; its fields follow
			i := strings.IndexByte(line, '/')
			in = i >= 0 && strings.HasPrefix(line[i:], dir)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			kb += v
		}
	}
	return kb << 10
}

// 20,000 series, 170 samples each 10 s apart (a StatsD flush's spacing):
// two or three full chunks per series go to disk, more than the 4 MiB the
// chunk writer buffers before its file sees them, and the 28 minutes stay
// under the 30 the head holds before it cuts a block (metrics.go: a
// block cut moves the chunks out of chunks_head).
const mappedSeries, mappedPoints = 20000, 170

// mappedMatcher matches every series mappedStore writes.
var mappedMatcher = labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "stats[.]timers[.]app[.].*")

// drain reads every sample of mappedStore's series through q: how many
// series and samples, and the samples' sum.
func drain(ctx context.Context, q storage.Querier) (series, samples int, sum float64) {
	set := q.Select(ctx, false, nil, mappedMatcher)
	var it chunkenc.Iterator
	for set.Next() {
		series++
		it = set.At().Iterator(it)
		for it.Next() != chunkenc.ValNone {
			_, v := it.At()
			samples++
			sum += v
		}
	}
	return series, samples, sum
}

// rawRead reads [start, end] through the TSDB's own querier, which does
// not hand back what it mapped, and returns the samples and their sum.
func rawRead(t *testing.T, s *Store, start, end int64) (n int, sum float64) {
	t.Helper()
	q, err := s.db.Querier(start, end)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	_, n, sum = drain(context.Background(), q)
	return n, sum
}

// writeTimers writes points samples 10 s apart, ending now, for each of
// series timer paths, and returns the first sample's time.
func writeTimers(t *testing.T, s *Store, series, points int) int64 {
	t.Helper()
	start := time.Now().Add(-time.Duration(points) * 10 * time.Second).UnixMilli()
	for p := range points {
		batch := make([]Sample, series)
		for i := range batch {
			batch[i] = Sample{Name: fmt.Sprintf("stats.timers.app.m%d.upper_90", i), TS: start + int64(p)*10_000, Value: float64((i*7919 + p*104729) % 1000)}
		}
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	return start
}

// mappedStore is a store whose head has full chunks in chunks_head, and
// the time range they cover.
func mappedStore(t *testing.T, dir string) (s *Store, start, end int64) {
	t.Helper()
	s, err := Open(dir, Options{every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	start = writeTimers(t, s, mappedSeries, mappedPoints)
	deadline := time.Now().Add(60 * time.Second)
	for {
		fi, err := os.Stat(filepath.Join(dir, "chunks_head", "000001"))
		if err == nil && fi.Size() > 1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the TSDB wrote no full chunks to chunks_head in 60 s (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s, start, start + mappedPoints*10_000
}

// TestDropMappedKeepsData: reading full head chunks maps pages of
// chunks_head/ into the process; DropMapped hands them back, and the same
// read then gets the same samples again (from the page cache).
func TestDropMappedKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, start, end := mappedStore(t, dir)
	// The raw TSDB querier: Store's own reads hand the pages back by
	// themselves (TestQueriesHandBackWhatTheyMapped).
	read := func() (int, float64) { return rawRead(t, s, start, end) }
	n1, sum1 := read()
	if n1 != mappedSeries*mappedPoints {
		t.Fatalf("read %d samples, want %d", n1, mappedSeries*mappedPoints)
	}
	before := mappedRss(t, s.chunksDir)
	if before < 64<<10 {
		t.Fatalf("a query over the full chunks left only %d bytes of chunks_head resident: the test does not reach the mapped path", before)
	}
	covered, err := s.DropMapped()
	if err != nil {
		t.Fatal(err)
	}
	after := mappedRss(t, s.chunksDir)
	t.Logf("chunks_head resident: %d KB before, %d KB after; mappings covered %d MB", before>>10, after>>10, covered>>20)
	if covered < before || after > before/10 {
		t.Fatalf("DropMapped covered %d bytes; resident %d -> %d bytes", covered, before, after)
	}
	if n2, sum2 := read(); n2 != n1 || sum2 != sum1 {
		t.Fatalf("after dropping the mapped pages: %d samples summing %v, before %d summing %v", n2, sum2, n1, sum1)
	}
}

// TestQueriesHandBackWhatTheyMapped: a Graphite-style read and a PromQL
// querier each leave chunks_head mapped only while they run; once closed,
// the store hands the pages back by itself.
func TestQueriesHandBackWhatTheyMapped(t *testing.T) {
	dir := t.TempDir()
	s, start, end := mappedStore(t, dir)
	ctx := context.Background()
	reads := map[string]func() int{
		"Select": func() int {
			out, err := s.Select(ctx, start, end, mappedMatcher)
			if err != nil {
				t.Fatal(err)
			}
			return len(out)
		},
		"PromQL querier": func() int {
			q, err := s.Queryable().Querier(start, end)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			n, _, _ := drain(ctx, q)
			return n
		},
	}
	for name, read := range reads {
		if n := read(); n != mappedSeries {
			t.Fatalf("%s: %d series, want %d", name, n, mappedSeries)
		}
		deadline := time.Now().Add(2 * time.Second)
		for mappedRss(t, s.chunksDir) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: chunks_head still has %d bytes resident 2 s after the query closed", name, mappedRss(t, s.chunksDir))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestDropMappedKeepsBlockData: a query over blocks maps pages of their
// chunk and index files into the process; DropMapped unmaps them,
// and the same read then gets the same samples again (from the page
// cache).
func TestDropMappedKeepsBlockData(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// 50 minutes of samples: past the 30 the head holds, so a 20-minute
	// block is cut out of it.
	const series, points = 5000, 300
	start := writeTimers(t, s, series, points)
	deadline := time.Now().Add(30 * time.Second)
	for len(s.Blocks()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no block was cut out of a 50-minute head in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	blocksRss := func() int64 {
		var n int64
		for _, b := range s.Blocks() {
			n += mappedRss(t, s.mapsDir+b.Name+string(filepath.Separator))
		}
		return n
	}
	read := func() (int, float64) { return rawRead(t, s, start, start+points*10_000) }
	n1, sum1 := read()
	if n1 != series*points {
		t.Fatalf("read %d samples, want %d", n1, series*points)
	}
	before := blocksRss()
	if before < 64<<10 {
		t.Fatalf("a query over the blocks left only %d bytes of them resident: the test does not reach the mapped path", before)
	}
	covered, err := s.DropMapped()
	if err != nil {
		t.Fatal(err)
	}
	after := blocksRss()
	t.Logf("block files resident: %d KB before, %d KB after; mappings covered %d KB", before>>10, after>>10, covered>>10)
	if covered < before || after > before/10 {
		t.Fatalf("DropMapped covered %d bytes; resident %d -> %d bytes", covered, before, after)
	}
	if n2, sum2 := read(); n2 != n1 || sum2 != sum1 {
		t.Fatalf("after dropping the pages: %d samples summing %v, before %d summing %v", n2, sum2, n1, sum1)
	}
	// A query served by the store hands back the block pages it mapped by
	// itself, as it does for chunks_head.
	out, err := s.Select(context.Background(), start, start+points*10_000, mappedMatcher)
	if err != nil || len(out) != series {
		t.Fatalf("Select: %d series, %v; want %d", len(out), err, series)
	}
	deadline = time.Now().Add(2 * time.Second)
	for blocksRss() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("block files still have %d bytes resident 2 s after a query closed", blocksRss())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
