package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
)

// partition is one UTC day: a segment file of blocks, a bleve index of block
// documents, and the head of newest events with its WAL.
//
// Its metadata (block headers, the head) stays in memory for the store's
// life; its files (segment, WAL, bleve index: several descriptors and some
// memory each) are open only while the day is in use. The store closes the
// least recently used days beyond Options.MaxOpenPartitions, so a store
// holding years of days costs what the days in use cost.
type partition struct {
	name string // logs-YYYY.MM.DD
	dir  string
	day  time.Time

	mu      sync.RWMutex
	blocks  []blockMeta // ascending seq
	segEnd  int64
	indexed uint32 // highest seq in bleve (0 = none; seqs start at 1); read when bleve opens
	head    []Entry
	headSeq uint32 // the seq the head will get
	headAt  time.Time
	pending []pendingBlock // flushed, not yet in bleve
	// headIx caches the index of the head as it was at (seq, length): the
	// head only grows until it becomes a block, so the pair names it.
	headIx atomic.Pointer[headIndex]

	// Open files; all nil while the partition is closed.
	seg *os.File
	idx bleve.Index
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
	idx, err := newBleve(filepath.Join(tmp, "blocks.bleve"))
	if err != nil {
		return fail(err)
	}
	if err := idx.Close(); err != nil {
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

func newBleve(path string) (bleve.Index, error) {
	m := mapping.NewIndexMapping()
	m.DefaultAnalyzer = "keyword"
	m.StoreDynamic = false
	m.DocValuesDynamic = false
	return bleve.NewUsing(path, m, "scorch", "scorch", bleveConfig())
}

func bleveConfig() map[string]interface{} { return map[string]interface{}{"unsafe_batch": true} }

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
// the one for the current head.
func (p *partition) recoverWAL() error {
	files, _ := filepath.Glob(filepath.Join(p.dir, "wal-*.log"))
	for _, f := range files {
		var seq uint32
		if _, err := fmt.Sscanf(filepath.Base(f), "wal-%08d.log", &seq); err != nil {
			continue
		}
		if seq < p.headSeq {
			os.Remove(f)
			continue
		}
		entries, cut, err := replayWAL(f)
		if err != nil {
			return fmt.Errorf("replay %s: %w", f, err)
		}
		if cut > 0 && p.warn != nil {
			p.warn("cut a torn record off a log WAL", "partition", p.name, "bytes", cut)
		}
		for i := range entries {
			fields, err := Flatten(entries[i].Raw)
			if err != nil {
				fields = []Field{}
			}
			entries[i].Fields = fields
		}
		if seq > p.headSeq {
			// Cannot happen with one writer; keep the events rather than lose them.
			p.headSeq = seq
		}
		p.head = append(p.head, entries...)
	}
	if len(p.head) > 0 {
		p.headAt = time.Now()
	}
	return nil
}

// openLocked opens the day's files; the caller holds p.mu.
func (p *partition) openLocked() error {
	if p.seg != nil {
		return nil
	}
	seg, err := os.OpenFile(filepath.Join(p.dir, "segment.dat"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open segment of %s: %w", p.name, err)
	}
	idx, err := p.openBleve(seg)
	if err != nil {
		seg.Close()
		return err
	}
	p.seg, p.idx = seg, idx
	p.isOpen.Store(true)
	return nil
}

// openBleve opens the day's block index, rebuilding it from the segment
// when it is missing or cannot be opened: it holds nothing the segment
// does not (a broken one is moved aside for inspection).
func (p *partition) openBleve(seg *os.File) (bleve.Index, error) {
	path := filepath.Join(p.dir, "blocks.bleve")
	idx, err := bleve.OpenUsing(path, bleveConfig())
	if err != nil {
		if !errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
			aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
			if p.warn != nil {
				p.warn("log block index cannot be opened: rebuilding it from the segment", "partition", p.name, "err", err, "moved_to", aside)
			}
			if rerr := os.Rename(path, aside); rerr != nil {
				os.RemoveAll(path)
			}
		}
		if idx, err = newBleve(path); err != nil {
			return nil, fmt.Errorf("create block index of %s: %w", p.name, err)
		}
	}
	p.indexed = 0
	if v, err := idx.GetInternal(indexedKey); err == nil && v != nil {
		n, _ := strconv.ParseUint(string(v), 10, 32)
		p.indexed = uint32(n)
	}
	// Blocks written but not yet indexed when the process stopped.
	var pending []pendingBlock
	for _, m := range p.blocks {
		if m.Seq <= p.indexed || p.hasPending(m.Seq) {
			continue
		}
		ix, err := readBlockIndex(seg, m)
		if err != nil {
			if p.warn != nil {
				p.warn("log block unreadable while reindexing: it stays a candidate of every query", "partition", p.name, "block", m.Seq, "err", err)
			}
			continue
		}
		pending = append(pending, pendingBlock{m.Seq, ix})
	}
	p.pending = append(p.pending, pending...)
	return idx, nil
}

func (p *partition) hasPending(seq uint32) bool {
	for _, pb := range p.pending {
		if pb.seq == seq {
			return true
		}
	}
	return false
}

// closeLocked closes the day's files; metadata stays. The caller holds p.mu.
func (p *partition) closeLocked() error {
	var errs []error
	if p.wal != nil {
		errs = append(errs, p.wal.close())
		p.wal = nil
	}
	if p.idx != nil {
		errs = append(errs, p.idx.Close())
		p.idx = nil
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
// being written, no head (its WAL is written to), nothing left to index.
func (p *partition) evictable() bool {
	return p.seg != nil && p.busy.Load() == 0 && len(p.head) == 0 && len(p.pending) == 0
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

// append adds entries to the head (WAL first), turning full heads into
// blocks. The writer calls it between begin and end.
func (p *partition) append(entries []Entry) error {
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
			if err := p.flushHead(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushHead turns the head into a block: segment append (fsynced: the WAL
// it replaces may hold acknowledged events), then a fresh WAL. Readers keep
// seeing the events throughout: the block is published and the head
// cleared under one lock. The writer calls it between begin and end.
func (p *partition) flushHead() error {
	p.mu.RLock()
	head := p.head
	seq := p.headSeq
	p.mu.RUnlock()
	if len(head) == 0 {
		return nil
	}
	ix, rejected := buildIndexCounting(head)
	p.fieldsRejected.Add(rejected)
	buf, meta := encodeBlock(seq, head, ix)
	_, err := p.seg.WriteAt(buf, p.segEnd)
	if err == nil {
		err = p.seg.Sync()
	}
	if err != nil {
		// Keep the head (and its WAL); the caller retries on the next flush.
		p.seg.Truncate(p.segEnd)
		return fmt.Errorf("write block %d of %s: %w", seq, p.name, err)
	}
	meta.Off = p.segEnd + blockHeaderSize
	nw, err := openWAL(walName(p.dir, seq+1))
	if err != nil {
		p.seg.Truncate(p.segEnd)
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.mu.Lock()
	p.segEnd += int64(len(buf))
	p.blocks = append(p.blocks, meta)
	p.head = make([]Entry, 0, BlockSize)
	p.headSeq = seq + 1
	old := p.wal
	p.wal = nw
	p.pending = append(p.pending, pendingBlock{seq, ix})
	if old != nil {
		old.close()
	}
	os.Remove(walName(p.dir, seq)) // under the lock: Verify sees one WAL per head
	p.mu.Unlock()
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

func buildIndex(entries []Entry) *BlockIndex {
	ix, _ := buildIndexCounting(entries)
	return ix
}

// buildIndexCounting also reports the field paths left out by the cap.
func buildIndexCounting(entries []Entry) (*BlockIndex, int64) {
	bb := newBlockBuilder()
	for i := range entries {
		// Entries reach a partition flattened (Store.append, WAL replay).
		bb.add(entries[i].TS.UnixMilli(), entries[i].Fields)
	}
	return bb.build(), bb.rejected
}

// indexPending adds the documents of blocks flushed since the last call to
// bleve in one batch, with the new high-water mark. Batching keeps bleve's
// segment count (and merge work) low at high ingest rates; until a block is
// indexed, queries treat it as a candidate. The writer calls it between
// begin and end.
func (p *partition) indexPending() error {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	b := p.idx.NewBatch()
	top := uint32(0)
	for _, pb := range pending {
		if err := b.IndexAdvanced(blockDoc(pb.seq, pb.ix)); err != nil {
			return fmt.Errorf("index block %d of %s: %w", pb.seq, p.name, err)
		}
		top = max(top, pb.seq)
	}
	b.SetInternal(indexedKey, []byte(strconv.FormatUint(uint64(top), 10)))
	if err := p.idx.Batch(b); err != nil {
		p.mu.Lock()
		p.pending = append(pending, p.pending...) // retry next time
		p.mu.Unlock()
		return fmt.Errorf("index blocks of %s: %w", p.name, err)
	}
	p.mu.Lock()
	p.indexed = max(p.indexed, top)
	p.mu.Unlock()
	return nil
}

// candidates returns the blocks overlapping [from,to] that the prune query
// does not rule out, and a snapshot of the head. The caller holds p.mu
// shared with the partition open.
func (p *partition) candidates(q query.Query, from, to int64) ([]blockMeta, []Entry, uint32, *BlockIndex, error) {
	blocks := p.blocks
	indexed := p.indexed
	head, headSeq := p.head, p.headSeq

	var allowed map[uint32]bool
	if q != nil && len(blocks) > 0 {
		req := bleve.NewSearchRequestOptions(q, len(blocks)+1, 0, false)
		req.Fields = nil
		req.SortBy([]string{"_id"})
		res, err := p.idx.Search(req)
		if err != nil {
			return nil, nil, 0, nil, fmt.Errorf("prune blocks of %s: %w", p.name, err)
		}
		allowed = make(map[uint32]bool, len(res.Hits))
		for _, h := range res.Hits {
			n, _ := strconv.ParseUint(h.ID, 10, 32)
			allowed[uint32(n)] = true
		}
	}
	var out []blockMeta
	for _, m := range blocks {
		if m.MaxTS < from || m.MinTS > to {
			continue
		}
		if allowed != nil && m.Seq <= indexed && !allowed[m.Seq] {
			continue
		}
		out = append(out, m)
	}
	var headIx *BlockIndex
	if len(head) > 0 {
		if c := p.headIx.Load(); c != nil && c.seq == headSeq && c.n == len(head) {
			headIx = c.ix
		} else {
			headIx = buildIndex(head)
			p.headIx.Store(&headIndex{seq: headSeq, n: len(head), ix: headIx})
		}
	}
	return out, head, headSeq, headIx, nil
}

type headIndex struct {
	seq uint32
	n   int
	ix  *BlockIndex
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
	return n
}

// isTempOrAside says whether a directory entry under the store is not a day:
// an unfinished create (.tmp-*) or a day moved aside (*.corrupt-*).
func isTempOrAside(name string) bool {
	return strings.HasPrefix(name, ".tmp-") || strings.Contains(name, ".corrupt-")
}
