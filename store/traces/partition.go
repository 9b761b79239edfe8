package traces

import (
	"cmp"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// partition is one UTC hour of spans (by span timestamp; spans without one
// go to the hour they arrived in) under <root>/v2/<2006-01-02T15>/:
//
//	spans.dat              blocks (block.go), append-only
//	traces-FROM-TO.idx     trace id → blocks FROM..TO-1 (tindex.go)
//	wal-0.log, wal-1.log   the head: spans not yet in a block (wal.go)
//
// The store's writer goroutine appends to the head; when it is full the
// writer freezes it (it stays visible to readers as sealing) and the
// sealer goroutine writes it as a block while new spans go to a fresh head
// and the other WAL file. mu guards the in-memory state readers look at
// (short critical sections); io keeps the files open while readers (and
// the sealer) use them without holding mu.
type partition struct {
	name string
	hour int64 // hours since the epoch
	dir  string
	log  *slog.Logger

	mu        sync.RWMutex
	blocks    []*blockMeta
	head      []row // rows are immutable once appended: readers may keep the slice
	headBytes int
	headSince time.Time
	sealing   []row               // a frozen head the sealer is writing as a block
	runs      []*traceIndex       // cover blocks [0, covered), in order
	covered   int                 // blocks in runs
	loose     map[uint64][]uint32 // trace id → blocks [covered, len(blocks)) holding it
	lastWrite time.Time
	dead      bool

	io   sync.RWMutex // readers hold it shared while reading files; close takes it
	f    *os.File     // spans.dat
	size int64        // end of the valid blocks

	// Writer-only state: the two WALs (opened on first use) and which one
	// the head is in; the other holds the head being sealed, if any.
	wals   [2]*wal
	walEnd [2]int64 // where replay found each WAL's valid records end
	cur    int

	maxSeq uint64        // highest seq in a block (sealer, and open)
	sealed chan struct{} // the sealer says a frozen head is a block
}

func partitionName(hour int64) string {
	return time.Unix(hour*3600, 0).UTC().Format("2006-01-02T15")
}

func parsePartitionName(name string) (int64, bool) {
	t, err := time.Parse("2006-01-02T15", name)
	if err != nil {
		return 0, false
	}
	return t.Unix() / 3600, true
}

// openPartition reads a partition's block headers and summaries (cutting off
// a torn last block), its trace index, and replays its WAL into the head.
func openPartition(root string, hour int64, intern func(string) string, log *slog.Logger) (*partition, error) {
	p := &partition{name: partitionName(hour), hour: hour, log: log, loose: map[uint64][]uint32{}, sealed: make(chan struct{}, 1)}
	p.dir = filepath.Join(root, p.name)
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition %s: %w", p.name, err)
	}
	f, err := os.OpenFile(filepath.Join(p.dir, "spans.dat"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open partition %s: %w", p.name, err)
	}
	p.f = f
	ids, err := p.scanBlocks(intern)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := p.openRuns(); err != nil {
		p.close()
		return nil, err
	}
	for j := p.covered; j < len(p.blocks); j++ {
		p.addLoose(j, ids[j])
	}
	if err := p.replayWAL(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// scanBlocks reads the block headers and summaries, returning each
// block's trace ids.
func (p *partition) scanBlocks(intern func(string) string) ([][]uint64, error) {
	st, err := p.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat partition %s: %w", p.name, err)
	}
	var ids [][]uint64
	var off int64
	hdr := make([]byte, blockHeaderSize)
	for off+blockHeaderSize <= st.Size() {
		if _, err := p.f.ReadAt(hdr, off); err != nil {
			break
		}
		m, _, err := parseHeader(hdr, nil, intern)
		if err != nil && !errors.Is(err, errTorn) {
			return nil, fmt.Errorf("partition %s: %w", p.name, err)
		}
		if err != nil || off+blockHeaderSize+int64(m.sumLen)+int64(m.colLen)+int64(m.jsonLen) > st.Size() {
			break
		}
		sum := make([]byte, m.sumLen)
		if _, err := p.f.ReadAt(sum, off+blockHeaderSize); err != nil {
			break
		}
		m, tr, err := parseHeader(hdr, sum, intern)
		if err != nil {
			break
		}
		m.off = off
		// Blocks are appended and fsynced one at a time, so only the last
		// one can be torn: check its payload too.
		if m.end() == st.Size() && !p.payloadOK(m) {
			break
		}
		p.blocks = append(p.blocks, m)
		ids = append(ids, tr)
		p.maxSeq = max(p.maxSeq, m.lastSeq)
		off = m.end()
	}
	if off < st.Size() {
		p.log.Warn("cutting a torn span block", "partition", p.name, "at", off, "size", st.Size())
		if err := p.f.Truncate(off); err != nil {
			return nil, fmt.Errorf("truncate torn block in %s: %w", p.name, err)
		}
	}
	p.size = off
	return ids, nil
}

// openRuns opens the trace index runs that cover the blocks from the
// first on without a gap. A run left over from a crash during a merge (it
// lies inside the merged one), or one covering blocks that were cut off,
// is removed; blocks no run covers go to the in-memory map.
func (p *partition) openRuns() error {
	tmps, _ := filepath.Glob(filepath.Join(p.dir, "*.tmp"))
	for _, t := range tmps {
		os.Remove(t) // a run (or merge) a crash cut short
	}
	names, err := filepath.Glob(filepath.Join(p.dir, "traces-*.idx"))
	if err != nil {
		return err
	}
	var runs []*traceIndex
	for _, n := range names {
		ix, err := openTraceIndex(n)
		if err != nil {
			p.log.Warn("removing an unreadable trace index run; its blocks are indexed again", "partition", p.name, "run", filepath.Base(n), "err", err)
			os.Remove(n)
			continue
		}
		runs = append(runs, ix)
	}
	slices.SortFunc(runs, func(a, b *traceIndex) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(b.to, a.to)) })
	for _, ix := range runs {
		if ix.from == p.covered && ix.to > ix.from && ix.to <= len(p.blocks) {
			p.runs = append(p.runs, ix)
			p.covered = ix.to
			continue
		}
		ix.close()
		os.Remove(ix.path)
	}
	return nil
}

func (p *partition) addLoose(block int, ids []uint64) {
	for _, t := range ids {
		p.loose[t] = append(p.loose[t], uint32(block))
	}
}

func (p *partition) payloadOK(m *blockMeta) bool {
	b := make([]byte, int(m.colLen)+int(m.jsonLen))
	if _, err := p.f.ReadAt(b, m.colOff()); err != nil {
		return false
	}
	return crc32.Checksum(b[:m.colLen], crcTable) == m.colCRC && crc32.Checksum(b[m.colLen:], crcTable) == m.jsonCRC
}

func (p *partition) walPath(i int) string { return filepath.Join(p.dir, fmt.Sprintf("wal-%d.log", i)) }

// replayWAL reads the head back from both WAL files, in seq order,
// skipping records already in a block (a crash between sealing and
// emptying the WAL, or an old record past the last head: see wal.go).
// Writing resumes where each WAL's valid records end; a torn record there
// is overwritten. A WAL holding nothing but records in blocks is truncated.
func (p *partition) replayWAL() error {
	var recs []walRecord
	for i := range p.wals {
		rs, valid, err := readWAL(p.walPath(i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(rs, func(r walRecord) bool { return r.seq > p.maxSeq }) {
			if err := os.Truncate(p.walPath(i), 0); err != nil {
				return fmt.Errorf("truncate sealed span wal: %w", err)
			}
			continue
		}
		recs = append(recs, rs...)
		p.walEnd[i] = valid
	}
	slices.SortFunc(recs, func(a, b walRecord) int { return cmp.Compare(a.seq, b.seq) })
	for _, r := range recs {
		if r.seq <= p.maxSeq {
			continue
		}
		rw, err := rowFromJSON(r.json, r.seq)
		if err != nil {
			p.log.Warn("skipping an unreadable WAL record", "partition", p.name, "seq", r.seq, "err", err)
			continue
		}
		p.head = append(p.head, rw)
		p.headBytes += len(r.json)
	}
	if len(p.head) > 0 {
		p.headSince = time.Now()
	}
	return nil
}

// appendRows writes rows to the WAL and the head (writer only); it
// returns the WAL written, for the syncer.
func (p *partition) appendRows(rows []row) (*wal, error) {
	w := p.wals[p.cur]
	if w == nil {
		var err error
		if w, err = openWAL(p.walPath(p.cur), p.walEnd[p.cur]); err != nil {
			return nil, err
		}
		p.wals[p.cur] = w
	}
	if err := w.append(rows); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if len(p.head) == 0 {
		p.headSince = time.Now()
		if p.head == nil {
			// A head usually fills up: one allocation, not a dozen.
			p.head = make([]row, 0, max(blockSpans, len(rows)))
		}
	}
	p.head = append(p.head, rows...)
	for i := range rows {
		p.headBytes += len(rows[i].JSON)
	}
	p.lastWrite = time.Now()
	p.mu.Unlock()
	return w, nil
}

// sealJob is a frozen head on its way to becoming a block.
type sealJob struct {
	p    *partition
	rows []row
	wal  *wal // the WAL that holds them, emptied once the block is durable
	done chan struct{}
}

// freeze hands the head to the sealer's job and starts a new head in the
// other WAL (writer only). It waits for the partition's previous seal
// first when wait is set; otherwise, with a seal in flight, it does
// nothing and the head keeps growing.
func (p *partition) freeze(wait bool) (sealJob, bool) {
	for {
		p.mu.RLock()
		busy, empty := p.sealing != nil, len(p.head) == 0
		p.mu.RUnlock()
		switch {
		case empty || busy && !wait:
			return sealJob{}, false
		case busy:
			<-p.sealed
			continue
		}
		break
	}
	p.mu.Lock()
	job := sealJob{p: p, rows: p.head, wal: p.wals[p.cur]}
	p.sealing, p.head, p.headBytes = p.head, nil, 0
	p.mu.Unlock()
	p.cur = 1 - p.cur
	return job, true
}

// seal writes a frozen head as a block: append, fsync, empty the WAL that
// held it, publish (sealer only).
func (p *partition) seal(job sealJob, intern func(string) string) (*blockMeta, error) {
	sealed := false
	defer func() {
		if !sealed {
			// The spans stay in their WAL; back in the head they stay
			// searchable and go into the next block.
			p.mu.Lock()
			p.head = append(slices.Clip(job.rows), p.head...)
			for i := range job.rows {
				p.headBytes += len(job.rows[i].JSON)
			}
			p.sealing = nil
			p.mu.Unlock()
		}
		select { // a token left from an earlier seal wakes a waiter just as well
		case p.sealed <- struct{}{}:
		default:
		}
	}()
	buf, m, ids := encodeBlock(job.rows, intern)
	p.io.RLock()
	if p.f == nil {
		p.io.RUnlock()
		return nil, errPartitionGone
	}
	m.off = p.size
	_, err := p.f.WriteAt(buf, p.size)
	if err == nil {
		err = datasync(p.f)
	} else {
		p.f.Truncate(p.size)
	}
	if err == nil && p.size == 0 {
		err = syncDir(p.dir)
	}
	p.io.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("write span block in %s: %w", p.name, err)
	}
	// Empty the WAL before the writer can see the seal done and switch
	// back to it (freeze checks sealing): the records are durable in the
	// block now, and a reset after that switch would drop new ones.
	if job.wal != nil {
		if err := job.wal.reset(p.hour >= hourOf(time.Now().UnixMicro())); err != nil && !errors.Is(err, os.ErrClosed) {
			// Harmless: replay skips records that are in a block.
			p.log.Warn("empty sealed span WAL", "partition", p.name, "err", err)
		}
	}
	p.maxSeq = max(p.maxSeq, m.lastSeq)
	p.mu.Lock()
	p.size += int64(len(buf))
	p.blocks = append(p.blocks, m)
	p.addLoose(len(p.blocks)-1, ids)
	p.sealing = nil // readers see the spans in the block or the frozen head, never both
	p.mu.Unlock()
	sealed = true
	return m, nil
}

// trimWALs truncates both WALs of a partition no longer written once all
// they hold is in blocks (writer only): reuse in place (wal.go) is for the
// hours being written, and old hours should not keep a head's worth of
// stale records each.
func (p *partition) trimWALs(idle time.Duration) error {
	p.mu.RLock()
	done := p.sealing == nil && len(p.head) == 0 && time.Since(p.lastWrite) >= idle
	p.mu.RUnlock()
	if !done {
		return nil
	}
	var errs []error
	for _, w := range p.wals {
		if w != nil {
			errs = append(errs, w.trim())
		}
	}
	return errors.Join(errs...)
}

// readAt reads part of spans.dat; false when the partition was closed.
func (p *partition) readAt(b []byte, off int64) error {
	p.io.RLock()
	defer p.io.RUnlock()
	if p.f == nil {
		return errPartitionGone
	}
	if _, err := p.f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read span block in %s: %w", p.name, err)
	}
	return nil
}

var errPartitionGone = errors.New("partition removed")

// close closes the partition's files; readers in flight finish first.
func (p *partition) close() error {
	p.mu.Lock()
	p.dead = true
	runs := p.runs
	p.mu.Unlock()
	p.io.Lock()
	defer p.io.Unlock()
	var errs []error
	for i, w := range p.wals {
		if w != nil {
			errs = append(errs, w.close())
			p.wals[i] = nil
		}
	}
	for _, ix := range runs {
		errs = append(errs, ix.close())
	}
	if p.f != nil {
		errs = append(errs, p.f.Close())
		p.f = nil
	}
	return errors.Join(errs...)
}

func (p *partition) diskBytes() int64 {
	var n int64
	entries, _ := os.ReadDir(p.dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func (p *partition) memBytes() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 256 + p.headBytes*2 + (len(p.head)+len(p.sealing))*int(rowSize)
	for _, b := range p.blocks {
		n += b.memBytes()
	}
	for _, ix := range p.runs {
		n += ix.memBytes()
	}
	return n + 64*len(p.loose)
}

// runBlocks is how many blocks the in-memory trace map holds before they
// go to a run; maxRuns how many runs a partition has before they merge.
const (
	runBlocks = 256
	maxRuns   = 4
)

// writeRun moves the trace map's blocks to a new run (maintainer only).
func (p *partition) writeRun() error {
	p.mu.RLock()
	from, to := p.covered, len(p.blocks)
	pairs := make([]idxPair, 0, len(p.loose))
	for t, bs := range p.loose {
		for _, b := range bs {
			if int(b) < to {
				pairs = append(pairs, idxPair{t, b})
			}
		}
	}
	p.mu.RUnlock()
	if to == from {
		return nil
	}
	pairs = sortPairs(pairs)
	i := 0
	ix, err := p.createRun(from, to, func() (idxPair, bool) {
		if i == len(pairs) {
			return idxPair{}, false
		}
		i++
		return pairs[i-1], true
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		ix.close()
		return errPartitionGone
	}
	p.runs = append(p.runs, ix)
	p.covered = to
	for t, bs := range p.loose {
		kept := bs[:0]
		for _, b := range bs {
			if int(b) >= to {
				kept = append(kept, b)
			}
		}
		if len(kept) == 0 {
			delete(p.loose, t)
		} else {
			p.loose[t] = kept
		}
	}
	return nil
}

func (p *partition) createRun(from, to int, next func() (idxPair, bool)) (*traceIndex, error) {
	path := filepath.Join(p.dir, runName(from, to))
	p.io.RLock()
	gone := p.f == nil
	var err error
	if !gone {
		err = writeRunFile(path, from, to, next)
	}
	p.io.RUnlock()
	if gone {
		return nil, errPartitionGone
	}
	if err != nil {
		return nil, fmt.Errorf("write trace index run: %w", err)
	}
	ix, err := openTraceIndex(path)
	if err != nil {
		return nil, fmt.Errorf("reopen trace index run: %w", err)
	}
	return ix, nil
}

// mergeRuns merges all runs into one (maintainer only). The merged run is
// written before the old ones are removed: a crash in between leaves runs
// inside the merged one, which openRuns removes.
func (p *partition) mergeRuns() error {
	p.mu.RLock()
	runs := slices.Clone(p.runs)
	p.mu.RUnlock()
	if len(runs) < 2 {
		return nil
	}
	// The old runs stay open until the merged one replaces them: read
	// them under io so that close waits.
	p.io.RLock()
	if p.f == nil {
		p.io.RUnlock()
		return errPartitionGone
	}
	rs := make([]*runReader, len(runs))
	for i, ix := range runs {
		rs[i] = ix.reader()
	}
	next, readErr := mergeReaders(rs)
	path := filepath.Join(p.dir, runName(runs[0].from, runs[len(runs)-1].to))
	err := writeRunFile(path, runs[0].from, runs[len(runs)-1].to, next)
	if err == nil {
		err = readErr()
	}
	p.io.RUnlock()
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("merge trace index runs: %w", err)
	}
	ix, err := openTraceIndex(path)
	if err != nil {
		return fmt.Errorf("reopen trace index run: %w", err)
	}
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		ix.close()
		return errPartitionGone
	}
	p.runs = append([]*traceIndex{ix}, p.runs[len(runs):]...)
	p.mu.Unlock()
	p.io.Lock()
	for _, old := range runs {
		old.close()
		os.Remove(old.path)
	}
	p.io.Unlock()
	return nil
}
