package queue

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func open(t *testing.T, dir string, o Options) *Queue {
	t.Helper()
	q, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func peek(t *testing.T, q *Queue) (Record, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r, err := q.Peek(ctx)
	if err != nil {
		return r, false
	}
	return r, true
}

// drain reads and acknowledges everything, returning the payloads.
func drain(t *testing.T, q *Queue) []string {
	var out []string
	for {
		r, ok := peek(t, q)
		if !ok {
			return out
		}
		out = append(out, string(r.Data))
		q.Ack(r)
	}
}

func TestFIFOAcrossSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4 << 10})
	var want []string
	for i := range 300 {
		p := fmt.Sprintf("batch-%03d-%s", i, bytes.Repeat([]byte("x"), 50))
		want = append(want, p)
		if err := q.Append(2, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if st := q.Stats(); st.PendingItems != 600 {
		t.Fatalf("pending %d, want 600", st.PendingItems)
	}
	// Read a third, then restart: the rest comes back, in order, once.
	var got []string
	for range 100 {
		r, _ := peek(t, q)
		got = append(got, string(r.Data))
		q.Ack(r)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4 << 10})
	defer q.Close()
	if st := q.Stats(); st.PendingItems != 400 {
		t.Fatalf("after restart pending %d, want 400", st.PendingItems)
	}
	got = append(got, drain(t, q)...)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
	segs, _ := listSegments(dir)
	if len(segs) != 1 {
		t.Errorf("%d segments left after draining, want 1 (the one being written)", len(segs))
	}
	if st := q.Stats(); st.PendingItems != 0 || st.DroppedFull != 0 {
		t.Errorf("stats after drain: %+v", st)
	}
}

func TestBoundDropsOldestCounted(t *testing.T) {
	q := open(t, t.TempDir(), Options{MaxBytes: 64 << 10, SegmentBytes: 8 << 10})
	defer q.Close()
	payload := bytes.Repeat([]byte("y"), 1000)
	for range 500 {
		if err := q.Append(10, payload); err != nil {
			t.Fatal(err)
		}
	}
	st := q.Stats()
	if st.Bytes > 64<<10 {
		t.Errorf("queue holds %d bytes, bound 64 KiB", st.Bytes)
	}
	if st.DroppedFull == 0 || st.DroppedFull+st.PendingItems != 5000 {
		t.Errorf("dropped %d + pending %d != 5000 appended", st.DroppedFull, st.PendingItems)
	}
	n := len(drain(t, q))
	if int64(n*10) != st.PendingItems {
		t.Errorf("drained %d records, pending said %d items", n, st.PendingItems)
	}
}

func TestDropWhileReading(t *testing.T) {
	q := open(t, t.TempDir(), Options{MaxBytes: 32 << 10, SegmentBytes: 4 << 10})
	defer q.Close()
	payload := bytes.Repeat([]byte("z"), 500)
	q.Append(1, payload)
	r, _ := peek(t, q)
	for range 200 {
		q.Append(1, payload)
	}
	q.Ack(r) // its segment is gone: a no-op, nothing counted twice
	st := q.Stats()
	if st.DroppedFull+st.PendingItems != 201 {
		t.Errorf("dropped %d + pending %d != 201", st.DroppedFull, st.PendingItems)
	}
	if n := len(drain(t, q)); int64(n) != st.PendingItems {
		t.Errorf("drained %d, pending %d", n, st.PendingItems)
	}
}

func TestTornTailCutOnOpen(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	q.Append(1, []byte("one"))
	q.Append(1, []byte("two"))
	q.Close()
	segs, _ := listSegments(dir)
	p := filepath.Join(dir, fmt.Sprintf("%016x.seg", segs[len(segs)-1]))
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(encodeRecord(1, []byte("three"))[:9]) // a crash mid-append
	f.Close()
	q = open(t, dir, Options{})
	defer q.Close()
	q.Append(1, []byte("four"))
	got := drain(t, q)
	if fmt.Sprint(got) != "[one two four]" {
		t.Errorf("got %v", got)
	}
}

func TestDamagedRecordSkippedCounted(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 4 << 10})
	for i := range 20 {
		q.Append(3, bytes.Repeat([]byte{byte('a' + i)}, 400))
	}
	q.Close()
	segs, _ := listSegments(dir)
	// Flip a byte in the middle of the first segment's second record.
	p := filepath.Join(dir, fmt.Sprintf("%016x.seg", segs[0]))
	b, _ := os.ReadFile(p)
	b[headerSize+recHeader+400+recHeader+10] ^= 0xff
	os.WriteFile(p, b, 0o600)
	q = open(t, dir, Options{SegmentBytes: 4 << 10})
	defer q.Close()
	got := drain(t, q)
	st := q.Stats()
	if st.DroppedCorrupt == 0 {
		t.Errorf("damage not counted: %+v", st)
	}
	if len(got) == 0 || got[0][0] != 'a' || len(got) >= 20 {
		t.Errorf("got %d records", len(got))
	}
	if st.PendingItems != 0 {
		t.Errorf("pending %d after drain", st.PendingItems)
	}
}

func TestPeekWaitsForAppend(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer q.Close()
	go func() { time.Sleep(20 * time.Millisecond); q.Append(1, []byte("late")) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := q.Peek(ctx)
	if err != nil || string(r.Data) != "late" {
		t.Fatalf("Peek = %q, %v", r.Data, err)
	}
}

func TestTooBig(t *testing.T) {
	q := open(t, t.TempDir(), Options{MaxBytes: 16 << 10})
	defer q.Close()
	if err := q.Append(1, make([]byte, 10<<10)); err == nil {
		t.Error("a record over half the bound was taken")
	}
}

// FuzzReadRecord feeds the segment reader arbitrary bytes: it never panics,
// never allocates past the limit, and a record it accepts round-trips.
func FuzzReadRecord(f *testing.F) {
	f.Add(encodeRecord(3, []byte("hello")))
	f.Add(append(encodeRecord(1, []byte("a")), encodeRecord(2, nil)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		left := int64(len(b))
		for {
			count, data, n, err := ReadRecord(r, left)
			if err != nil {
				return
			}
			if int64(n) > left || n != recHeader+len(data) {
				t.Fatalf("read %d bytes of %d", n, left)
			}
			if !bytes.Equal(encodeRecord(int(count), data), b[int64(len(b))-left:int64(len(b))-left+int64(n)]) {
				t.Fatal("accepted record does not re-encode to its bytes")
			}
			left -= int64(n)
		}
	})
}

// PeekBatch takes what follows the oldest record within its bounds and
// one segment; acknowledging them in order leaves nothing, once each,
// across segments.
func TestPeekBatch(t *testing.T) {
	q := open(t, t.TempDir(), Options{MaxBytes: 1 << 20, SegmentBytes: 4 << 10})
	var want []string
	for i := range 200 {
		p := fmt.Sprintf("rec-%03d-%s", i, bytes.Repeat([]byte("y"), 40))
		want = append(want, p)
		if err := q.Append(3, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	batches := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		recs, err := q.PeekBatch(ctx, 30, 1<<20)
		cancel()
		if err != nil {
			break
		}
		batches++
		items := 0
		for _, r := range recs {
			items += r.Count
			got = append(got, string(r.Data))
		}
		if items > 30 || len(recs) == 0 {
			t.Fatalf("batch of %d records, %d items: want 1..10 records within 30 items", len(recs), items)
		}
		for _, r := range recs {
			q.Ack(r)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d records, want the %d appended in order", len(got), len(want))
	}
	if batches >= 100 {
		t.Fatalf("%d batches for 200 records: records were not batched", batches)
	}
	if st := q.Stats(); st.PendingItems != 0 {
		t.Fatalf("pending %d after acknowledging all", st.PendingItems)
	}
}
