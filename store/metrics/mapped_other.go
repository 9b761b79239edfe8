//go:build !linux

package metrics

// dropMapped is Linux-only (it reads /proc/self/maps); elsewhere the
// TSDB's mapped pages stay until the kernel reclaims them.
func dropMapped([]string) (int64, error) { return 0, nil }
