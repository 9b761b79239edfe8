package logs_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/logs/logstest"
)

// testdata/v0-store was written by obs 76a892d, before the store carried a
// FORMAT file (a block and a head left in its WAL, as a crash leaves them).
// This obs opens it, finds every event and marks the directory with its own version.
func TestOpensPreviousFormat(t *testing.T) {
	dir := t.TempDir()
	if err := logstest.CopyDir("testdata/v0-store", dir); err != nil {
		t.Fatal(err)
	}
	st, err := logs.Open(dir, logs.Options{})
	if err != nil {
		t.Fatalf("open the previous format: %v", err)
	}
	defer st.Close()
	rng := logs.Range{From: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	n, err := st.CountMatches(context.Background(), kql.MustCompile("app:fixture"), rng)
	if err != nil || n != 2300 {
		t.Fatalf("%d events (%v), want 2300", n, err)
	}
	res, err := st.Search(context.Background(), logs.SearchRequest{Match: kql.MustCompile("seq:2299"), Range: rng, Limit: 1})
	if err != nil || len(res.Hits) != 1 || !strings.Contains(string(res.Hits[0].Raw), `"seq":2299`) {
		t.Fatalf("newest event: %v %v", res.Hits, err)
	}
	if rep := st.Verify(context.Background()); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "FORMAT")); err != nil || strings.TrimSpace(string(b)) != currentFormat {
		t.Fatalf("FORMAT %q %v", b, err)
	}
}

// currentFormat is what this obs writes in FORMAT.
const currentFormat = "obs-logs 2"

// A directory written by a newer obs is refused, not misread.
func TestRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("obs-logs 3\n"), 0o600)
	if _, err := logs.Open(dir, logs.Options{}); err == nil || !strings.Contains(err.Error(), "newer obs") {
		t.Fatalf("open: %v", err)
	}
}

// testdata/v1-store was written by obs 2cf89ba (format "obs-logs 1": row
// blocks with a columnar index, bleve block documents) by TestWriteFixture:
// random events in sealed blocks on six days and in heads left in their
// WALs, as a kill leaves them. This obs finds every event byte for byte,
// answers every query right, and keeps doing so once it has added blocks of
// its own to the same days and restarted.
func TestOpensV1Format(t *testing.T) {
	dir := t.TempDir()
	if err := logstest.CopyDir("testdata/v1-store", dir); err != nil {
		t.Fatal(err)
	}
	set := readFixtureEvents(t, "testdata/v1-store.events.json.gz")
	st, err := logs.Open(dir, logs.Options{})
	if err != nil {
		t.Fatalf("open the previous format: %v", err)
	}
	check(t, st, set, "fixture", fixtureNow, "v1 store")
	if rep := st.Verify(context.Background()); !rep.OK() || rep.Events+rep.HeadEvents != len(set) {
		t.Fatalf("verify: %+v", rep)
	}
	more := logstest.Gen(rand.New(rand.NewPCG(3, 4)), "fixture", 3000, logstest.Options{Now: fixtureNow})
	for i := range more {
		more[i].ID = "fixture-new-" + strings.TrimPrefix(more[i].ID, "fixture-")
		more[i].Raw = bytes.Replace(more[i].Raw, []byte(`"fixture-`), []byte(`"fixture-new-`), 1)
	}
	feed(t, rand.New(rand.NewPCG(5, 6)), st, more)
	st.Flush()
	set = append(set, more...)
	check(t, st, set, "fixture", fixtureNow, "v1 store with new blocks")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = logs.Open(dir, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check(t, st, set, "fixture", fixtureNow, "v1 store with new blocks, restarted")
	if rep := st.Verify(context.Background()); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "FORMAT")); err != nil || strings.TrimSpace(string(b)) != currentFormat {
		t.Fatalf("FORMAT %q %v", b, err)
	}
}
