package logs_test

import (
	"compress/gzip"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/logs/logstest"
)

// fixtureNow anchors the events of the format fixtures.
var fixtureNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fixtureEvent is one event of a fixture's events file.
type fixtureEvent struct {
	ID  string `json:"id"`
	TS  int64  `json:"ts"` // unix ms
	Raw []byte `json:"raw"`
}

// TestWriteFixture writes a store in the current on-disk format, for the
// day the format changes: OBS_WRITE_FIXTURE=dir go test -run TestWriteFixture.
// The store holds random events (unicode, escapes, nesting, arrays,
// duplicates, several days) in sealed blocks and in heads left in their
// WALs, as a kill leaves them; dir.events.json.gz holds the events sent.
func TestWriteFixture(t *testing.T) {
	dir := os.Getenv("OBS_WRITE_FIXTURE")
	if dir == "" {
		t.Skip("OBS_WRITE_FIXTURE not set")
	}
	r := rand.New(rand.NewPCG(16, 1))
	set := logstest.Gen(r, "fixture", 2600, logstest.Options{Now: fixtureNow})
	work := t.TempDir()
	st, err := logs.Open(work, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := len(set) * 9 / 10
	feed(t, r, st, set[:first])
	st.Flush() // every day gets a block
	feed(t, r, st, set[first:])
	st.Sync() // the rest stays in heads
	if err := logstest.CopyDir(work, dir); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var evs []fixtureEvent
	for _, e := range set {
		evs = append(evs, fixtureEvent{e.ID, e.TS.UnixMilli(), e.Raw})
	}
	f, err := os.Create(filepath.Clean(dir) + ".events.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err := json.NewEncoder(zw).Encode(evs); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
}

// readFixtureEvents reads the events a fixture store was given.
func readFixtureEvents(t *testing.T, path string) []logstest.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var evs []fixtureEvent
	if err := json.NewDecoder(zr).Decode(&evs); err != nil {
		t.Fatal(err)
	}
	out := make([]logstest.Event, len(evs))
	for i, e := range evs {
		out[i] = logstest.Event{ID: e.ID, TS: time.UnixMilli(e.TS).UTC(), Raw: e.Raw}
	}
	return out
}
