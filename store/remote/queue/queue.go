// Package queue is the disk-backed FIFO between obs and a remote engine:
// every batch obs forwards is appended to a segment file before it is sent,
// and leaves the queue only when the engine has answered for it. What the
// engine has not taken survives restarts and outages up to a size bound;
// past it the oldest batches go first, counted, because newer data is what
// people and checks look at. One queue per signal: it knows records and
// their item counts, not what they encode.
//
// On disk, <dir>/<seq>.seg files (seq: 16 hex digits, ascending), each a
// header ("OBSQ" and a format version byte) and records:
//
//	length uint32 LE | crc32c(count|data) uint32 LE | count uint32 LE | data
//
// and <dir>/cursor, where the sender has got to (segment, offset). Delivery
// is at least once: a crash can resend what was sent after the cursor's
// last write (at most CursorEvery), which remote-write engines take as
// duplicates of the same samples.
package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	magic      = "OBSQ"
	version    = 1
	headerSize = len(magic) + 1
	recHeader  = 12
	// MaxRecord bounds one record, so that a damaged length field cannot
	// make the reader allocate gigabytes.
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTooBig is returned for a record larger than the queue may hold.
var ErrTooBig = errors.New("record larger than the queue's bound")

// Options configure a queue.
type Options struct {
	// MaxBytes bounds the segment files together (default 1 GiB).
	MaxBytes int64
	// SegmentBytes is where a new segment starts (default MaxBytes/8,
	// at most 16 MiB): the unit in which the oldest data is dropped.
	SegmentBytes int64
	// CursorEvery is how often the read position is written (default 200ms).
	CursorEvery time.Duration
	Log         *slog.Logger
}

// Record is one batch as appended.
type Record struct {
	Count int    // items (samples) in Data
	Data  []byte // as appended
	seq   uint64
	end   int64
}

type segment struct {
	seq   uint64
	size  int64 // bytes of good records plus header
	items int64
}

// Stats are the queue's counters since it was opened.
type Stats struct {
	Bytes          int64 // on disk, all segments
	PendingItems   int64 // appended and not yet acknowledged
	DroppedFull    int64 // items dropped because the queue was full
	DroppedCorrupt int64 // records found damaged on disk
	// CorruptItems are the items known lost to damage (a damaged tail
	// found at open has an unknown count: see DroppedCorrupt).
	CorruptItems int64
	CorruptBytes int64
}

// Queue is safe for many appenders and one reader (Peek/Ack).
type Queue struct {
	dir string
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	segs     []segment // oldest first; the last is being written
	w        *os.File  // the last segment
	dirty    bool      // written since the last fsync
	rf       *os.File  // the segment being read
	rfSeq    uint64
	rseq     uint64 // read position
	roff     int64
	rItems   int64 // items already acknowledged in the read segment
	notify   chan struct{}
	stats    Stats
	lastCur  time.Time
	curDirty bool
	closed   bool
}

// Open opens or creates the queue in dir. A record torn by a crash at the
// end of the newest segment is cut off; damage elsewhere is skipped when
// read, and counted.
func Open(dir string, o Options) (*Queue, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(o.MaxBytes/8, 16<<20)
	}
	o.SegmentBytes = max(o.SegmentBytes, 4<<10)
	if o.CursorEvery <= 0 {
		o.CursorEvery = 200 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create queue dir %s: %w", dir, err)
	}
	q := &Queue{dir: dir, o: o, log: o.Log, notify: make(chan struct{}, 1)}
	seqs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	for i, seq := range seqs {
		seg, err := q.scan(seq, i == len(seqs)-1)
		if err != nil {
			return nil, err
		}
		q.segs = append(q.segs, seg)
	}
	if len(q.segs) == 0 {
		if err := q.newSegment(1); err != nil {
			return nil, err
		}
	} else {
		last := q.segs[len(q.segs)-1]
		f, err := os.OpenFile(q.path(last.seq), os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open queue segment: %w", err)
		}
		if _, err := f.Seek(last.size, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek queue segment: %w", err)
		}
		q.w = f
	}
	q.loadCursor()
	for _, s := range q.segs {
		q.stats.Bytes += s.size
	}
	q.recount()
	return q, nil
}

func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list queue dir %s: %w", dir, err)
	}
	var seqs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(name, 16, 64); err == nil {
			seqs = append(seqs, n)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

func (q *Queue) path(seq uint64) string { return filepath.Join(q.dir, fmt.Sprintf("%016x.seg", seq)) }

// scan reads a segment's records to learn its good size and item count.
// The newest segment's torn tail is truncated (a crash mid-append).
func (q *Queue) scan(seq uint64, newest bool) (segment, error) {
	f, err := os.OpenFile(q.path(seq), os.O_RDWR, 0o600)
	if err != nil {
		return segment{}, fmt.Errorf("open queue segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return segment{}, fmt.Errorf("stat queue segment: %w", err)
	}
	seg := segment{seq: seq}
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr[:4]) != magic || hdr[4] != version {
		if !newest && st.Size() > 0 {
			q.log.Warn("queue segment without a valid header, skipped", "segment", seq)
		}
		// A segment created but never written (crash right after create)
		// or foreign: start it afresh if newest, else leave it empty.
		if newest {
			if err := f.Truncate(0); err == nil {
				f.WriteAt(append([]byte(magic), version), 0)
				seg.size = int64(headerSize)
			}
		}
		q.stats.CorruptBytes += st.Size()
		return seg, nil
	}
	seg.size = int64(headerSize)
	for {
		count, _, n, err := ReadRecord(f, st.Size()-seg.size)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				bad := st.Size() - seg.size
				q.stats.CorruptBytes += bad
				q.stats.DroppedCorrupt++
				q.log.Warn("queue segment damaged; the rest of it is skipped", "segment", seq, "offset", seg.size, "bytes", bad, "err", err)
			}
			break
		}
		seg.size += int64(n)
		seg.items += int64(count)
	}
	if newest && seg.size < st.Size() {
		if err := f.Truncate(seg.size); err != nil {
			return seg, fmt.Errorf("truncate torn queue segment: %w", err)
		}
	}
	return seg, nil
}

// ReadRecord reads one record from r, of which at most limit bytes remain.
// io.EOF means a clean end; any other error is a damaged or torn record.
func ReadRecord(r io.Reader, limit int64) (count uint32, data []byte, n int, err error) {
	var h [recHeader]byte
	m, err := io.ReadFull(r, h[:])
	if err != nil {
		if m == 0 && (errors.Is(err, io.EOF)) {
			return 0, nil, 0, io.EOF
		}
		return 0, nil, 0, fmt.Errorf("torn record header: %w", err)
	}
	length := binary.LittleEndian.Uint32(h[0:4])
	sum := binary.LittleEndian.Uint32(h[4:8])
	count = binary.LittleEndian.Uint32(h[8:12])
	if length > MaxRecord || int64(length) > limit-recHeader {
		return 0, nil, 0, fmt.Errorf("record length %d past the segment's end or bound", length)
	}
	data = make([]byte, length)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, 0, fmt.Errorf("torn record: %w", err)
	}
	c := crc32.Update(crc32.Checksum(h[8:12], castagnoli), castagnoli, data)
	if c != sum {
		return 0, nil, 0, errors.New("record checksum mismatch")
	}
	return count, data, recHeader + int(length), nil
}

func encodeRecord(count int, data []byte) []byte {
	b := make([]byte, recHeader+len(data))
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(data)))
	binary.LittleEndian.PutUint32(b[8:12], uint32(count))
	copy(b[recHeader:], data)
	binary.LittleEndian.PutUint32(b[4:8], crc32.Update(crc32.Checksum(b[8:12], castagnoli), castagnoli, data))
	return b
}

func (q *Queue) newSegment(seq uint64) error {
	f, err := os.OpenFile(q.path(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create queue segment: %w", err)
	}
	if _, err := f.Write(append([]byte(magic), version)); err != nil {
		f.Close()
		return fmt.Errorf("write queue segment header: %w", err)
	}
	q.w = f
	q.segs = append(q.segs, segment{seq: seq, size: int64(headerSize)})
	q.stats.Bytes += int64(headerSize)
	return nil
}

// Append adds a record of count items. It returns once the record is in
// the segment file (the OS's cache; Sync makes it durable). When the queue
// is over its bound the oldest segments are dropped, their unsent items
// counted in Stats.DroppedFull.
func (q *Queue) Append(count int, data []byte) error {
	rec := encodeRecord(count, data)
	if int64(len(rec)) > min(q.o.MaxBytes/2, MaxRecord) {
		return fmt.Errorf("%w: %d bytes", ErrTooBig, len(rec))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errors.New("queue closed")
	}
	last := &q.segs[len(q.segs)-1]
	if last.size > int64(headerSize) && last.size+int64(len(rec)) > q.o.SegmentBytes {
		if err := q.rotate(); err != nil {
			return err
		}
		last = &q.segs[len(q.segs)-1]
	}
	if _, err := q.w.Write(rec); err != nil {
		// A partial write leaves a torn record that the next Open cuts
		// off; start a fresh segment so nothing follows it now.
		q.rotate()
		return fmt.Errorf("append to queue: %w", err)
	}
	last.size += int64(len(rec))
	last.items += int64(count)
	q.stats.Bytes += int64(len(rec))
	q.stats.PendingItems += int64(count)
	q.dirty = true
	q.enforceBound()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// rotate closes the written segment durably and starts the next.
func (q *Queue) rotate() error {
	if err := q.w.Sync(); err != nil {
		q.log.Warn("sync queue segment", "err", err)
	}
	q.w.Close()
	q.dirty = false
	return q.newSegment(q.segs[len(q.segs)-1].seq + 1)
}

// enforceBound drops whole segments, oldest first, while over MaxBytes.
func (q *Queue) enforceBound() {
	for q.stats.Bytes > q.o.MaxBytes && len(q.segs) > 1 {
		old := q.segs[0]
		dropped := old.items
		if old.seq == q.rseq {
			dropped -= q.rItems
			q.closeReader()
			q.rseq, q.roff, q.rItems = q.segs[1].seq, int64(headerSize), 0
			q.curDirty = true
		} else if old.seq < q.rseq {
			dropped = 0 // already sent; only its file remained
		}
		q.stats.DroppedFull += dropped
		q.stats.PendingItems -= dropped
		os.Remove(q.path(old.seq))
		q.stats.Bytes -= old.size
		q.segs = q.segs[1:]
		q.recountLocked()
		q.log.Warn("forwarding queue full: oldest data dropped", "items", dropped, "max_bytes", q.o.MaxBytes)
	}
}

// Sync makes appended records durable.
func (q *Queue) Sync() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.syncLocked()
}

func (q *Queue) syncLocked() error {
	var err error
	if q.dirty && q.w != nil {
		if err = q.w.Sync(); err != nil {
			err = fmt.Errorf("sync queue: %w", err)
		}
		q.dirty = false
	}
	if q.curDirty {
		if cerr := q.saveCursor(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// Peek returns the oldest record not yet acknowledged, waiting for one
// until ctx ends. The same record comes back until Ack.
func (q *Queue) Peek(ctx context.Context) (Record, error) {
	for {
		q.mu.Lock()
		rec, ok, err := q.next()
		q.mu.Unlock()
		if err != nil || ok {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-q.notify:
		}
	}
}

// PeekBatch returns the oldest unacknowledged records, at least one (as
// Peek waits for it) and then those that follow it in the same segment
// while together they stay within maxItems and maxBytes: a sender whose
// intake appends small records (one per client request) can send them in
// one request. The caller Acks them in order.
func (q *Queue) PeekBatch(ctx context.Context, maxItems, maxBytes int) ([]Record, error) {
	first, err := q.Peek(ctx)
	if err != nil {
		return nil, err
	}
	recs := []Record{first}
	items, size := first.Count, len(first.Data)
	q.mu.Lock()
	defer q.mu.Unlock()
	i := q.segIndex(first.seq)
	if i < 0 || q.rf == nil || q.rfSeq != first.seq {
		return recs, nil // dropped or moved on meanwhile: the first alone
	}
	end := q.segs[i].size
	for off := first.end; off < end; {
		count, data, n, err := ReadRecord(io.NewSectionReader(q.rf, off, end-off), end-off)
		if err != nil || items+int(count) > maxItems || size+len(data) > maxBytes {
			break // damage is next()'s to count when the reader gets there
		}
		off += int64(n)
		items, size = items+int(count), size+len(data)
		recs = append(recs, Record{Count: int(count), Data: data, seq: first.seq, end: off})
	}
	return recs, nil
}

// next reads at the read position, moving past finished segments and
// damaged tails.
func (q *Queue) next() (Record, bool, error) {
	for {
		if q.closed {
			return Record{}, false, errors.New("queue closed")
		}
		i := q.segIndex(q.rseq)
		if i < 0 { // the read segment was dropped or never existed
			q.closeReader()
			q.rseq, q.roff, q.rItems = q.segs[0].seq, int64(headerSize), 0
			continue
		}
		seg := q.segs[i]
		if q.roff < int64(headerSize) {
			q.roff = int64(headerSize)
		}
		if q.roff >= seg.size {
			if i == len(q.segs)-1 {
				return Record{}, false, nil // all read; wait for appends
			}
			// Finished: everything in it was acknowledged.
			q.closeReader()
			os.Remove(q.path(seg.seq))
			q.stats.Bytes -= seg.size
			q.segs = append(q.segs[:i], q.segs[i+1:]...)
			q.rseq, q.roff, q.rItems = q.segs[i].seq, int64(headerSize), 0
			q.curDirty = true
			continue
		}
		if q.rf == nil || q.rfSeq != seg.seq {
			q.closeReader()
			f, err := os.Open(q.path(seg.seq))
			if err != nil {
				return Record{}, false, fmt.Errorf("open queue segment: %w", err)
			}
			q.rf, q.rfSeq = f, seg.seq
		}
		sr := io.NewSectionReader(q.rf, q.roff, seg.size-q.roff)
		count, data, n, err := ReadRecord(sr, seg.size-q.roff)
		if err != nil {
			// Damaged on disk since it was written: skip the rest of the
			// segment (its records cannot be framed any more), counted.
			q.stats.DroppedCorrupt++
			q.stats.CorruptBytes += seg.size - q.roff
			lost := seg.items - q.rItems
			q.stats.PendingItems -= lost
			q.stats.CorruptItems += lost
			q.log.Warn("forwarding queue: damaged record, rest of segment skipped", "segment", seg.seq, "offset", q.roff, "items", lost, "err", err)
			q.segs[i].items = q.rItems
			q.stats.Bytes -= seg.size - q.roff
			q.segs[i].size = q.roff
			q.recountLocked()
			if i == len(q.segs)-1 {
				// Keep appending after the damage in a new segment.
				if err := q.rotate(); err != nil {
					return Record{}, false, err
				}
			}
			continue
		}
		return Record{Count: int(count), Data: data, seq: seg.seq, end: q.roff + int64(n)}, true, nil
	}
}

func (q *Queue) segIndex(seq uint64) int {
	for i, s := range q.segs {
		if s.seq == seq {
			return i
		}
	}
	return -1
}

func (q *Queue) closeReader() {
	if q.rf != nil {
		q.rf.Close()
		q.rf = nil
	}
}

// Ack removes the record Peek returned: the engine has it, or it was
// refused for good (the caller counts that).
func (q *Queue) Ack(r Record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.seq != q.rseq || r.end <= q.roff {
		return // dropped meanwhile by the size bound
	}
	q.roff = r.end
	q.rItems += int64(r.Count)
	q.stats.PendingItems -= int64(r.Count)
	q.curDirty = true
	if time.Since(q.lastCur) >= q.o.CursorEvery {
		if err := q.saveCursor(); err != nil {
			q.log.Warn("save queue cursor", "err", err)
		}
	}
}

// Stats returns the counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// recount sets the pending figures from the segments after a change that
// the running counts cannot follow (open, damage, drops).
func (q *Queue) recount() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.recountLocked()
}

func (q *Queue) recountLocked() {
	var items int64
	for _, s := range q.segs {
		switch {
		case s.seq > q.rseq:
			items += s.items
		case s.seq == q.rseq:
			items += s.items - q.rItems
		}
	}
	q.stats.PendingItems = items
}

func (q *Queue) cursorPath() string { return filepath.Join(q.dir, "cursor") }

// saveCursor writes the read position with a checksum (tmp + rename, so a
// crash leaves the old or the new one).
func (q *Queue) saveCursor() error {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:8], q.rseq)
	binary.LittleEndian.PutUint64(b[8:16], uint64(q.roff))
	binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[:16], castagnoli))
	tmp := q.cursorPath() + ".tmp"
	if err := os.WriteFile(tmp, b[:], 0o600); err != nil {
		return fmt.Errorf("write queue cursor: %w", err)
	}
	if err := os.Rename(tmp, q.cursorPath()); err != nil {
		return fmt.Errorf("write queue cursor: %w", err)
	}
	q.lastCur = time.Now()
	q.curDirty = false
	return nil
}

// loadCursor restores the read position and the items before it in its
// segment. A missing or damaged cursor starts at the oldest record (resent:
// at least once).
func (q *Queue) loadCursor() {
	q.rseq, q.roff = q.segs[0].seq, int64(headerSize)
	b, err := os.ReadFile(q.cursorPath())
	if err != nil || len(b) != 20 || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:20]) {
		if err == nil {
			q.log.Warn("queue cursor damaged; resending from the oldest record")
		}
		return
	}
	seq, off := binary.LittleEndian.Uint64(b[0:8]), int64(binary.LittleEndian.Uint64(b[8:16]))
	i := q.segIndex(seq)
	if i < 0 {
		return // its segment is gone: everything left is newer
	}
	// Drop segments wholly before the cursor (their deletion was cut short).
	for _, s := range q.segs[:i] {
		os.Remove(q.path(s.seq))
	}
	q.segs = q.segs[i:]
	seg := q.segs[0]
	q.rseq = seq
	// Count the items up to the cursor by walking the records: the cursor
	// only ever stands on a record boundary.
	f, err := os.Open(q.path(seq))
	if err != nil {
		return
	}
	defer f.Close()
	pos := int64(headerSize)
	f.Seek(pos, io.SeekStart)
	for pos < off && pos < seg.size {
		count, _, n, err := ReadRecord(f, seg.size-pos)
		if err != nil {
			break
		}
		pos += int64(n)
		q.rItems += int64(count)
	}
	q.roff = pos
}

// Close writes the cursor and makes everything appended durable.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.curDirty = true
	err := q.syncLocked()
	q.closed = true
	q.closeReader()
	if q.w != nil {
		if cerr := q.w.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close queue segment: %w", cerr))
		}
	}
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return err
}
