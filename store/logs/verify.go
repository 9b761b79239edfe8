package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	type frozen struct {
		seq     uint32
		entries []Entry
		wal     []Entry
		err     error
	}
	var sealing []frozen
	for _, j := range p.sealing {
		w, err := replayWALReadOnly(walName(p.dir, j.seq))
		sealing = append(sealing, frozen{j.seq, j.entries, w, err})
	}
	p.mu.RUnlock()
	problem := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, p.name+": "+fmt.Sprintf(format, args...))
	}
	for _, f := range sealing {
		rep.HeadEvents += len(f.entries)
		if f.err != nil || !sameEntries(f.entries, f.wal) {
			problem("head %d, being sealed, differs from its WAL (%v)", f.seq, f.err)
		}
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
		if err := s.withRead(p, func() error { s.verifyBlock(p, m, problem); return nil }); err != nil {
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
	case !sameEntries(head, wal):
		problem("the head differs from its WAL records")
	}
	if len(wals) > 1+len(sealing) {
		problem("%d WAL files, want %d", len(wals), 1+len(sealing))
	}
}

func sameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) || a[i].TS.UnixMilli() != b[i].TS.UnixMilli() {
			return false
		}
	}
	return true
}

func (s *Store) verifyBlock(p *partition, m blockMeta, problem func(string, ...any)) {
	var ts []int64
	var raws [][]byte
	var stored *builtBlock
	if m.Ver == 1 {
		var err error
		if ts, raws, err = readV1Block(p.seg, s.codec, m); err != nil {
			problem("block %d: %v", m.Seq, err)
			return
		}
	} else {
		var err error
		if stored, err = readWholeBlock(p.seg, s.codec, m); err != nil {
			problem("block %d: %v", m.Seq, err)
			return
		}
		ts = stored.meta.ts.all()
		b := newBlock(stored.meta, stored)
		for r := 0; r < m.N; r++ {
			raw, err := b.rebuild(nil, r)
			if err != nil {
				problem("block %d row %d cannot be rebuilt: %v", m.Seq, r, err)
				return
			}
			raws = append(raws, raw)
		}
	}
	if len(raws) != m.N || len(ts) != m.N {
		problem("block %d: header says %d events, segment holds %d and %d timestamps", m.Seq, m.N, len(raws), len(ts))
		return
	}
	lo, hi := ts[0], ts[0]
	for i, r := range raws {
		lo, hi = min(lo, ts[i]), max(hi, ts[i])
		if _, err := Flatten(r); err != nil {
			problem("block %d row %d is not JSON: %v", m.Seq, i, err)
		}
	}
	if lo != m.MinTS || hi != m.MaxTS {
		problem("block %d: header time range [%d, %d], rows [%d, %d]", m.Seq, m.MinTS, m.MaxTS, lo, hi)
	}
	if stored == nil {
		return
	}
	// The columns rebuilt from the events must be the columns stored: any
	// row mix-up, a wrong dictionary or a bloom filter missing a word shows here.
	want := buildV1(ts, raws)
	if !sameBlock(stored, want) {
		problem("block %d: columns do not match its events", m.Seq)
	}
}

// readWholeBlock reads and decodes all of a v2 block.
func readWholeBlock(f *os.File, cd *codec, m blockMeta) (*builtBlock, error) {
	bm, err := readMeta(f, cd, m)
	if err != nil {
		return nil, err
	}
	dataOff := m.Off + int64(m.RawLen)
	e := &encodedBlock{meta: bm, cd: cd, read: func(off, n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := f.ReadAt(b, dataOff+int64(off))
		return b, err
	}}
	out := &builtBlock{meta: bm, data: make([]*colData, len(bm.cols)), blooms: make([]bloom, len(bm.cols))}
	for i := range bm.cols {
		if out.data[i], err = e.colData(i); err != nil {
			return nil, err
		}
		if bm.cols[i].flags&colBloom != 0 {
			if out.blooms[i], err = e.colBloom(i); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// sameBlock compares two blocks' contents, leaving out where the parts sit.
func sameBlock(a, b *builtBlock) bool {
	if len(a.meta.cols) != len(b.meta.cols) {
		return false
	}
	for i := range a.meta.cols {
		ma, mb := &a.meta.cols[i], &b.meta.cols[i]
		if !bytes.Equal(a.data[i].appendTo(nil, ma, a.meta), b.data[i].appendTo(nil, mb, b.meta)) ||
			!bytes.Equal(a.blooms[i].appendTo(nil), b.blooms[i].appendTo(nil)) {
			return false
		}
	}
	return bytes.Equal(placeless(a.meta).appendTo(nil), placeless(b.meta).appendTo(nil))
}

func placeless(bm *blockMetaV2) *blockMetaV2 {
	c := *bm
	c.cols = append([]colMeta(nil), bm.cols...)
	for i := range c.cols {
		c.cols[i].dataOff, c.cols[i].dataLen, c.cols[i].rawLen = 0, 0, 0
		c.cols[i].bloomOff, c.cols[i].bloomLen, c.cols[i].bloomCRC = 0, 0, 0
	}
	return &c
}
