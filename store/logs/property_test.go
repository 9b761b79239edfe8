package logs_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/logs/logstest"
)

// TestPropertyEventsComeBackAsStored feeds random events (sizes up to 64 KiB,
// unicode and escapes, nested fields, timestamps in order, out of order and
// days in the past, duplicates) through every way into the store, from
// several goroutines at once, and checks every query's answer against an
// independent evaluation: every event is found, every hit is byte for byte
// the event stored under its id, and every hit satisfies its query. It
// checks with heads and sealed blocks, after a restart and after a
// simulated crash (the files copied without Close).
func TestPropertyEventsComeBackAsStored(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 42))
	now := time.Now().UTC()
	const run = "prop"
	n := 3000
	if testing.Short() {
		n = 300
	}
	set := logstest.Gen(r, run, n, logstest.Options{MaxSize: 64 << 10, Now: now})
	dir := t.TempDir()
	// A small byte bound so that Append waits and Commit refuses at times.
	st, err := logs.Open(dir, logs.Options{QueueBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, st, set[:len(set)/2])
	st.Flush() // the first half sealed into blocks
	feed(t, r, st, set[len(set)/2:])
	st.Sync() // the rest partly in heads
	check(t, st, set, run, now, "heads and blocks")

	crash := t.TempDir()
	if err := logstest.CopyDir(dir, crash); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = logs.Open(dir, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, st, set, run, now, "after restart")
	st.Close()

	st, err = logs.Open(crash, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check(t, st, set, run, now, "after a crash")
}

// feed sends the events in random batches through Append, TryAppend and
// Commit from four goroutines. The store owns what it is given, so each
// batch gets fresh copies, as an intake makes them.
func feed(t *testing.T, r *rand.Rand, st *logs.Store, set []logstest.Event) {
	var batches [][]logs.Entry
	for len(set) > 0 {
		k := min(len(set), 1+r.IntN(300))
		var b []logs.Entry
		for _, e := range set[:k] {
			b = append(b, logs.Entry{TS: e.TS, Raw: bytes.Clone(e.Raw)})
		}
		batches = append(batches, b)
		set = set[k:]
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(batches))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			for i := w; i < len(batches); i += 4 {
				b := batches[i]
				switch i % 3 {
				case 0:
					if err := st.Append(ctx, b); err != nil {
						errs <- err
					}
				case 1:
					for !st.TryAppend(b) {
						time.Sleep(time.Millisecond) // a test must not lose what it counts
					}
				case 2:
					for {
						err := st.Commit(ctx, b)
						if err == logs.ErrQueueFull {
							time.Sleep(time.Millisecond)
							continue
						}
						if err != nil {
							errs <- err
						}
						break
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func check(t *testing.T, st *logs.Store, set []logstest.Event, run string, now time.Time, when string) {
	t.Helper()
	if err := logstest.Verify(set, run, logstest.StoreAnswers(st, compile(now), now)); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

func compile(now time.Time) func(string) (logs.Matcher, error) {
	return func(q string) (logs.Matcher, error) { return kql.Compile(q, now) }
}

// TestVerifyFindsNothingOnAHealthyStore and reports a damaged block.
func TestVerify(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	n := 5000
	if testing.Short() {
		n = 2500
	}
	set := logstest.Gen(r, "v", n, logstest.Options{MaxSize: 4 << 10, Now: now})
	dir := t.TempDir()
	st, err := logs.Open(dir, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, st, set)
	st.Sync()
	rep := st.Verify(context.Background())
	if !rep.OK() || rep.Events+rep.HeadEvents != len(set) || rep.Blocks == 0 {
		t.Fatalf("healthy store: %+v", rep)
	}
	st.Close()
}
