package traces

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
)

// crashImage copies a running store's directory: what kill -9 leaves on
// disk (the page cache survives it), without closing the store.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	img := t.TempDir()
	if err := os.CopyFS(img, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return img
}

// walBytes sums the sizes of every span WAL under dir.
func walBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	ms, _ := filepath.Glob(filepath.Join(dir, "v2", "*", "wal-*.log"))
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// The WALs are reused in place (wal.go): after a head is sealed the next
// one overwrites the old records from offset 0. With spans of one size the
// records line up, so after a shorter head the old records past it are
// whole and valid. A crash image taken then must replay each acknowledged
// span exactly once: the old records are skipped by seq, none comes back a
// second time, and writing after the restart resumes past the replayed
// records instead of overwriting them.
func TestWALReusedInPlaceReplaysEachSpanOnce(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxHeadAge: time.Hour})
	defer s.Close()
	ts := time.Now().Truncate(time.Hour).Add(90 * time.Minute) // next hour: reused however long the test runs
	const total = 2*blockSpans + blockSpans/3                  // two full heads, then a third, shorter one in the first WAL again
	batch := func(s *Store, from, n int) {
		spans := make([]Span, 0, n)
		for i := from; i < from+n; i++ {
			// Same-width fields: every record is the same size.
			spans = append(spans, mk(uint64(1_000_000+i), uint64(1_000_000+i), 0, "wal-svc", "op", model.Server, ts, time.Millisecond, nil))
		}
		commit(t, s, spans...)
	}
	for i := 0; i < total; i += 100 {
		batch(s, i, min(100, total-i))
	}
	if walBytes(t, dir) == 0 {
		t.Fatal("no WAL written")
	}
	check := func(s *Store, n int, what string) {
		t.Helper()
		for i := range n {
			rows, err := s.Trace(model.TraceID{Low: uint64(1_000_000 + i)})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("%s: trace %d has %d spans, want 1", what, i, len(rows))
			}
		}
	}
	img := crashImage(t, dir)
	reused := false
	ms, _ := filepath.Glob(filepath.Join(img, "v2", "*", "wal-*.log"))
	for _, m := range ms {
		recs, valid, err := readWAL(m)
		fi, _ := os.Stat(m)
		if err == nil && fi != nil && (valid < fi.Size() || len(recs) > 0 && recs[0].seq > recs[len(recs)-1].seq) {
			reused = true
		}
	}
	if !reused {
		t.Fatal("no WAL was reused in place: the test does not test it")
	}
	r := open(t, img, Options{MaxHeadAge: time.Hour})
	check(r, total, "after a crash")
	// Write on after the replay, crash again: the replayed head and the
	// new spans are both there, once.
	batch(r, total, 50)
	img2 := crashImage(t, img)
	r.Close()
	r2 := open(t, img2, Options{MaxHeadAge: time.Hour})
	defer r2.Close()
	check(r2, total+50, "after a second crash")
}

// A partition no longer written gets its WALs truncated: only the hours
// being written keep a head's worth of old records for reuse.
func TestIdleWALsAreTruncated(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxHeadAge: time.Hour})
	defer s.Close()
	ts := time.Now().Add(time.Hour) // an hour still to come: its WALs are reused until idle
	spans := make([]Span, blockSpans+10)
	for i := range spans {
		spans[i] = mk(uint64(i+1), uint64(i+1), 0, "idle-svc", "op", model.Server, ts, time.Millisecond, nil)
	}
	commit(t, s, spans...)
	s.Flush()
	if walBytes(t, dir) == 0 {
		t.Fatal("no WAL written")
	}
	for _, p := range s.partitionList() {
		p.mu.Lock()
		p.lastWrite = time.Now().Add(-2 * walIdle)
		p.mu.Unlock()
	}
	deadline := time.Now().Add(10 * time.Second)
	for walBytes(t, dir) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle WALs still hold %d bytes", walBytes(t, dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rows, err := s.Trace(model.TraceID{Low: 5}); err != nil || len(rows) != 1 {
		t.Fatalf("span after trimming: %d rows, %v", len(rows), err)
	}
	// A restart over WALs holding only sealed records truncates them too.
	commit(t, s, mk(1<<40, 1, 0, "idle-svc", "op", model.Server, ts, time.Millisecond, nil))
	s.Flush()
	img := crashImage(t, dir)
	r := open(t, img, Options{MaxHeadAge: time.Hour})
	defer r.Close()
	if n := walBytes(t, img); n != 0 {
		t.Fatalf("after reopening, sealed WALs hold %d bytes", n)
	}
}

// The two ways old records can follow a reused WAL's new ones, at the
// partition's replay: lined up with the new records (whole and valid, so
// only their seq, already in a block, keeps them out), or cut by the last
// new record (the first fails its crc and ends the valid prefix).
func TestReplaySkipsOldRecordsPastTheHead(t *testing.T) {
	rows := func(from, to uint64, pad string) []row {
		var out []row
		for seq := from; seq <= to; seq++ {
			sp := mk(seq, seq, 0, "svc", "op"+pad, model.Server, time.Unix(1700000000, 0), time.Millisecond, nil)
			out = append(out, rowOf(sp.Model, sp.JSON, seq))
		}
		return out
	}
	for _, c := range []struct {
		name     string
		newPad   string
		wantRecs int // valid records readWAL finds
	}{
		{"lined up", "", 10},  // 11-13 over 1-3, then 4-10 whole
		{"cut", "-longer", 3}, // 11-13 end inside old record 4
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &partition{dir: t.TempDir(), name: "test", log: slog.New(slog.DiscardHandler)}
			w, err := openWAL(p.walPath(0), 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.append(rows(1, 10, "")); err != nil {
				t.Fatal(err)
			}
			w.reset(true) // records 1-10 are in a block now
			if err := w.append(rows(11, 13, c.newPad)); err != nil {
				t.Fatal(err)
			}
			end := w.off
			w.close()
			recs, valid, err := readWAL(p.walPath(0))
			if err != nil || len(recs) != c.wantRecs {
				t.Fatalf("readWAL: %d records, %v; want %d", len(recs), err, c.wantRecs)
			}
			p.maxSeq = 10
			if err := p.replayWAL(); err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, r := range p.head {
				got = append(got, r.Seq)
			}
			if !slices.Equal(got, []uint64{11, 12, 13}) {
				t.Fatalf("replayed seqs %v, want [11 12 13]", got)
			}
			if c.wantRecs == 3 && (valid != end || p.walEnd[0] != end) {
				t.Fatalf("valid prefix %d, resume at %d; want %d", valid, p.walEnd[0], end)
			}
		})
	}
}
