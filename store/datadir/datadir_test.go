package datadir

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondLockFailsAtOnceNamingThePid(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v, want 0700", st.Mode().Perm())
	}
	_, err = Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), "in use by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestDefaultMaxDisk(t *testing.T) {
	total, _, err := FSSize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := DefaultMaxDisk(t.TempDir()); got != min(20<<30, total/5) {
		t.Fatalf("default %d for a %d-byte filesystem", got, total)
	}
}
