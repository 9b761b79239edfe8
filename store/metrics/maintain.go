package metrics

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// How often the store compacts the TSDB's head (Prometheus's own loop
// checks once a minute), and hands back the pages of the head's chunk
// files and of the blocks' files that were mapped in (after every query
// too, see queried).
const (
	compactEvery = time.Minute
	dropEvery    = 30 * time.Second
)

// maintain runs what Prometheus's background loop would otherwise run on
// its own: head compaction. obs runs it so that compaction, the only time
// the TSDB unmaps its head chunk files (besides Close), never overlaps
// dropMapped: see mapped_linux.go for why that matters.
func (s *Store) maintain(ctx context.Context, every time.Duration) {
	defer close(s.done)
	compact := time.NewTicker(every)
	defer compact.Stop()
	drop := time.NewTicker(dropEvery)
	defer drop.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-compact.C:
			s.maint.Lock()
			err := s.db.Compact(ctx)
			s.maint.Unlock()
			if err != nil && ctx.Err() == nil {
				s.log.Warn("metrics compaction failed; retrying in a minute", "err", err)
			}
			continue
		case <-drop.C:
		case <-s.dropReq:
		}
		if ctx.Err() == nil {
			if _, err := s.DropMapped(); err != nil {
				s.log.Debug("metrics: hand back mapped chunk pages", "err", err)
			}
		}
	}
}

// queried asks for the chunk pages a query mapped in to be handed back
// now: a query over the last hour maps nearly all of chunks_head and of
// the newest blocks, and with a query every few seconds (a dashboard, a
// metric check) a periodic drop alone would find them mapped again each
// time. Dropping after each query leaves mapped only what queries in
// flight read, as if the TSDB read its chunks with pread(2). The drop runs
// on maintain's goroutine, never in the query's path; requests made while
// one runs collapse into one more.
func (s *Store) queried() {
	select {
	case s.dropReq <- struct{}{}:
	default:
	}
}

// DropMapped hands back the pages of the TSDB's head chunk files and
// block files that are mapped into obs (see mapped_linux.go), in one pass
// over the process's mappings, and returns how many bytes of mappings it
// covered. It holds a reader on every block it covers while it runs, so
// the TSDB cannot close (and unmap) one under it; a block already closing
// is left out, its pages go with its mapping.
func (s *Store) DropMapped() (int64, error) {
	s.maint.Lock()
	defer s.maint.Unlock()
	if s.closed {
		return 0, nil
	}
	dirs := []string{s.chunksDir}
	for _, b := range s.db.Blocks() {
		r, err := b.Index() // pins the block: Close waits for its readers
		if err != nil {
			continue // closing
		}
		defer r.Close()
		dirs = append(dirs, s.mapsDir+filepath.Base(b.Dir())+string(filepath.Separator))
	}
	n, err := dropMapped(dirs)
	if err != nil {
		return n, fmt.Errorf("drop mapped pages under %s: %w", s.mapsDir, err)
	}
	return n, nil
}

// mapsDir is the TSDB's directory as the kernel names it in
// /proc/self/maps (absolute, links resolved), with a trailing separator.
func mapsDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return filepath.Clean(abs) + string(filepath.Separator)
}

// headChunksDir is where the TSDB keeps its head chunk files, named as in
// /proc/self/maps.
func headChunksDir(mapsDir string) string {
	return mapsDir + "chunks_head" + string(filepath.Separator)
}
