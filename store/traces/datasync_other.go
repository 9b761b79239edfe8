//go:build !linux

package traces

import "os"

// datasync falls back to fsync where fdatasync is not at hand.
func datasync(f *os.File) error { return f.Sync() }
