package metrics

import (
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/tsdb"
)

// Block is one TSDB block as the disk budget sees it.
type Block struct {
	Name   string // ULID
	Newest time.Time
	Bytes  int64
}

// Blocks lists the persisted blocks, oldest first. The head (the last two
// hours or so, and its WAL) is not a block: it is never removed.
func (s *Store) Blocks() []Block {
	var out []Block
	for _, b := range s.db.Blocks() {
		m := b.Meta()
		out = append(out, Block{Name: m.ULID.String(), Newest: time.UnixMilli(m.MaxTime - 1).UTC(), Bytes: b.Size()})
	}
	return out
}

// RemoveBefore has the TSDB delete every block wholly older than t at its
// next block reload (within a minute), as its own size retention does;
// it returns the blocks it will delete.
func (s *Store) RemoveBefore(t time.Time) []string {
	ms := t.UnixMilli()
	for {
		cur := s.cutoff.Load()
		if ms <= cur || s.cutoff.CompareAndSwap(cur, ms) {
			break
		}
	}
	var out []string
	for _, b := range s.Blocks() {
		if b.Newest.Before(t) {
			out = append(out, b.Name)
		}
	}
	return out
}

// blocksToDelete is the TSDB's own retention plus the disk budget's cut.
func (s *Store) blocksToDelete(blocks []*tsdb.Block) map[ulid.ULID]struct{} {
	del := map[ulid.ULID]struct{}{}
	if db := s.opened.Load(); db != nil {
		del = tsdb.DefaultBlocksToDelete(db)(blocks)
	} else {
		// Called from inside tsdb.Open, before the DB is ours: only what
		// compaction already replaced; retention applies at the next reload.
		for _, b := range blocks {
			if b.Meta().Compaction.Deletable {
				del[b.Meta().ULID] = struct{}{}
			}
		}
	}
	if cut := s.cutoff.Load(); cut > 0 {
		for _, b := range blocks {
			if b.Meta().MaxTime <= cut {
				del[b.Meta().ULID] = struct{}{}
			}
		}
	}
	return del
}

// DiskBytes is everything under the TSDB's directory (blocks, WAL, chunks).
func (s *Store) DiskBytes() int64 {
	var n int64
	filepath.Walk(s.dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
