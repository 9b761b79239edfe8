package logs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// threeDays makes a store with 2,500 events on each of three days (a block
// and a head each), closes it and returns its directory.
func threeDays(t *testing.T) (string, []time.Time) {
	t.Helper()
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	days := []time.Time{day, day.Add(24 * time.Hour), day.Add(48 * time.Hour)}
	for _, d := range days {
		s.Append(context.Background(), mkEntries(2500, d, time.Millisecond))
	}
	s.Sync()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, days
}

// countDay counts a day's events that a search returns whole (events
// read) and checks that the count (index only) does not claim more.
func countDay(t *testing.T, s *Store, d time.Time) int {
	t.Helper()
	rng := Range{From: d, To: d.Add(24*time.Hour - time.Millisecond)}
	res, err := s.Search(context.Background(), SearchRequest{Match: all{}, Range: rng, Limit: 100000})
	if err != nil {
		t.Fatalf("search %s: %v", dayName(d), err)
	}
	n, err := s.CountMatches(context.Background(), all{}, rng)
	if err != nil || n < len(res.Hits) {
		t.Fatalf("count %s: %d (%v), search found %d", dayName(d), n, err, len(res.Hits))
	}
	return len(res.Hits)
}

// Every kind of file in a day, damaged: the store still opens, serves the
// other days whole, and reports what it could not repair.
func TestDamagedDayDoesNotStopTheStore(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, part string)
		want    int    // events still found in the damaged day
		problem string // "" when obs repairs it silently
	}{
		{"leftover bleve index of the previous format, garbage", func(t *testing.T, part string) {
			os.MkdirAll(filepath.Join(part, "blocks.bleve", "store"), 0o700)
			os.WriteFile(filepath.Join(part, "blocks.bleve", "index_meta.json"), []byte("garbage"), 0o600)
		}, 2500, ""},
		{"bloom filter damaged (only word queries read it)", func(t *testing.T, part string) {
			flipBloom(t, part)
		}, 2500, ""},
		{"torn WAL record", func(t *testing.T, part string) {
			wals, _ := filepath.Glob(filepath.Join(part, "wal-*.log"))
			appendFile(t, wals[0], []byte{0x85, 0x02, 0xff})
		}, 2500, ""},
		{"block events damaged", func(t *testing.T, part string) {
			flip(t, filepath.Join(part, "segment.dat"), blockHeaderSize+100)
		}, 500, "queries skip it"},
		{"block index damaged", func(t *testing.T, part string) {
			f, _ := os.Open(filepath.Join(part, "segment.dat"))
			res, _ := scanSegment(f)
			f.Close()
			m := res.blocks[0]
			flip(t, filepath.Join(part, "segment.dat"), m.Off+int64(m.RawLen)+20)
		}, 500, "queries skip it"},
		{"block header damaged", func(t *testing.T, part string) {
			flip(t, filepath.Join(part, "segment.dat"), 1)
		}, 500, "damaged"},
		{"segment unreadable", func(t *testing.T, part string) {
			seg := filepath.Join(part, "segment.dat")
			os.Remove(seg)
			os.Mkdir(seg, 0o700)
		}, 0, "moved aside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, days := threeDays(t)
			c.damage(t, filepath.Join(dir, dayName(days[1])))
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("store does not open: %v", err)
			}
			defer s.Close()
			for i, d := range days {
				want := 2500
				if i == 1 {
					want = c.want
				}
				if got := countDay(t, s, d); got != want {
					t.Fatalf("%s: %d events, want %d (problems %q)", dayName(d), got, want, s.Problems())
				}
			}
			got := strings.Join(s.Problems(), "\n")
			if c.problem == "" && got != "" || c.problem != "" && !strings.Contains(got, c.problem) {
				t.Fatalf("problems %q, want %q", got, c.problem)
			}
			// The store still takes events for the damaged day.
			s.Append(context.Background(), mkEntries(10, days[1].Add(time.Hour), time.Millisecond))
			s.Sync()
			if got := countDay(t, s, days[1]); got != c.want+10 {
				t.Fatalf("after new events: %d, want %d", got, c.want+10)
			}
		})
	}
}

// flipBloom damages the bloom filter of the first block's first column that has one.
func flipBloom(t *testing.T, part string) {
	t.Helper()
	f, err := os.Open(filepath.Join(part, "segment.dat"))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := scanSegment(f)
	m := res.blocks[0]
	bm, err := readMeta(f, newCodec(1), m)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range bm.cols {
		if c.flags&colBloom != 0 {
			flip(t, filepath.Join(part, "segment.dat"), m.Off+int64(m.RawLen)+int64(c.bloomOff))
			return
		}
	}
	t.Fatal("no bloom filter")
}

// A damaged bloom filter is found by the query that reads it (the block is
// skipped and reported, not answered wrong) and by Verify.
func TestDamagedBloomIsReported(t *testing.T) {
	dir, days := threeDays(t)
	flipBloom(t, filepath.Join(dir, dayName(days[1])))
	s := openT(t, dir, Options{})
	defer s.Close()
	rng := Range{From: days[1], To: days[1].Add(24*time.Hour - time.Millisecond)}
	n, err := s.CountMatches(context.Background(), wordQuery("number"), rng)
	if err != nil || n != 500 {
		t.Fatalf("count %d (%v), want the head's 500", n, err)
	}
	if p := strings.Join(s.Problems(), "\n"); !strings.Contains(p, "bloom filter") {
		t.Fatalf("problems %q", p)
	}
	if rep := s.Verify(context.Background()); rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "bloom filter") {
		t.Fatalf("verify: %v", rep.Problems)
	}
}

// wordQuery matches events whose message holds a word (no KQL here).
type wordQuery string

func (w wordQuery) MatchBlock(b *Block) (Bits, bool) {
	c := b.Field("message")
	if c == nil || !c.MayHaveWord(string(w)) {
		return NewBits(b.N), true
	}
	return c.MatchWords(b.N, func(ws []string) bool { return slices.Contains(ws, string(w)) }), true
}

func (w wordQuery) MatchFields(fs []Field) bool {
	for _, f := range fs {
		if f.Path == "message" && slices.Contains(Tokens(f.Str), string(w)) {
			return true
		}
	}
	return false
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	f.ReadAt(b, at)
	for i := range b {
		b[i] ^= 0x5a
	}
	f.WriteAt(b, at)
}

// A day whose create was cut short leaves a .tmp- directory, never a
// broken day; the next start removes it.
func TestInterruptedCreateLeavesNoDay(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, ".tmp-logs-2026.11.21-123"), 0o700)
	os.WriteFile(filepath.Join(dir, ".tmp-logs-2026.11.21-123", "segment.dat"), nil, 0o600)
	s := openT(t, dir, Options{})
	defer s.Close()
	if p := s.Partitions(); len(p) != 0 {
		t.Fatalf("partitions %v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-logs-2026.11.21-123")); !os.IsNotExist(err) {
		t.Fatal("leftover create not removed")
	}
}

// Days beyond MaxOpenPartitions are closed when cold and reopened on use.
func TestOpenDaysAreBounded(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{MaxOpenPartitions: 4})
	for i := 0; i < 20; i++ {
		s.Append(context.Background(), mkEntries(5, day.Add(time.Duration(i)*24*time.Hour), time.Second))
	}
	s.Flush()
	open := func() int {
		n := 0
		for _, p := range s.partitionList() {
			if p.isOpen.Load() {
				n++
			}
		}
		return n
	}
	if n := open(); n > 4 {
		t.Fatalf("%d days open, bound 4", n)
	}
	if n, _ := s.CountMatches(context.Background(), all{}, Range{}); n != 100 {
		t.Fatalf("%d events across 20 days", n)
	}
	if n := open(); n > 4 {
		t.Fatalf("after a search over every day: %d open", n)
	}
	s.Close()
	s = openT(t, dir, Options{MaxOpenPartitions: 4})
	defer s.Close()
	if n, _ := s.CountMatches(context.Background(), all{}, Range{}); n != 100 {
		t.Fatalf("after reopening: %d events", n)
	}
}

// Row times read apart from a cached meta (decodeMetaTS): when the disk
// under them is damaged after the meta was cached, a search skips the
// block and reports it, as for any unreadable part.
func TestUnreadableRowTimesAreReported(t *testing.T) {
	dir, days := threeDays(t)
	s := openT(t, dir, Options{})
	defer s.Close()
	rng := Range{From: days[1], To: days[1].Add(24*time.Hour - time.Millisecond)}
	// One day-long bar: the sealed block's meta is cached without its row times.
	if _, total, err := s.Histogram(context.Background(), all{}, rng, 24*time.Hour); err != nil || total != 2500 {
		t.Fatalf("histogram %d, %v", total, err)
	}
	part := filepath.Join(dir, dayName(days[1]), "segment.dat")
	f, err := os.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := scanSegment(f)
	f.Close()
	flip(t, part, res.blocks[0].Off) // the meta's zstd frame header
	got, err := s.Search(context.Background(), SearchRequest{Match: all{}, Range: rng, Limit: 5000})
	if err != nil || len(got.Hits) != 500 {
		t.Fatalf("search: %d hits, %v; want the head's 500", len(got.Hits), err)
	}
	if p := strings.Join(s.Problems(), "\n"); !strings.Contains(p, "meta") {
		t.Fatalf("problems %q", p)
	}
}
