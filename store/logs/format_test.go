package logs_test

import (
	"context"
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
// This obs opens it, finds every event and marks the directory version 1.
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
	if b, err := os.ReadFile(filepath.Join(dir, "FORMAT")); err != nil || strings.TrimSpace(string(b)) != "obs-logs 1" {
		t.Fatalf("FORMAT %q %v", b, err)
	}
}

// A directory written by a newer obs is refused, not misread.
func TestRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("obs-logs 2\n"), 0o600)
	if _, err := logs.Open(dir, logs.Options{}); err == nil || !strings.Contains(err.Error(), "newer obs") {
		t.Fatalf("open: %v", err)
	}
}
