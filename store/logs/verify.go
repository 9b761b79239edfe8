package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Partitions int      `json:"partitions"`
	Blocks     int      `json:"blocks"`
	Events     int      `json:"events"`
	HeadEvents int      `json:"head_events"`
	Problems   []string `json:"problems"`
}

// OK says whether nothing was wrong.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify checks the store against itself: every block's header, events,
// columnar index and block-index document agree, and every head matches
// its write-ahead log. It reads everything (slow on a big store), changes
// nothing, and reports problems instead of failing on the first.
func (s *Store) Verify(ctx context.Context) VerifyReport {
	var rep VerifyReport
	for _, p := range s.partitionList() {
		if err := ctx.Err(); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("stopped: %v", err))
			return rep
		}
		rep.Partitions++
		s.verifyDay(ctx, p, &rep)
	}
	return rep
}

func (s *Store) verifyDay(ctx context.Context, p *partition, rep *VerifyReport) {
	// The writer appends to the WAL and the head under p.mu, so holding it
	// shared while reading the WAL sees the two agree.
	p.mu.RLock()
	blocks := p.blocks
	head, headSeq := p.head, p.headSeq
	wal, walErr := replayWALReadOnly(walName(p.dir, headSeq))
	wals, _ := filepath.Glob(filepath.Join(p.dir, "wal-*.log"))
	p.mu.RUnlock()
	problem := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, p.name+": "+fmt.Sprintf(format, args...))
	}
	var prev uint32
	for _, m := range blocks {
		if ctx.Err() != nil {
			return
		}
		rep.Blocks++
		rep.Events += m.N
		if m.Seq <= prev {
			problem("block %d follows block %d: sequence not ascending", m.Seq, prev)
		}
		prev = m.Seq
		if err := s.withRead(p, func() error { p.verifyBlock(m, problem); return nil }); err != nil {
			problem("block %d: %v", m.Seq, err)
		}
	}
	if len(blocks) > 0 && headSeq <= blocks[len(blocks)-1].Seq {
		problem("head sequence %d is not after the last block %d", headSeq, blocks[len(blocks)-1].Seq)
	}
	rep.HeadEvents += len(head)
	// The head must be exactly what its WAL holds: a restart rebuilds it from there.
	switch {
	case errors.Is(walErr, os.ErrNotExist) && len(head) == 0:
		// No event since the last block: the WAL is made on the next write.
	case walErr != nil:
		problem("head WAL: %v", walErr)
	case len(wal) != len(head):
		problem("head holds %d events, its WAL %d", len(head), len(wal))
	default:
		for i := range head {
			if !bytes.Equal(head[i].Raw, wal[i].Raw) || head[i].TS.UnixMilli() != wal[i].TS.UnixMilli() {
				problem("head event %d differs from its WAL record", i)
				break
			}
		}
	}
	if len(wals) > 1 {
		problem("%d WAL files, want 1", len(wals))
	}
}

func (p *partition) verifyBlock(m blockMeta, problem func(string, ...any)) {
	indexed := p.indexed
	raw, rerr := readBlockRaw(p.seg, m)
	ix, ierr := readBlockIndex(p.seg, m)
	if rerr != nil {
		problem("block %d events: %v", m.Seq, rerr)
		return
	}
	if ierr != nil {
		problem("block %d index: %v", m.Seq, ierr)
		return
	}
	if len(raw) != m.N || ix.N != m.N || len(ix.TS) != m.N {
		problem("block %d: header says %d events, segment holds %d, index %d rows and %d timestamps", m.Seq, m.N, len(raw), ix.N, len(ix.TS))
		return
	}
	lo, hi := ix.TS[0], ix.TS[0]
	entries := make([]Entry, m.N)
	for i, r := range raw {
		lo, hi = min(lo, ix.TS[i]), max(hi, ix.TS[i])
		f, err := Flatten(r)
		if err != nil {
			problem("block %d row %d is not JSON: %v", m.Seq, i, err)
			f = []Field{}
		}
		entries[i] = Entry{TS: msTime(ix.TS[i]), Raw: r, Fields: f}
	}
	if lo != m.MinTS || hi != m.MaxTS {
		problem("block %d: header time range [%d, %d], rows [%d, %d]", m.Seq, m.MinTS, m.MaxTS, lo, hi)
	}
	// The index rebuilt from the events must be the index stored with them:
	// any offset or row mix-up shows here.
	if want := buildIndex(entries).encode(nil); !bytes.Equal(want, ix.encode(nil)) {
		problem("block %d: index does not match its events", m.Seq)
	}
	if m.Seq <= indexed {
		doc, err := p.idx.Document(strconv.FormatUint(uint64(m.Seq), 10))
		if err != nil || doc == nil {
			problem("block %d is missing from the block index (%v)", m.Seq, err)
		}
	}
}
