// Package datadir owns obs's data directory as a whole: one process at a
// time (a lock file with the owner's pid), private permissions, and the
// filesystem figures the disk budget starts from.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Lock is held for as long as one obs serve uses the directory.
type Lock struct {
	f *os.File
}

// Acquire creates dir (0700: it holds phone numbers, alert history and
// everything apps log) and takes its lock without waiting: a second obs on
// the same directory fails at once, naming the pid that holds it, instead
// of hanging on a store's own file lock.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	// A directory made by an older obs (0755) is closed too: with it
	// private, nothing under it is readable by other users.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make data directory %s private: %w", dir, err)
	}
	path := filepath.Join(dir, "obs.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			if _, perr := strconv.Atoi(pid); perr != nil {
				pid = "unknown"
			}
			abs, _ := filepath.Abs(dir)
			return nil, fmt.Errorf("data directory %s is in use by pid %s (another obs serve): stop it or use --data", abs, pid)
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the directory up (the kernel also does at exit, even kill -9).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

// FSSize is the size of the filesystem holding dir, and what is free on it.
func FSSize(dir string) (total, free int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize), nil
}

// DefaultMaxDisk is the disk budget when none is configured: the smaller
// of 20 GiB and 20% of the filesystem, so that obs never takes over a
// laptop's disk.
func DefaultMaxDisk(dir string) int64 {
	const cap = 20 << 30
	total, _, err := FSSize(dir)
	if err != nil || total <= 0 {
		return cap
	}
	return min(cap, total/5)
}
