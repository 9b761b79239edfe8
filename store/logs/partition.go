package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// Bleve field names of a block document. Every value is indexed as one
// keyword term: the block index has already tokenized text.
const (
	bleveFieldsField = "_fields" // the paths present in the block
	// _unpruned: paths with too many distinct values (or words) in the block
	// to index; a query on such a path cannot rule the block out.
	bleveUnprunedField = "_unpruned"
	bleveValuePrefix   = "f." // f.<path>: distinct values
	bleveTokenPrefix   = "t." // t.<path>: distinct words of text values
)

// BleveValueField and BleveTokenField name the block-document fields a
// Matcher's Prune query may use.
func BleveValueField(path string) string { return bleveValueField(path) }
func BleveTokenField(path string) string { return bleveTokenPrefix + path }
func BleveFieldsField() string           { return bleveFieldsField }
func BleveUnprunedField() string         { return bleveUnprunedField }

// maxBleveTerms is the most distinct values (and, separately, words) of one
// field a block document carries. Beyond it (request ids, timestamps) the
// terms make bleve's segment merges the ingest bottleneck while pruning
// almost nothing: such a field's block is simply always a candidate.
const maxBleveTerms = 256

// maxBleveTermLen is the longest value (or word) indexed for pruning. A
// 64 KiB value as one keyword term made bleve's FST building and merging the
// ingest bottleneck; such a field's block stays a candidate instead.
const maxBleveTermLen = 256

func bleveValueField(path string) string { return bleveValuePrefix + path }

// indexable says whether every term fits in the block document.
func indexable(terms []string) bool {
	if len(terms) > maxBleveTerms {
		return false
	}
	for _, t := range terms {
		if len(t) > maxBleveTermLen {
			return false
		}
	}
	return true
}

var keywordAnalyzer analysis.Analyzer = &analysis.DefaultAnalyzer{Tokenizer: single.NewSingleTokenTokenizer()}

// indexedKey is stored inside the bleve index with each batch: the highest
// block sequence the index covers. Blocks after it are re-indexed on open.
var indexedKey = []byte("obs.indexed_seq")

// partition is one UTC day: a segment file of blocks, a bleve index of block
// documents, and the head of newest events with its WAL.
type partition struct {
	name string // logs-YYYY.MM.DD
	dir  string
	day  time.Time

	mu      sync.RWMutex
	seg     *os.File
	segEnd  int64
	blocks  []blockMeta // ascending seq
	idx     bleve.Index
	indexed uint32 // highest seq in bleve (0 = none; seqs start at 1)

	head    []Entry
	headSeq uint32 // the seq the head will get
	headAt  time.Time
	headIx  *BlockIndex // cached index of head, nil when stale
	wal     *wal
	pending []pendingBlock // flushed, not yet in bleve

	fieldsRejected atomic.Int64
}

func dayName(t time.Time) string { return "logs-" + t.UTC().Format("2006.01.02") }

func parseDayName(name string) (time.Time, bool) {
	t, err := time.Parse("logs-2006.01.02", name)
	return t, err == nil
}

func openPartition(root, name string) (*partition, error) {
	day, ok := parseDayName(name)
	if !ok {
		return nil, fmt.Errorf("bad partition name %q", name)
	}
	p := &partition{name: name, dir: filepath.Join(root, name), day: day}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", p.dir, err)
	}
	seg, err := os.OpenFile(filepath.Join(p.dir, "segment.dat"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open segment of %s: %w", name, err)
	}
	p.seg = seg
	metas, end, err := scanSegment(seg)
	if err != nil {
		seg.Close()
		return nil, fmt.Errorf("scan segment of %s: %w", name, err)
	}
	if st, err := seg.Stat(); err == nil && st.Size() > end {
		// A torn block from a crash: cut it off, its events are still in the WAL.
		if err := seg.Truncate(end); err != nil {
			seg.Close()
			return nil, fmt.Errorf("truncate torn segment of %s: %w", name, err)
		}
	}
	p.blocks, p.segEnd = metas, end
	p.headSeq = 1
	if len(metas) > 0 {
		p.headSeq = metas[len(metas)-1].Seq + 1
	}
	if err := p.openBleve(); err != nil {
		seg.Close()
		return nil, err
	}
	if err := p.recoverWAL(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *partition) openBleve() error {
	path := filepath.Join(p.dir, "blocks.bleve")
	cfg := map[string]interface{}{"unsafe_batch": true}
	idx, err := bleve.OpenUsing(path, cfg)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		m := mapping.NewIndexMapping()
		m.DefaultAnalyzer = "keyword"
		m.StoreDynamic = false
		m.DocValuesDynamic = false
		idx, err = bleve.NewUsing(path, m, "scorch", "scorch", cfg)
	}
	if err != nil {
		return fmt.Errorf("open block index of %s: %w", p.name, err)
	}
	p.idx = idx
	if v, err := idx.GetInternal(indexedKey); err == nil && v != nil {
		n, _ := strconv.ParseUint(string(v), 10, 32)
		p.indexed = uint32(n)
	}
	// Blocks written but not yet indexed when the process stopped.
	var missing []int
	for i, m := range p.blocks {
		if m.Seq > p.indexed {
			missing = append(missing, i)
		}
	}
	for _, i := range missing {
		ix, err := readBlockIndex(p.seg, p.blocks[i])
		if err != nil {
			return fmt.Errorf("reindex %s: %w", p.name, err)
		}
		p.pending = append(p.pending, pendingBlock{p.blocks[i].Seq, ix})
	}
	return p.indexPending()
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
		entries, err := replayWAL(f)
		if err != nil {
			return fmt.Errorf("replay %s: %w", f, err)
		}
		for i := range entries {
			fields, err := Flatten(entries[i].Raw)
			if err != nil {
				fields = nil
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
	w, err := openWAL(walName(p.dir, p.headSeq))
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.wal = w
	return nil
}

// append adds entries to the head (WAL first) and reports whether the head is full.
func (p *partition) append(entries []Entry) error {
	for len(entries) > 0 {
		p.mu.Lock()
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
		p.headIx = nil
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

// flushHead turns the head into a block: segment append, then bleve, then a
// fresh WAL. Readers keep seeing the events throughout: the block is
// published and the head cleared under one lock.
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
		// The block must be durable before its WAL goes: the WAL may hold
		// acknowledged (fsynced) events.
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
	p.headIx = nil
	p.headSeq = seq + 1
	old := p.wal
	p.wal = nw
	p.pending = append(p.pending, pendingBlock{seq, ix})
	old.close()
	os.Remove(walName(p.dir, seq)) // under the lock: Verify sees one WAL per head
	p.mu.Unlock()
	return nil
}

// syncWAL makes the head's WAL durable (group commit for acknowledged intake).
func (p *partition) syncWAL() error {
	p.mu.RLock()
	w := p.wal
	p.mu.RUnlock()
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

type pendingBlock struct {
	seq uint32
	ix  *BlockIndex
}

// blockDoc is the bleve document of one block.
func blockDoc(seq uint32, ix *BlockIndex) *document.Document {
	doc := document.NewDocument(strconv.FormatUint(uint64(seq), 10))
	opts := index.IndexField
	add := func(field, v string) {
		doc.AddField(document.NewTextFieldCustom(field, nil, []byte(v), opts, keywordAnalyzer))
	}
	for _, name := range ix.names {
		f := ix.fields[name]
		add(bleveFieldsField, name)
		dictOK, tokOK := indexable(f.Dict), indexable(f.Tokens)
		if !dictOK || !tokOK {
			add(bleveUnprunedField, name)
		}
		if dictOK {
			fn := bleveValueField(name)
			for _, v := range f.Dict {
				add(fn, v)
			}
		}
		if tokOK {
			tn := bleveTokenPrefix + name
			for _, t := range f.Tokens {
				add(tn, t)
			}
		}
	}
	return doc
}

// indexPending adds the documents of blocks flushed since the last call to
// bleve in one batch, with the new high-water mark. Batching keeps bleve's
// segment count (and merge work) low at high ingest rates; until a block is
// indexed, queries treat it as a candidate.
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
// does not rule out, and a snapshot of the head.
func (p *partition) candidates(q query.Query, from, to int64) ([]blockMeta, []Entry, uint32, *BlockIndex, error) {
	p.mu.RLock()
	blocks := p.blocks
	indexed := p.indexed
	head, headSeq, headIx := p.head, p.headSeq, p.headIx
	p.mu.RUnlock()

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
	if len(head) > 0 && headIx == nil {
		headIx = buildIndex(head)
		p.mu.Lock()
		if len(p.head) == len(head) && p.headSeq == headSeq {
			p.headIx = headIx
		}
		p.mu.Unlock()
	}
	return out, head, headSeq, headIx, nil
}

func (p *partition) diskBytes() int64 {
	var total int64
	filepath.Walk(p.dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
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

func (p *partition) close() error {
	var errs []error
	if p.wal != nil {
		errs = append(errs, p.wal.close())
	}
	if p.idx != nil {
		errs = append(errs, p.idx.Close())
	}
	errs = append(errs, p.seg.Close())
	return errors.Join(errs...)
}
