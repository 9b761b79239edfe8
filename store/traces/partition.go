package traces

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// partition is one UTC hour of spans (by span timestamp; spans without one
// go to the hour they arrived in) under <root>/v2/<2006-01-02T15>/:
//
//	spans.dat    blocks (block.go), append-only
//	traces.idx   trace id → blocks, written by compaction (tindex.go)
//	wal-N.log    the head: spans not yet in a block (wal.go)
//
// Only the store's writer goroutine changes a partition; mu guards the
// in-memory state readers look at (short critical sections), io keeps the
// files open while readers read them without holding mu.
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
	index     *traceIndex // covers blocks[:index.covered]
	lastWrite time.Time
	dead      bool

	io   sync.RWMutex // readers hold it shared while reading files; close takes it
	f    *os.File     // spans.dat
	size int64        // end of the valid blocks

	// Writer-only state.
	wal      *wal
	walFiles []string
	walNext  int
	maxSeq   uint64 // highest seq in a block
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
	p := &partition{name: partitionName(hour), hour: hour, log: log}
	p.dir = filepath.Join(root, p.name)
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition %s: %w", p.name, err)
	}
	f, err := os.OpenFile(filepath.Join(p.dir, "spans.dat"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open partition %s: %w", p.name, err)
	}
	p.f = f
	if err := p.scanBlocks(intern); err != nil {
		f.Close()
		return nil, err
	}
	if ix, err := openTraceIndex(filepath.Join(p.dir, "traces.idx")); err == nil {
		if ix.covered <= len(p.blocks) {
			p.index = ix
			for _, b := range p.blocks[:ix.covered] {
				b.traceBloom = nil
			}
		} else {
			ix.close() // covers blocks that were cut off: rebuild it
			log.Warn("trace index covers more blocks than the partition holds; it will be rebuilt", "partition", p.name)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("unreadable trace index; it will be rebuilt", "partition", p.name, "err", err)
	}
	if err := p.replayWAL(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *partition) scanBlocks(intern func(string) string) error {
	st, err := p.f.Stat()
	if err != nil {
		return fmt.Errorf("stat partition %s: %w", p.name, err)
	}
	var off int64
	hdr := make([]byte, blockHeaderSize)
	for off+blockHeaderSize <= st.Size() {
		if _, err := p.f.ReadAt(hdr, off); err != nil {
			break
		}
		m, err := parseHeader(hdr, nil, intern)
		if err != nil && !errors.Is(err, errTorn) {
			return fmt.Errorf("partition %s: %w", p.name, err)
		}
		if err != nil || off+blockHeaderSize+int64(m.sumLen)+int64(m.colLen)+int64(m.jsonLen) > st.Size() {
			break
		}
		sum := make([]byte, m.sumLen)
		if _, err := p.f.ReadAt(sum, off+blockHeaderSize); err != nil {
			break
		}
		if m, err = parseHeader(hdr, sum, intern); err != nil {
			break
		}
		m.off = off
		// Blocks are appended and fsynced one at a time, so only the last
		// one can be torn: check its payload too.
		if m.end() == st.Size() && !p.payloadOK(m) {
			break
		}
		p.blocks = append(p.blocks, m)
		p.maxSeq = max(p.maxSeq, m.lastSeq)
		off = m.end()
	}
	if off < st.Size() {
		p.log.Warn("cutting a torn span block", "partition", p.name, "at", off, "size", st.Size())
		if err := p.f.Truncate(off); err != nil {
			return fmt.Errorf("truncate torn block in %s: %w", p.name, err)
		}
	}
	p.size = off
	return nil
}

func (p *partition) payloadOK(m *blockMeta) bool {
	b := make([]byte, int(m.colLen)+int(m.jsonLen))
	if _, err := p.f.ReadAt(b, m.colOff()); err != nil {
		return false
	}
	return crc32.Checksum(b[:m.colLen], crcTable) == m.colCRC && crc32.Checksum(b[m.colLen:], crcTable) == m.jsonCRC
}

func (p *partition) replayWAL() error {
	names, err := filepath.Glob(filepath.Join(p.dir, "wal-*.log"))
	if err != nil {
		return err
	}
	sort.Slice(names, func(i, j int) bool { return walNum(names[i]) < walNum(names[j]) })
	for _, n := range names {
		recs, valid, size, err := readWAL(n)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.seq <= p.maxSeq {
				continue // already in a block (a crash between sealing and removing the WAL)
			}
			rw, err := rowFromJSON(r.json, r.seq)
			if err != nil {
				p.log.Warn("skipping an unreadable WAL record", "partition", p.name, "seq", r.seq, "err", err)
				continue
			}
			p.head = append(p.head, rw)
			p.headBytes += len(r.json)
		}
		if valid < size {
			p.log.Warn("cutting a torn span WAL record", "partition", p.name, "wal", filepath.Base(n), "at", valid)
			if err := os.Truncate(n, valid); err != nil {
				return fmt.Errorf("truncate torn wal: %w", err)
			}
		}
		p.walFiles = append(p.walFiles, n)
		p.walNext = max(p.walNext, walNum(n)+1)
	}
	if len(p.head) == 0 {
		// Every record is in a block already: the WALs are stale.
		for _, n := range p.walFiles {
			os.Remove(n)
		}
		p.walFiles = nil
	} else {
		p.headSince = time.Now()
	}
	return nil
}

func walNum(path string) int {
	var n int
	fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "wal-"), ".log"), "%d", &n)
	return n
}

// appendRows writes rows to the WAL and the head (writer only).
func (p *partition) appendRows(rows []row) error {
	if p.wal == nil {
		path := filepath.Join(p.dir, fmt.Sprintf("wal-%06d.log", p.walNext))
		w, err := openWAL(path)
		if err != nil {
			return err
		}
		p.walNext++
		p.wal = w
		p.walFiles = append(p.walFiles, path)
	}
	if err := p.wal.append(rows); err != nil {
		return err
	}
	p.mu.Lock()
	if len(p.head) == 0 {
		p.headSince = time.Now()
	}
	p.head = append(p.head, rows...)
	for i := range rows {
		p.headBytes += len(rows[i].JSON)
	}
	p.lastWrite = time.Now()
	p.mu.Unlock()
	return nil
}

func (p *partition) syncWAL() error {
	if p.wal == nil {
		return nil
	}
	return p.wal.sync()
}

// seal turns the head into a block: append, fsync, then publish the block
// and drop the WAL (writer only).
func (p *partition) seal(intern func(string) string) (*blockMeta, error) {
	p.mu.RLock()
	head := p.head
	p.mu.RUnlock()
	if len(head) == 0 {
		return nil, nil
	}
	buf, m := encodeBlock(head, intern)
	m.off = p.size
	if _, err := p.f.WriteAt(buf, p.size); err != nil {
		p.f.Truncate(p.size)
		return nil, fmt.Errorf("write span block in %s: %w", p.name, err)
	}
	if err := p.f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync span block in %s: %w", p.name, err)
	}
	if p.size == 0 {
		if err := syncDir(p.dir); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	p.size += int64(len(buf))
	p.blocks = append(p.blocks, m)
	p.head = nil
	p.headBytes = 0
	p.mu.Unlock()
	p.maxSeq = max(p.maxSeq, m.lastSeq)
	if p.wal != nil {
		p.wal.close()
		p.wal = nil
	}
	for _, n := range p.walFiles {
		if err := os.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("remove sealed span WAL", "partition", p.name, "err", err)
		}
	}
	p.walFiles = nil
	return m, nil
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
	ix := p.index
	p.mu.Unlock()
	p.io.Lock()
	defer p.io.Unlock()
	var errs []error
	if p.wal != nil {
		errs = append(errs, p.wal.close())
		p.wal = nil
	}
	if ix != nil {
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
	n := 256 + p.headBytes*2 + len(p.head)*200
	for _, b := range p.blocks {
		n += b.memBytes()
	}
	if p.index != nil {
		n += p.index.memBytes()
	}
	return n
}
