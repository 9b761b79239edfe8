package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// partition is one UTC day: a segment file of blocks, and the head of
// newest events with its WAL. A full head is frozen (a new head and WAL
// take the events that follow) and sealed into a block by the store's
// sealer goroutines; until its block is in the segment, fsynced, a frozen
// head stays searchable and its WAL stays on disk.
//
// Its metadata (block headers, the heads) stays in memory for the store's
// life; its files are open only while the day is in use. The store closes
// the least recently used days beyond Options.MaxOpenPartitions, so a
// store holding years of days costs what the days in use cost.
type partition struct {
	name string // logs-YYYY.MM.DD
	dir  string
	day  time.Time

	mu      sync.RWMutex
	blocks  []blockMeta // ascending seq
	segEnd  int64
	head    []Entry
	headSeq uint32 // the seq the head will get
	headAt  time.Time
	// sealing are the frozen heads, ascending seq, until their blocks are
	// in the segment (appended in that order).
	sealing []*sealJob
	// replayed are frozen heads found in WALs at start-up, handed to the
	// sealer once the store runs.
	replayed []*sealJob
	// headIx caches the block form of the head as it was at (seq, length):
	// the head only grows until it is frozen, so the pair names it.
	headIx atomic.Pointer[headIndex]

	appendMu sync.Mutex     // one appender of sealed blocks at a time
	sealWG   sync.WaitGroup // sealing jobs not yet appended or discarded
	dropped  atomic.Bool    // removed (retention, disk budget): sealed blocks are discarded

	// Open files; nil while the partition is closed.
	seg *os.File
	wal *wal

	isOpen  atomic.Bool
	lastUse atomic.Int64 // unix nanoseconds
	busy    atomic.Int32 // writer operations in progress: not to be closed
	bytes   atomic.Int64 // disk usage, refreshed by refreshBytes

	fieldsRejected atomic.Int64
	// log receives what was repaired while opening (a rebuilt index, a
	// torn WAL cut off); problems are what could not be repaired.
	warn func(msg string, args ...any)
}

func dayName(t time.Time) string { return "logs-" + t.UTC().Format("2006.01.02") }

func parseDayName(name string) (time.Time, bool) {
	t, err := time.Parse("logs-2006.01.02", name)
	return t, err == nil
}

// createPartition makes a new day atomically: its files are made in a
// temporary directory and renamed into place, so a crash or a full disk
// half-way leaves no broken day behind (a broken bleve index in a day
// used to stop obs from starting at all).
func createPartition(root, name string) error {
	tmp, err := os.MkdirTemp(root, ".tmp-"+name+"-")
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	fail := func(err error) error {
		os.RemoveAll(tmp)
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fail(err)
	}
	f, err := os.OpenFile(filepath.Join(tmp, "segment.dat"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fail(err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fail(err)
	}
	if err := syncDir(tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, name)); err != nil {
		return fail(err)
	}
	return syncDir(root)
}

// loadPartition reads a day's metadata: block headers (cutting off a block
// torn by a crash) and the head from its WAL. It leaves the files closed.
// damaged lists byte ranges of the segment that could not be read (their
// events are lost; the rest of the day is served).
func loadPartition(root, name string, warn func(string, ...any)) (*partition, []string, error) {
	day, ok := parseDayName(name)
	if !ok {
		return nil, nil, fmt.Errorf("bad partition name %q", name)
	}
	p := &partition{name: name, dir: filepath.Join(root, name), day: day, warn: warn}
	seg, err := os.OpenFile(filepath.Join(p.dir, "segment.dat"), os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open segment of %s: %w", name, err)
	}
	defer seg.Close()
	res, err := scanSegment(seg)
	if err != nil {
		return nil, nil, fmt.Errorf("scan segment of %s: %w", name, err)
	}
	var damaged []string
	for _, d := range res.damaged {
		damaged = append(damaged, fmt.Sprintf("%s: segment bytes %d to %d are damaged; the events there are lost, the rest of the day is served", name, d[0], d[1]))
	}
	p.blocks, p.segEnd = res.blocks, res.end
	p.headSeq = 1
	if len(p.blocks) > 0 {
		p.headSeq = p.blocks[len(p.blocks)-1].Seq + 1
	}
	if st, err := seg.Stat(); err == nil && st.Size() > res.end {
		// A block torn by a crash: its events are still in its WAL, which
		// goes only once the block is fsynced. Without that WAL the bytes
		// are a damaged block, not a torn one: keep them aside and say so.
		if _, err := os.Stat(walName(p.dir, p.headSeq)); err != nil {
			aside := filepath.Join(p.dir, fmt.Sprintf("segment.dat.tail-%d", time.Now().Unix()))
			if tail, rerr := readFrom(seg, res.end, st.Size()); rerr == nil {
				os.WriteFile(aside, tail, 0o600)
			}
			damaged = append(damaged, fmt.Sprintf("%s: the segment's last %d bytes are damaged and no WAL holds their events (kept in %s); the rest of the day is served",
				name, st.Size()-res.end, filepath.Base(aside)))
		}
		if err := seg.Truncate(res.end); err != nil {
			return nil, nil, fmt.Errorf("truncate torn segment of %s: %w", name, err)
		}
	}
	if err := p.recoverWAL(); err != nil {
		return nil, nil, err
	}
	p.refreshBytes()
	return p, damaged, nil
}

func readFrom(f *os.File, from, to int64) ([]byte, error) {
	b := make([]byte, to-from)
	_, err := f.ReadAt(b, from)
	return b, err
}

// recoverWAL deletes WALs whose block is already in the segment and replays
// the others: the newest is the head, older ones (heads frozen but not yet
// sealed when the process stopped) are sealed again.
func (p *partition) recoverWAL() error {
	files, _ := filepath.Glob(filepath.Join(p.dir, "wal-*.log"))
	type walFile struct {
		seq  uint32
		path string
	}
	var wals []walFile
	for _, f := range files {
		var seq uint32
		if _, err := fmt.Sscanf(filepath.Base(f), "wal-%08d.log", &seq); err != nil {
			continue
		}
		if seq < p.headSeq {
			os.Remove(f)
			continue
		}
		wals = append(wals, walFile{seq, f})
	}
	sort.Slice(wals, func(i, j int) bool { return wals[i].seq < wals[j].seq })
	for k, w := range wals {
		entries, cut, err := replayWAL(w.path)
		if err != nil {
			return fmt.Errorf("replay %s: %w", w.path, err)
		}
		if cut > 0 && p.warn != nil {
			p.warn("cut a torn record off a log WAL", "partition", p.name, "bytes", cut)
		}
		if k < len(wals)-1 {
			if len(entries) == 0 {
				os.Remove(w.path) // a head frozen empty: no block to make
				continue
			}
			p.replayed = append(p.replayed, &sealJob{p: p, seq: w.seq, entries: entries, done: make(chan struct{})})
			continue
		}
		p.headSeq = w.seq
		p.head = entries
	}
	if len(p.head) > 0 {
		p.headAt = time.Now()
	}
	return nil
}

// openLocked opens the day's segment; the caller holds p.mu.
func (p *partition) openLocked() error {
	if p.seg != nil {
		return nil
	}
	seg, err := os.OpenFile(filepath.Join(p.dir, "segment.dat"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open segment of %s: %w", p.name, err)
	}
	// The previous format's bleve index of block documents: blocks now
	// carry their own dictionaries and bloom filters, so it is dead weight.
	os.RemoveAll(filepath.Join(p.dir, "blocks.bleve"))
	p.seg = seg
	p.isOpen.Store(true)
	return nil
}

// closeLocked closes the day's files; metadata stays. The caller holds p.mu.
func (p *partition) closeLocked() error {
	var errs []error
	if p.wal != nil {
		errs = append(errs, p.wal.close())
		p.wal = nil
	}
	if p.seg != nil {
		errs = append(errs, p.seg.Close())
		p.seg = nil
	}
	p.isOpen.Store(false)
	return errors.Join(errs...)
}

func (p *partition) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeLocked()
}

// evictable says, under p.mu, whether the day can be closed now: nothing
// being written, no head (its WAL is written to), nothing being sealed.
func (p *partition) evictable() bool {
	return p.seg != nil && p.busy.Load() == 0 && len(p.head) == 0 && len(p.sealing) == 0
}

func (p *partition) touch() { p.lastUse.Store(time.Now().UnixNano()) }

// ensureWAL opens the head's WAL for appending; the caller holds p.mu.
func (p *partition) ensureWAL() error {
	if p.wal != nil {
		return nil
	}
	w, err := openWAL(walName(p.dir, p.headSeq))
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.wal = w
	return nil
}

// append adds entries to the head (WAL first), freezing full heads for the
// sealer. With durable, a frozen head's WAL is fsynced before it is left
// (the caller fsyncs the last one): the events of a group that waits to be
// acknowledged may span two heads. The writer calls it between begin and end.
func (p *partition) append(entries []Entry, sl *sealer, durable bool) error {
	for len(entries) > 0 {
		p.mu.Lock()
		if err := p.ensureWAL(); err != nil {
			p.mu.Unlock()
			return err
		}
		room := BlockSize - len(p.head)
		n := min(room, len(entries))
		if err := p.wal.append(entries[:n]); err != nil {
			p.mu.Unlock()
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if len(p.head) == 0 {
			p.headAt = time.Now()
		}
		p.head = append(p.head, entries[:n]...)
		full := len(p.head) >= BlockSize
		p.mu.Unlock()
		entries = entries[n:]
		if full {
			if err := p.freeze(sl, durable); err != nil {
				return err
			}
		}
	}
	return nil
}

// freeze hands the head to the sealer and starts a new head with its own
// WAL; the frozen head's WAL stays until its block is in the segment. The
// writer calls it between begin and end.
func (p *partition) freeze(sl *sealer, durable bool) error {
	p.mu.Lock()
	if len(p.head) == 0 {
		p.mu.Unlock()
		return nil
	}
	if durable && p.wal != nil {
		if err := p.wal.sync(); err != nil {
			p.mu.Unlock()
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	nw, err := openWAL(walName(p.dir, p.headSeq+1))
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	job := &sealJob{p: p, seq: p.headSeq, entries: p.head, done: make(chan struct{})}
	p.sealing = append(p.sealing, job)
	old := p.wal
	p.wal = nw
	p.head = make([]Entry, 0, BlockSize)
	p.headSeq++
	p.sealWG.Add(1)
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	sl.submit(job)
	return nil
}

// writeSealed appends a sealed block to the segment (fsynced: the WAL it
// replaces may hold acknowledged events), publishes it in place of its
// frozen head and removes that WAL. Only appendSealed calls it, in seq
// order, between begin and end.
func (p *partition) writeSealed(job *sealJob) error {
	_, err := p.seg.WriteAt(job.buf, p.segEnd)
	if err == nil {
		err = p.seg.Sync()
	}
	if err != nil {
		// Keep the frozen head (and its WAL); the writer retries.
		p.seg.Truncate(p.segEnd)
		return fmt.Errorf("write block %d of %s: %w", job.seq, p.name, err)
	}
	meta := job.meta
	meta.Off = p.segEnd + blockHeaderSize
	p.mu.Lock()
	p.segEnd += int64(len(job.buf))
	p.blocks = append(p.blocks, meta)
	p.sealing = p.sealing[1:]
	os.Remove(walName(p.dir, job.seq)) // under the lock: Verify sees one WAL per head
	p.mu.Unlock()
	p.fieldsRejected.Add(job.rejected)
	p.refreshBytes()
	return nil
}

// syncWAL makes the head's WAL durable (group commit for acknowledged intake).
func (p *partition) syncWAL() error {
	p.mu.RLock()
	w := p.wal
	p.mu.RUnlock()
	if w == nil {
		return nil // the head was sealed into an fsynced block
	}
	if err := w.sync(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// candidates returns the blocks overlapping [from,to] and the day's heads
// (frozen ones first, then the head, ascending seq). The caller holds p.mu
// shared.
func (p *partition) candidates(from, to int64) ([]blockMeta, []memHead) {
	var out []blockMeta
	for _, m := range p.blocks {
		if m.MaxTS < from || m.MinTS > to {
			continue
		}
		out = append(out, m)
	}
	var heads []memHead
	for _, j := range p.sealing {
		heads = append(heads, memHead{seq: j.seq, entries: j.entries, job: j})
	}
	if len(p.head) > 0 {
		heads = append(heads, memHead{seq: p.headSeq, entries: p.head})
	}
	return out, heads
}

// memHead is a head (or a frozen one) as a query sees it.
type memHead struct {
	seq     uint32
	entries []Entry
	job     *sealJob // set for a frozen head
}

// block returns the head in block form: the sealer's when it has built it,
// else built here (and, for the head, cached until it grows).
func (p *partition) headBlock(h memHead) *builtBlock {
	if h.job != nil {
		if b := h.job.built.Load(); b != nil {
			return b
		}
		return buildEntries(h.entries)
	}
	if c := p.headIx.Load(); c != nil && c.seq == h.seq && c.n == len(h.entries) {
		return c.b
	}
	b := buildEntries(h.entries)
	p.headIx.Store(&headIndex{seq: h.seq, n: len(h.entries), b: b})
	return b
}

type headIndex struct {
	seq uint32
	n   int
	b   *builtBlock
}

func buildEntries(entries []Entry) *builtBlock {
	bb := getBlockBuilder()
	defer putBlockBuilder(bb)
	for i := range entries {
		bb.add(entries[i].TS.UnixMilli(), entries[i].Raw)
	}
	return bb.build()
}

// refreshBytes re-reads the day's size on disk.
func (p *partition) refreshBytes() {
	var total int64
	filepath.Walk(p.dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	p.bytes.Store(total)
}

func (p *partition) diskBytes() int64 { return p.bytes.Load() }

// newest is the time of the day's newest event (the day's end when empty).
func (p *partition) newest() time.Time {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var ms int64 = -1
	for _, b := range p.blocks {
		ms = max(ms, b.MaxTS)
	}
	for i := range p.head {
		ms = max(ms, p.head[i].TS.UnixMilli())
	}
	for _, j := range p.sealing {
		for i := range j.entries {
			ms = max(ms, j.entries[i].TS.UnixMilli())
		}
	}
	if ms < 0 {
		return p.day.Add(24*time.Hour - time.Millisecond)
	}
	return time.UnixMilli(ms).UTC()
}

func (p *partition) eventCount() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := len(p.head)
	for _, b := range p.blocks {
		n += b.N
	}
	for _, j := range p.sealing {
		n += len(j.entries)
	}
	return n
}

// isTempOrAside says whether a directory entry under the store is not a day:
// an unfinished create (.tmp-*) or a day moved aside (*.corrupt-*).
func isTempOrAside(name string) bool {
	return strings.HasPrefix(name, ".tmp-") || strings.Contains(name, ".corrupt-")
}
