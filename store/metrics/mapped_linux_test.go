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
		if _, _, ok := mappingRange(line); ok && strings.Contains(line, " ") && !strings.HasSuffix(line, ":") {
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

// TestDropMappedKeepsData: a query over full head chunks maps pages of
// chunks_head/ into the process; DropMapped hands them back, and the same
// query then reads the same samples again (from the page cache).
func TestDropMappedKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// 12,000 series, 400 samples each 10 s apart (a StatsD flush's
	// spacing): three full 120-sample chunks per series go to disk, more
	// than the 4 MiB the chunk writer buffers before its file sees them.
	const series, points = 12000, 400
	start := time.Now().Add(-points * 10 * time.Second).UnixMilli()
	for p := range points {
		batch := make([]Sample, series)
		for i := range batch {
			batch[i] = Sample{Name: fmt.Sprintf("stats.timers.app.m%d.upper_90", i), TS: start + int64(p)*10_000, Value: float64((i*7919 + p*104729) % 1000)}
		}
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	chunks := s.chunksDir
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
	read := func() (n int, sum float64) {
		m := labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "stats[.]timers[.]app[.].*")
		out, err := s.Select(ctx, start, start+points*10_000, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, ser := range out {
			for _, v := range ser.Values {
				n++
				sum += v
			}
		}
		return n, sum
	}
	n1, sum1 := read()
	if n1 != series*points {
		t.Fatalf("read %d samples, want %d", n1, series*points)
	}
	before := mappedRss(t, chunks)
	if before < 64<<10 {
		t.Fatalf("a query over the full chunks left only %d bytes of chunks_head resident: the test does not reach the mapped path", before)
	}
	covered, err := s.DropMapped()
	if err != nil {
		t.Fatal(err)
	}
	after := mappedRss(t, chunks)
	t.Logf("chunks_head resident: %d KB before, %d KB after; mappings covered %d MB", before>>10, after>>10, covered>>20)
	if covered < before || after > before/10 {
		t.Fatalf("DropMapped covered %d bytes; resident %d -> %d bytes", covered, before, after)
	}
	if n2, sum2 := read(); n2 != n1 || sum2 != sum1 {
		t.Fatalf("after dropping the mapped pages: %d samples summing %v, before %d summing %v", n2, sum2, n1, sum1)
	}
}
