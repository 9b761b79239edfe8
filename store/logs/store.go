package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Matcher is a compiled query. The store asks it two things: which rows of
// a block match (MatchBlock; exact=false means the rows are a superset to
// be checked event by event), and whether one event matches. MatchBlock
// prunes by itself: a value absent from a column's dictionary or bloom
// filter answers "no row" without the column being read.
type Matcher interface {
	MatchBlock(b *Block) (rows Bits, exact bool)
	MatchFields(fields []Field) bool
}

// Options configure a Store.
type Options struct {
	// Retention is how long whole days are kept; 0 keeps everything.
	Retention time.Duration
	// RetentionEvery is how often expired days are looked for (default 1m).
	RetentionEvery time.Duration
	// QueueSize bounds the batches waiting for the writer.
	QueueSize int
	// QueueBytes bounds the bytes of events waiting for the writer (default
	// 256 MiB): a count alone lets 64 KiB datagrams use gigabytes.
	QueueBytes int64
	// MaxHeadAge flushes a partially filled head into a block after this long.
	MaxHeadAge time.Duration
	// CacheBytes bounds the decoded block parts (metas, columns, bloom
	// filters) kept in memory for queries (default 64 MiB).
	CacheBytes int64
	// SealWorkers is how many goroutines build and compress blocks
	// (default GOMAXPROCS).
	SealWorkers int
	// MaxOpenPartitions bounds the days whose files are open at once
	// (default 32); colder days are closed and reopened when needed.
	MaxOpenPartitions int
	Logger            *slog.Logger
	// OnAppend, when set, sees every batch once it is searchable (live tail).
	OnAppend func([]Entry)
}

// Stats are the store's counters, for /metrics and /health.
type Stats struct {
	Stored     atomic.Int64
	Dropped    atomic.Int64 // queue full
	WriteError atomic.Int64
	Queued     atomic.Int64
	QueuedB    atomic.Int64
	// FieldsRejected counts field paths not indexed because a block
	// already had MaxFieldsPerBlock distinct ones (the event is kept whole).
	FieldsRejected atomic.Int64
}

func entriesBytes(es []Entry) int64 {
	n := int64(0)
	for i := range es {
		n += int64(len(es[i].Raw)) + int64(len(es[i].Fields))*64 + 64 // raw, fields (when an intake made them), entry
	}
	return n
}

// Store is the logs store rooted at one directory.
//
// Entries handed to the store (Append, TryAppend, Commit) belong to it from
// then on: their Raw bytes are kept as they are until the head becomes a
// block, so a caller must never reuse the buffer they point into.
type Store struct {
	dir   string
	opts  Options
	log   *slog.Logger
	Stats Stats

	mu    sync.RWMutex
	parts map[string]*partition

	queue      chan queued
	room       chan struct{} // pinged by the writer after each write: queue bytes went down
	ctl        chan ctlReq
	done       chan struct{}
	closing    sync.Once
	stopSealer sync.Once
	closeMu    sync.RWMutex // senders hold it shared so Close never closes under them
	closed     bool
	lastErr    atomic.Pointer[string]

	probMu   sync.Mutex
	problems []string

	cache  *blockCache
	codec  *codec
	sealer *sealer
}

// queued is one batch waiting for the writer. done, when set, receives the
// outcome once the batch is in the write-ahead log on disk (fsynced).
type queued struct {
	entries []Entry
	bytes   int64
	done    chan error
}

// ErrQueueFull means the writer is behind by more than Options.QueueBytes:
// intakes that can say "retry later" (HTTP 503) do so.
var ErrQueueFull = errors.New("logs store queue full")

// errClosed is returned to writers after Close.
var errClosed = errors.New("logs store closed")

// Open opens (or creates) the store in dir and starts its writer.
func Open(dir string, opts Options) (*Store, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.MaxHeadAge <= 0 {
		opts.MaxHeadAge = 5 * time.Minute
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = 256 << 20
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 64 << 20
	}
	if opts.SealWorkers <= 0 {
		opts.SealWorkers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxOpenPartitions <= 0 {
		opts.MaxOpenPartitions = 32
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create logs dir: %w", err)
	}
	s := &Store{dir: dir, opts: opts, log: opts.Logger, parts: map[string]*partition{},
		queue: make(chan queued, opts.QueueSize), room: make(chan struct{}, 1),
		ctl: make(chan ctlReq), done: make(chan struct{}),
		cache: newBlockCache(opts.CacheBytes), codec: newCodec(opts.SealWorkers)}
	if err := checkFormat(dir); err != nil {
		return nil, err
	}
	if err := s.loadDays(); err != nil {
		return nil, err
	}
	s.sealer = newSealer(opts.SealWorkers, s.codec, s.appendSealed)
	// Heads frozen but not sealed when the process stopped.
	for _, p := range s.partitionList() {
		for _, j := range p.replayed {
			p.mu.Lock()
			p.sealing = append(p.sealing, j)
			p.sealWG.Add(1)
			p.mu.Unlock()
			s.sealer.submit(j)
		}
		p.replayed = nil
	}
	go s.writer()
	return s, nil
}

// full says whether the bytes waiting for the writer are over the bound.
func (s *Store) full() bool { return s.Stats.QueuedB.Load() > s.opts.QueueBytes }

// enqueue hands a batch to the writer without waiting; false when there is
// no room. The caller holds closeMu shared.
func (s *Store) enqueue(q queued) bool {
	if s.full() {
		return false
	}
	select {
	case s.queue <- q:
		s.Stats.Queued.Add(int64(len(q.entries)))
		s.Stats.QueuedB.Add(q.bytes)
		return true
	default:
		return false
	}
}

// TryAppend queues entries without blocking; when the queue is full the
// entries are dropped, counted, and false is returned (UDP).
func (s *Store) TryAppend(entries []Entry) bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed || !s.enqueue(queued{entries: entries, bytes: entriesBytes(entries)}) {
		s.Stats.Dropped.Add(int64(len(entries)))
		return false
	}
	return true
}

// Append queues entries, waiting while the queue is full: a TCP sender stops
// being read, which is its backpressure.
func (s *Store) Append(ctx context.Context, entries []Entry) error {
	return s.wait(ctx, queued{entries: entries, bytes: entriesBytes(entries)})
}

func (s *Store) wait(ctx context.Context, q queued) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	for {
		if s.closed {
			return errClosed
		}
		if s.enqueue(q) {
			return nil
		}
		// The writer pings room after every write; the timer covers a
		// ping taken by another waiter.
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-s.room:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.Stats.Dropped.Add(int64(len(q.entries)))
			return ctx.Err()
		case <-s.done:
			t.Stop()
			return errClosed
		}
		t.Stop()
	}
}

// Commit stores entries and returns once they are in the write-ahead log on
// disk, so that an intake may acknowledge them: a crash after Commit returns
// loses none of them. It does not wait for room: when the queue is full it
// returns ErrQueueFull at once and the sender is told to retry.
func (s *Store) Commit(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	q := queued{entries: entries, bytes: entriesBytes(entries), done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errClosed
	}
	ok := s.enqueue(q)
	s.closeMu.RUnlock()
	if !ok {
		return ErrQueueFull
	}
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		// The batch is queued and will be stored; only the answer is lost.
		return ctx.Err()
	}
}

// maxGroup is the most events the writer takes into one write: enough for
// group commit to pay (one WAL write and fsync for many senders), small
// enough that a sender's wait stays short.
const maxGroup = 4 * BlockSize

// writer is the only goroutine that writes partitions.
func (s *Store) writer() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	every := s.opts.RetentionEvery
	if every <= 0 {
		every = time.Minute
	}
	retention := time.NewTicker(every)
	defer retention.Stop()
	s.applyRetention()
	for {
		select {
		case q, ok := <-s.queue:
			if !ok {
				s.flushAll(true)
				close(s.done)
				return
			}
			group := []queued{q}
			n := len(q.entries)
			closed := false
			// Coalesce whatever else is waiting into one write.
			for more := true; more && n < maxGroup; {
				select {
				case q2, ok2 := <-s.queue:
					if !ok2 {
						more, closed = false, true
						break
					}
					group = append(group, q2)
					n += len(q2.entries)
				default:
					more = false
				}
			}
			s.writeGroup(group)
			if closed {
				s.flushAll(true)
				close(s.done)
				return
			}
		case req := <-s.ctl:
			s.drain()
			if req.run != nil {
				req.run()
			} else if req.flush {
				s.flushAll(true)
			} else {
				s.waitSealed()
			}
			close(req.done)
		case <-tick.C:
			s.retrySealed()
			s.flushAll(false)
		case <-retention.C:
			s.applyRetention()
		}
	}
}

// writeGroup stores the batches of a group with one WAL write per day
// partition, fsyncs those WALs when a sender waits for durability, and then
// answers each waiting sender with the outcome for its own events.
func (s *Store) writeGroup(group []queued) {
	var batch []Entry
	var bytes int64
	wait := false
	for _, q := range group {
		batch = append(batch, q.entries...)
		bytes += q.bytes
		wait = wait || q.done != nil
	}
	s.Stats.Queued.Add(-int64(len(batch)))
	s.Stats.QueuedB.Add(-bytes)
	select {
	case s.room <- struct{}{}:
	default:
	}
	failed := s.write(batch, wait)
	for _, q := range group {
		if q.done == nil {
			continue
		}
		var err error
		for i := range q.entries {
			if e := failed[dayName(q.entries[i].TS)]; e != nil {
				err = e
				break
			}
		}
		q.done <- err
	}
}

// write stores a batch, split by day; it returns the error of each day that
// failed. With sync, each day's WAL is fsynced after the write.
func (s *Store) write(batch []Entry, sync bool) map[string]error {
	byDay := map[string][]Entry{}
	for i := range batch {
		e := batch[i]
		e.Fields = nil // the sealer reads the event itself; the head keeps bytes only
		d := dayName(e.TS)
		byDay[d] = append(byDay[d], e)
	}
	var failed map[string]error
	for day, entries := range byDay {
		p, err := s.partition(day)
		if err == nil {
			err = s.begin(p)
		}
		if err == nil {
			err = p.append(entries, s.sealer, sync)
			if err == nil && sync {
				err = p.syncWAL()
			}
			s.end(p)
		}
		if err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[day] = err
			s.Stats.WriteError.Add(int64(len(entries)))
			s.setErr(err)
			s.log.Error("store log events", "partition", day, "err", err)
			continue
		}
		s.Stats.Stored.Add(int64(len(entries)))
	}
	if failed == nil {
		s.clearErr()
	}
	if s.opts.OnAppend != nil {
		s.opts.OnAppend(batch)
	}
	return failed
}

func (s *Store) setErr(err error) { msg := err.Error(); s.lastErr.Store(&msg) }
func (s *Store) clearErr()        { s.lastErr.Store(nil) }

// Err is the last write error, or "" while writes succeed.
func (s *Store) Err() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// flushAll freezes the heads due (all of them when forced, else those
// older than MaxHeadAge); forced, it waits for their blocks.
func (s *Store) flushAll(force bool) {
	defer s.evict(nil) // days done with are closed
	for _, p := range s.partitionList() {
		p.mu.RLock()
		due := len(p.head) > 0 && (force || time.Since(p.headAt) >= s.opts.MaxHeadAge)
		p.mu.RUnlock()
		if !due {
			continue
		}
		err := s.begin(p)
		if err == nil {
			err = p.freeze(s.sealer, false)
			s.end(p)
		}
		if err != nil {
			s.setErr(err)
			s.log.Error("flush log block", "partition", p.name, "err", err)
		}
	}
	if force {
		s.waitSealed()
	}
}

func (s *Store) partitionList() []*partition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// applyRetention removes whole days older than the retention.
func (s *Store) applyRetention() {
	if s.opts.Retention <= 0 {
		return
	}
	cutoff := time.Now().UTC().Add(-s.opts.Retention)
	for _, p := range s.partitionList() {
		if p.day.Add(24 * time.Hour).Before(cutoff) {
			s.drop(p, "retention")
		}
	}
}

// Close stops the writer after it has stored everything queued, flushes the
// heads into blocks and closes every partition.
func (s *Store) Close() error {
	s.closing.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.queue)
		s.closeMu.Unlock()
	})
	<-s.done
	s.stopSealer.Do(s.sealer.stop)
	return s.closeParts()
}

func (s *Store) closeParts() error {
	var errs []error
	for _, p := range s.partitionList() {
		errs = append(errs, p.close())
	}
	return errors.Join(errs...)
}

// Partitions lists the day partitions, oldest first.
func (s *Store) Partitions() []string {
	var out []string
	for _, p := range s.partitionList() {
		out = append(out, p.name)
	}
	return out
}

// DiskBytes is the size of everything under the store's directory.
func (s *Store) DiskBytes() int64 {
	var n int64
	for _, p := range s.partitionList() {
		n += p.diskBytes()
	}
	return n
}

// Flush stores everything queued before the call and turns every head
// into a block (shutdown, tests and benchmarks).
func (s *Store) Flush() { s.control(true) }

// Sync returns once everything queued before the call is searchable and
// every frozen head is a block in its segment.
func (s *Store) Sync() { s.control(false) }

func (s *Store) control(flush bool) {
	req := ctlReq{flush: flush, done: make(chan struct{})}
	select {
	case s.ctl <- req:
		<-req.done
	case <-s.done:
	}
}

type ctlReq struct {
	flush bool
	run   func() // runs on the writer instead of a flush
	done  chan struct{}
}

// drain writes whatever is queued right now.
func (s *Store) drain() {
	for {
		select {
		case q, ok := <-s.queue:
			if !ok {
				return
			}
			s.writeGroup([]queued{q})
		default:
			return
		}
	}
}
