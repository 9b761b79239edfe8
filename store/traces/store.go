// Package traces stores Zipkin spans on disk, bounded in memory, under
// <data>/traces/v2/:
//
//   - one partition per UTC hour (partition.go): a write-ahead log for the
//     head, then zstd-compressed blocks of about a thousand spans, each with
//     columns that searches and the dependency linker read without parsing
//     JSON, and a small in-memory summary (bloom filters over trace ids and
//     search tokens, the services present) so that a search reads only the
//     blocks of its window that may match and a trace lookup only the blocks
//     that may hold the trace;
//   - per partition, a trace id → blocks map for its newest blocks and
//     trace index runs on disk for the rest (tindex.go), so finding a trace
//     costs a map lookup and a small read per run;
//   - names.log (names.go): service, span and remote service names and tag
//     keys, so the name routes never read spans;
//   - deps.state (deps.go): dependency links aggregated per hour as spans
//     arrive, as Zipkin's dependencies job does per day.
//
// Memory holds the heads (bounded), block summaries, a bounded cache of
// decoded blocks and the name and link aggregates, not the spans. Intakes
// hand batches to Commit, which returns once they are in the WAL on disk
// (group commit); the queue between intakes and the single writer
// goroutine is bounded in bytes and Commit says ErrQueueFull past it.
// Retention removes whole partitions.
package traces

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure the store.
type Options struct {
	// Retention is how long whole hours are kept; 0 keeps everything.
	Retention time.Duration
	// RetentionEvery is how often expired hours are looked for (default 1m).
	RetentionEvery time.Duration
	// QueueBytes bounds the spans waiting for the writer (default 64 MiB).
	QueueBytes int64
	// MaxHeadAge seals a partly filled head into a block after this long
	// (default 1m): the WAL stays short and the head's memory is released.
	MaxHeadAge time.Duration
	// CacheBytes bounds the decoded blocks kept for searches and trace
	// lookups (default 16 MiB).
	CacheBytes int
	Logger     *slog.Logger
}

// Stats are the store's counters, for /metrics and /health.
type Stats struct {
	Stored      atomic.Int64
	Dropped     atomic.Int64 // refused: queue full
	WriteErrors atomic.Int64
	Queued      atomic.Int64
	QueuedB     atomic.Int64
	Blocks      atomic.Int64
	Compactions atomic.Int64
}

const (
	blockSpans     = 1024    // spans per block, at most
	blockJSONBytes = 1 << 20 // JSON bytes per block, at most
	maxHeadSpans   = 64 << 10
	// Searches look for matching spans up to this long after the window:
	// a trace whose root is in the window may have its matching span
	// later.
	searchSlack = int64(time.Hour / time.Microsecond)
)

// Store is the span store.
type Store struct {
	dir, root string
	opts      Options
	log       *slog.Logger
	Stats     Stats

	mu    sync.RWMutex
	parts map[int64]*partition // by hour

	internMu sync.Mutex
	interned map[string]string

	names *nameIndex
	deps  *depsAgg
	cache *blockCache

	queue   chan queued
	room    chan struct{}
	ctl     chan ctlReq
	done    chan struct{}
	closing sync.Once
	closeMu sync.RWMutex
	closed  bool
	syncq   chan syncReq  // writer → syncer: what to fsync before answering whom
	sealq   chan sealJob  // writer → sealer: frozen heads to write as blocks
	linkq   chan linkJob  // writer → linker: epochs of spans to link
	maint   chan struct{} // wakes the maintainer
	stop    chan struct{}
	wg      sync.WaitGroup
	lastErr atomic.Pointer[string]

	nextSeq   uint64   // writer only, once open
	links     *linkBuf // writer only: the current epoch
	groupRows []row    // writer only: scratch for a group's rows
}

// linkJob is an epoch for the linker; next is the first seq after it.
type linkJob struct {
	buf  *linkBuf
	next uint64
	done chan struct{}
}

type queued struct {
	rows  []row
	bytes int64
	done  chan error
}

// syncReq asks the syncer to fsync WALs (and names.log) and then answer
// the senders whose spans they hold.
type syncReq struct {
	wals    []*wal
	waiters []chan error
}

type ctlReq struct {
	seal, deps bool
	// removeBefore, when set, removes the hours ending before it (the
	// disk budget); removed names what went.
	removeBefore time.Time
	removed      *[]string
	reply        chan []chan struct{} // the writer says what to wait for next
}

// ErrQueueFull means the writer is behind by more than Options.QueueBytes:
// the intake answers 503 and the sender retries.
var ErrQueueFull = errors.New("span store queue full")

var errClosed = errors.New("span store closed")

// Open opens the store in dir (creating it), migrating a data dir written
// by the previous format first.
func Open(dir string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create traces dir: %w", err)
	}
	if err := migrateV1(dir, o); err != nil {
		return nil, err
	}
	s, err := openRoot(dir, filepath.Join(dir, "v2"), o)
	if err != nil {
		return nil, err
	}
	s.start()
	return s, nil
}

// openRoot opens the store's files without starting its goroutines.
func openRoot(dir, root string, o Options) (*Store, error) {
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	if o.MaxHeadAge <= 0 {
		o.MaxHeadAge = time.Minute
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 16 << 20
	}
	if o.RetentionEvery <= 0 {
		o.RetentionEvery = time.Minute
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create traces dir: %w", err)
	}
	s := &Store{dir: dir, root: root, opts: o, log: o.Logger, parts: map[int64]*partition{}, interned: map[string]string{},
		cache: newBlockCache(o.CacheBytes), queue: make(chan queued, 4096), room: make(chan struct{}, 1),
		ctl: make(chan ctlReq), done: make(chan struct{}), maint: make(chan struct{}, 1), stop: make(chan struct{}),
		syncq: make(chan syncReq, 1024), sealq: make(chan sealJob, 64), linkq: make(chan linkJob, 1), links: newLinkBuf()}
	var err error
	if s.names, err = openNames(filepath.Join(root, "names.log")); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		s.names.close()
		return nil, fmt.Errorf("list span partitions: %w", err)
	}
	for _, e := range entries {
		hour, ok := parsePartitionName(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		p, err := openPartition(root, hour, s.intern, s.log)
		if err != nil {
			s.closeFiles()
			return nil, err
		}
		s.parts[hour] = p
		s.nextSeq = max(s.nextSeq, p.maxSeq)
		for i := range p.head {
			s.nextSeq = max(s.nextSeq, p.head[i].Seq)
		}
		if len(p.head) > 0 {
			// Names of a head are written before its WAL; noting them
			// again is cheap and covers a crash in between.
			s.names.observe(p.head, hour)
		}
		s.Stats.Blocks.Add(int64(len(p.blocks)))
	}
	s.nextSeq++
	s.deps = newDeps(filepath.Join(root, "deps.state"))
	if err := s.deps.load(); err != nil {
		s.log.Warn("dependency links state unreadable; relinking every stored span", "err", err)
		s.deps = newDeps(s.deps.path)
	}
	if err := s.relink(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

func (s *Store) start() {
	s.wg.Add(5)
	go func() { defer s.wg.Done(); s.writer() }()
	go func() { defer s.wg.Done(); s.syncer() }()
	go func() { defer s.wg.Done(); s.sealer() }()
	go func() { defer s.wg.Done(); s.linker() }()
	go func() { defer s.wg.Done(); s.maintainer() }()
}

// sealer writes frozen heads as blocks, beside the writer.
func (s *Store) sealer() {
	for job := range s.sealq {
		m, err := job.p.seal(job, s.intern)
		switch {
		case errors.Is(err, errPartitionGone):
		case err != nil:
			s.setErr(err)
			s.log.Error("seal span block", "partition", job.p.name, "err", err)
		default:
			s.Stats.Blocks.Add(1)
			job.p.mu.RLock()
			loose := len(job.p.blocks) - job.p.covered
			job.p.mu.RUnlock()
			if m != nil && loose >= runBlocks {
				select {
				case s.maint <- struct{}{}:
				default:
				}
			}
		}
		if job.done != nil {
			close(job.done)
		}
	}
}

// linker links epochs of spans into the hourly dependency rows, beside
// the writer, and saves them.
func (s *Store) linker() {
	for job := range s.linkq {
		if err := s.deps.link(job.buf, s.storedRows, job.next); err != nil {
			s.setErr(err)
			s.log.Error("link dependencies", "err", err)
		}
		job.buf.release()
		if err := s.deps.save(false); err != nil {
			s.setErr(err)
			s.log.Error("save dependency links", "err", err)
		}
		if job.done != nil {
			close(job.done)
		}
	}
	if err := s.deps.save(true); err != nil {
		s.log.Error("save dependency links", "err", err)
	}
}

// syncer fsyncs what the writer wrote and answers the senders waiting for
// it. Running beside the writer, it pipelines group commit: while one
// fsync runs, the writer writes the next batches, and the next fsync
// covers all of them.
func (s *Store) syncer() {
	for req := range s.syncq {
		reqs := []syncReq{req}
		for more := true; more; {
			select {
			case r, ok := <-s.syncq:
				if !ok {
					more = false
					break
				}
				reqs = append(reqs, r)
			default:
				more = false
			}
		}
		seen := map[*wal]bool{}
		var err error
		for _, r := range reqs {
			for _, w := range r.wals {
				if seen[w] {
					continue
				}
				seen[w] = true
				// A WAL closed meanwhile belongs to a partition retention
				// removed: nothing left to make durable.
				if e := w.sync(); e != nil && !errors.Is(e, os.ErrClosed) && err == nil {
					err = e
				}
			}
		}
		if e := s.names.sync(); e != nil && err == nil {
			err = e
		}
		n := 0
		for _, r := range reqs {
			for _, w := range r.waiters {
				w <- err
				n++
			}
		}
		if err != nil {
			s.setErr(err)
			s.log.Error("fsync span WAL", "batches", n, "err", err)
		}
	}
}

// intern shares one copy of each service name among block summaries.
func (s *Store) intern(v string) string {
	s.internMu.Lock()
	defer s.internMu.Unlock()
	if i, ok := s.interned[v]; ok {
		return i
	}
	if len(s.interned) < maxServices {
		s.interned[v] = v
	}
	return v
}

func (s *Store) partitionList() []*partition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *partition) int { return cmp.Compare(a.hour, b.hour) })
	return out
}

// relink links again the spans stored after the dependency watermark (a
// crash since the last save, or no saved state at all).
func (s *Store) relink() error {
	wm := s.deps.watermark
	var rows []row
	var seed []uint64
	for _, p := range s.partitionList() {
		for _, b := range p.blocks {
			if b.lastSeq < wm && b.lastSeq+genCount*genCap < wm {
				continue
			}
			d, err := s.rowsOf(p, b)
			if err != nil {
				return err
			}
			for i := range d.rows {
				if d.rows[i].Seq >= wm {
					rows = append(rows, linkRow(&d.rows[i]))
				} else {
					seed = append(seed, d.rows[i].TraceLo)
				}
			}
		}
		for i := range p.head {
			if p.head[i].Seq >= wm {
				rows = append(rows, linkRow(&p.head[i]))
			} else {
				seed = append(seed, p.head[i].TraceLo)
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	s.log.Info("linking dependencies of spans stored since the last save", "spans", len(rows))
	// Traces linked just before the watermark may get more spans now.
	for _, lo := range seed {
		s.deps.remember(lo)
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.Seq, b.Seq) })
	buf := newLinkBuf()
	for i := range rows {
		buf.add(&rows[i])
		if buf.spans >= maxEpochSpans {
			if err := s.deps.link(buf, s.storedRows, rows[i].Seq+1); err != nil {
				return err
			}
			buf = newLinkBuf()
		}
	}
	if err := s.deps.link(buf, s.storedRows, s.nextSeq); err != nil {
		return err
	}
	return s.deps.save(true)
}

// full says whether the bytes waiting for the writer are over the bound.
func (s *Store) full() bool { return s.Stats.QueuedB.Load() > s.opts.QueueBytes }

// Commit stores spans and returns once they are in the write-ahead log on
// disk, so that an intake may acknowledge them: a crash after Commit
// returns loses none of them. It does not wait for room: past
// Options.QueueBytes it returns ErrQueueFull at once.
func (s *Store) Commit(ctx context.Context, spans []Span) error {
	if len(spans) == 0 {
		return nil
	}
	// The sender's goroutine does the per-span work, so that senders on
	// several cores feed the one writer.
	q := queued{rows: make([]row, len(spans)), done: make(chan error, 1)}
	for i := range spans {
		q.rows[i] = rowOf(spans[i].Model, spans[i].JSON, 0)
		q.bytes += spanBytes(&spans[i])
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errClosed
	}
	ok := !s.full()
	if ok {
		select {
		case s.queue <- q:
			s.Stats.Queued.Add(int64(len(q.rows)))
			s.Stats.QueuedB.Add(q.bytes)
		default:
			ok = false
		}
	}
	s.closeMu.RUnlock()
	if !ok {
		s.Stats.Dropped.Add(int64(len(spans)))
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

// maxGroup is the most spans the writer takes into one group commit.
const maxGroup = 8 * blockSpans

func (s *Store) writer() {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	retention := time.NewTicker(s.opts.RetentionEvery)
	defer retention.Stop()
	s.applyRetention()
	for {
		select {
		case q, ok := <-s.queue:
			if !ok {
				s.shutdown()
				return
			}
			group := []queued{q}
			n := len(q.rows)
			closed := false
			for more := true; more && n < maxGroup; {
				select {
				case q2, ok2 := <-s.queue:
					if !ok2 {
						more, closed = false, true
						break
					}
					group = append(group, q2)
					n += len(q2.rows)
				default:
					more = false
				}
			}
			s.writeGroup(group)
			if closed {
				s.shutdown()
				return
			}
		case req := <-s.ctl:
			s.drain()
			var wait []chan struct{}
			if req.seal {
				wait = s.sealAll(true)
			}
			if req.deps || req.seal {
				wait = append(wait, s.sendLinks(true))
			}
			if !req.removeBefore.IsZero() {
				*req.removed = s.removeHours(hourOf(req.removeBefore.UnixMicro()), "disk budget")
			}
			req.reply <- wait
		case <-tick.C:
			s.sealAll(false)
			s.trimWALs()
			if s.links.due() {
				s.sendLinks(false)
			}
		case <-retention.C:
			s.applyRetention()
		}
	}
}

func (s *Store) shutdown() {
	for _, w := range s.sealAll(true) {
		<-w
	}
	close(s.sealq)
	s.sendLinks(true)
	close(s.linkq)
	close(s.syncq) // the syncer answers what is left and stops
	close(s.done)
}

// sendLinks hands the current epoch to the linker: at once when wait (the
// returned channel closes once it is linked), else only if the linker is
// free or the epoch has grown large.
func (s *Store) sendLinks(wait bool) chan struct{} {
	done := make(chan struct{})
	job := linkJob{buf: s.links, next: s.nextSeq, done: done}
	if wait || s.links.spans >= 4*maxEpochSpans {
		s.linkq <- job
	} else {
		select {
		case s.linkq <- job:
		default:
			return nil
		}
	}
	s.links = newLinkBuf()
	return done
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

// writeGroup stores a group of batches: per hour, one WAL write; the
// syncer then fsyncs and answers the senders waiting, while the writer goes
// on with the next group and seals full heads into blocks.
func (s *Store) writeGroup(group []queued) {
	var bytes int64
	var first int64
	byHour := make(map[int64][]row, 1)
	hours := make([][]int64, len(group))
	total := sumRows(group)
	for g, q := range group {
		bytes += q.bytes
		hours[g] = make([]int64, len(q.rows))
		for i := range q.rows {
			r := &q.rows[i]
			r.Seq = s.nextSeq
			s.nextSeq++
			h := hourOf(r.TS)
			hours[g][i] = h
			rows, ok := byHour[h]
			switch {
			case ok:
			case len(byHour) == 0:
				// Most groups fall in one hour: its rows go in the
				// writer's scratch slice, reused group after group.
				first = h
				if rows = s.groupRows[:0]; cap(rows) < total {
					rows = make([]row, 0, total)
				}
			default:
				rows = make([]row, 0, total)
			}
			byHour[h] = append(rows, *r)
		}
	}
	failed := map[int64]error{}
	var touched []*partition
	var req syncReq
	for h, rows := range byHour {
		p, err := s.partition(h)
		if err == nil {
			err = s.names.observe(rows, h)
		}
		var w *wal
		if err == nil {
			w, err = p.appendRows(rows)
		}
		if err != nil {
			failed[h] = err
			continue
		}
		touched = append(touched, p)
		req.wals = append(req.wals, w)
	}
	n := 0
	for g, q := range group {
		var err error
		for i := range q.rows {
			if e := failed[hours[g][i]]; e != nil {
				err = e
				break
			}
		}
		switch {
		case err != nil:
			s.Stats.WriteErrors.Add(int64(len(q.rows)))
			s.setErr(err)
			s.log.Error("store spans", "spans", len(q.rows), "err", err)
			if q.done != nil {
				q.done <- err
			}
		case q.done != nil:
			req.waiters = append(req.waiters, q.done)
			n += len(q.rows)
		default:
			n += len(q.rows)
		}
	}
	if len(req.waiters) > 0 {
		s.syncq <- req
	}
	s.Stats.Stored.Add(int64(n))
	s.Stats.Queued.Add(-int64(sumRows(group)))
	s.Stats.QueuedB.Add(-bytes)
	select {
	case s.room <- struct{}{}:
	default:
	}
	if len(failed) == 0 {
		s.clearErr()
	}
	for h, rows := range byHour {
		if failed[h] != nil {
			continue
		}
		for i := range rows {
			s.links.add(&rows[i])
		}
	}
	for _, p := range touched {
		p.mu.RLock()
		n, b := len(p.head), p.headBytes
		p.mu.RUnlock()
		// With the partition's previous seal still running the head grows;
		// at four blocks' worth the writer waits for it.
		if n >= blockSpans || b >= blockJSONBytes {
			s.seal(p, n >= 4*blockSpans || b >= 4*blockJSONBytes)
		}
	}
	s.boundHeads()
	if s.links.due() {
		s.sendLinks(false)
	}
	// The heads and the link epoch hold copies: keep the scratch for the
	// next group, without the references to this one's strings.
	if rows := byHour[first]; cap(rows) <= 2*maxGroup {
		clear(rows)
		s.groupRows = rows[:0]
	}
}

func sumRows(g []queued) int {
	n := 0
	for _, q := range g {
		n += len(q.rows)
	}
	return n
}

// seal freezes a partition's head and hands it to the sealer; the
// returned channel closes once it is a block (nil: nothing was frozen).
func (s *Store) seal(p *partition, wait bool) chan struct{} {
	job, ok := p.freeze(wait)
	if !ok {
		return nil
	}
	job.done = make(chan struct{})
	s.sealq <- job
	return job.done
}

// sealAll seals heads older than MaxHeadAge (all of them when force) and
// returns what to wait for.
func (s *Store) sealAll(force bool) []chan struct{} {
	var wait []chan struct{}
	for _, p := range s.partitionList() {
		p.mu.RLock()
		due := len(p.head) > 0 && (force || time.Since(p.headSince) >= s.opts.MaxHeadAge)
		p.mu.RUnlock()
		if due {
			if d := s.seal(p, force); d != nil {
				wait = append(wait, d)
			}
		}
	}
	return wait
}

// walIdle is how long a partition goes unwritten before its WALs are
// truncated rather than kept for reuse.
const walIdle = time.Minute

// trimWALs truncates the WALs of partitions no longer written (writer
// only).
func (s *Store) trimWALs() {
	for _, p := range s.partitionList() {
		if err := p.trimWALs(walIdle); err != nil && !errors.Is(err, os.ErrClosed) {
			s.log.Warn("truncate idle span WAL", "partition", p.name, "err", err)
		}
	}
}

// boundHeads seals the largest heads while all heads together hold more
// than maxHeadSpans (spans spread over many hours).
func (s *Store) boundHeads() {
	for {
		total, largest, n := 0, (*partition)(nil), 0
		for _, p := range s.partitionList() {
			p.mu.RLock()
			l := len(p.head)
			p.mu.RUnlock()
			total += l
			if l > n {
				largest, n = p, l
			}
		}
		if total <= maxHeadSpans || largest == nil {
			return
		}
		if d := s.seal(largest, true); d != nil {
			<-d
		}
	}
}

// storedRows is the spans of a trace stored before seq before (the
// dependency linker's view of a trace's earlier spans).
func (s *Store) storedRows(lo, before uint64) ([]row, error) {
	return s.findTrace(lo, before, false)
}

func (s *Store) partition(hour int64) (*partition, error) {
	s.mu.RLock()
	p := s.parts[hour]
	s.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	p, err := openPartition(s.root, hour, s.intern, s.log)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.parts[hour] = p
	s.mu.Unlock()
	return p, nil
}

func (s *Store) setErr(err error) { msg := err.Error(); s.lastErr.Store(&msg) }
func (s *Store) clearErr()        { s.lastErr.Store(nil) }

// Err is the last write error, "" while writes succeed.
func (s *Store) Err() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// applyRetention removes whole hours older than the retention, with the
// names and links only they had (writer only).
func (s *Store) applyRetention() {
	if s.opts.Retention <= 0 {
		return
	}
	s.removeHours(hourOf(time.Now().Add(-s.opts.Retention).UnixMicro()), "retention")
}

// removeHours removes whole hours before hour from, with the names and
// links only they had, and names the partitions removed (writer only).
func (s *Store) removeHours(from int64, reason string) []string {
	var removed []string
	for _, p := range s.partitionList() {
		if p.hour >= from {
			continue
		}
		s.mu.Lock()
		delete(s.parts, p.hour)
		s.mu.Unlock()
		p.mu.RLock()
		blocks := p.blocks
		p.mu.RUnlock()
		if err := p.close(); err != nil {
			s.log.Warn("close span partition", "partition", p.name, "reason", reason, "err", err)
		}
		s.cache.drop(blocks)
		s.Stats.Blocks.Add(-int64(len(blocks)))
		if err := os.RemoveAll(p.dir); err != nil {
			s.log.Error("remove span partition", "partition", p.name, "reason", reason, "err", err)
			continue
		}
		s.log.Info("removed span partition", "partition", p.name, "reason", reason)
		removed = append(removed, p.name)
	}
	if err := s.names.expire(from); err != nil {
		s.log.Error("expire span names", "err", err)
	}
	s.deps.expire(from)
	return removed
}

// maintainer writes the trace index runs of partitions and merges them,
// outside the writer so that acknowledgements never wait for it.
func (s *Store) maintainer() {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.maint:
		}
		for _, p := range s.partitionList() {
			select {
			case <-s.stop:
				return
			default:
			}
			if err := s.maintain(p, time.Now(), false); err != nil && !errors.Is(err, errPartitionGone) {
				s.log.Error("index span partition", "partition", p.name, "err", err)
			}
		}
	}
}

// maintain moves a partition's in-memory trace map to a run once it holds
// runBlocks blocks, and merges runs past maxRuns; an hour that is over and
// quiet (or force) gets everything in one run.
func (s *Store) maintain(p *partition, now time.Time, force bool) error {
	p.mu.RLock()
	loose, runs, dead := len(p.blocks)-p.covered, len(p.runs), p.dead
	quiet := force || now.Unix() > (p.hour+1)*3600+600 && now.Sub(p.lastWrite) > 2*time.Minute
	p.mu.RUnlock()
	if dead {
		return nil
	}
	if loose >= runBlocks || quiet && loose > 0 {
		if err := p.writeRun(); err != nil {
			return err
		}
		runs++
		s.Stats.Compactions.Add(1)
	}
	if runs > maxRuns || quiet && runs > 1 {
		if err := p.mergeRuns(); err != nil {
			return err
		}
		s.Stats.Compactions.Add(1)
	}
	return nil
}

// Close stops the writer after it has stored everything queued, seals the
// heads, saves the links and closes every file.
func (s *Store) Close() error {
	s.closing.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.queue)
		s.closeMu.Unlock()
		close(s.stop)
	})
	s.wg.Wait()
	return s.closeFiles()
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, p := range s.partitionList() {
		errs = append(errs, p.close())
	}
	errs = append(errs, s.names.close())
	return errors.Join(errs...)
}

// Flush stores everything queued, seals every head into a block and links
// every span (tests, benchmarks, shutdown).
func (s *Store) Flush() { s.control(ctlReq{seal: true}) }

// Compact puts every partition's blocks in one trace index run (tests,
// benchmarks).
func (s *Store) Compact() error {
	var errs []error
	for _, p := range s.partitionList() {
		errs = append(errs, s.maintain(p, time.Now(), true))
	}
	return errors.Join(errs...)
}

func (s *Store) control(req ctlReq) {
	req.reply = make(chan []chan struct{}, 1)
	select {
	case s.ctl <- req:
	case <-s.done:
		return
	}
	for _, w := range <-req.reply {
		if w != nil {
			<-w
		}
	}
}

// MemBytes estimates what the store holds in memory: heads, block
// summaries, trace maps and index fences, and the block cache.
func (s *Store) MemBytes() int64 {
	var n int64
	for _, p := range s.partitionList() {
		n += int64(p.memBytes())
	}
	s.cache.mu.Lock()
	n += int64(s.cache.size)
	s.cache.mu.Unlock()
	for _, g := range s.deps.gens {
		n += int64(g.memBytes())
	}
	return n
}

// Unit is one hour's partition as the disk budget sees it.
type Unit struct {
	Name   string
	Newest time.Time // the end of its hour
	Bytes  int64
}

// Units lists the partitions, oldest first, for the disk budget.
func (s *Store) Units() []Unit {
	var out []Unit
	for _, p := range s.partitionList() {
		out = append(out, Unit{Name: p.name, Newest: time.Unix((p.hour+1)*3600, 0), Bytes: p.diskBytes()})
	}
	return out
}

// RemoveBefore removes every hour that ended before t (the disk budget)
// and names what it removed.
func (s *Store) RemoveBefore(t time.Time) []string {
	var removed []string
	s.control(ctlReq{removeBefore: t, removed: &removed})
	return removed
}

// DiskBytes is the size of the store's files.
func (s *Store) DiskBytes() int64 {
	var n int64
	for _, p := range s.partitionList() {
		n += p.diskBytes()
	}
	for _, f := range []string{"names.log", "deps.state"} {
		if fi, err := os.Stat(filepath.Join(s.root, f)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// Collectors exports the store's counters.
func (s *Store) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	return []prometheus.Collector{
		counter("obs_traces_spans_stored_total", "Spans stored (in the write-ahead log).", &s.Stats.Stored),
		counter("obs_traces_spans_refused_total", "Spans refused because the store's queue was full (the sender was told to retry).", &s.Stats.Dropped),
		counter("obs_traces_write_errors_total", "Spans that could not be written.", &s.Stats.WriteErrors),
		counter("obs_traces_compactions_total", "Trace indexes written.", &s.Stats.Compactions),
		gauge("obs_traces_queue_bytes", "Bytes of spans waiting for the writer.", func() float64 { return float64(s.Stats.QueuedB.Load()) }),
		gauge("obs_traces_blocks", "Span blocks on disk.", func() float64 { return float64(s.Stats.Blocks.Load()) }),
		gauge("obs_traces_names_dropped", "Span, service or tag names not indexed because of the name caps.", func() float64 { return float64(s.names.Dropped.Load()) }),
		gauge("obs_traces_memory_bytes", "What the span store holds in memory (heads, block summaries, trace maps, block cache), estimated.", func() float64 { return float64(s.MemBytes()) }),
	}
}
