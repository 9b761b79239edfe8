package logs

import (
	"sync"
	"sync/atomic"
)

// The writer goroutine only logs events (WAL) and keeps heads; splitting
// events into shapes and columns, bloom filters and compression — nearly
// all of ingest's cost — run on the sealer's workers, one frozen head
// each, so that ingest scales with cores. Blocks still enter a day's
// segment in seq order: whichever worker finishes the oldest frozen head
// appends it and every finished one after it.

// sealJob is one frozen head on its way into a block.
type sealJob struct {
	p       *partition
	seq     uint32
	entries []Entry
	built   atomic.Pointer[builtBlock] // set once built: queries use it
	ready   atomic.Bool                // buf and meta are set
	buf     []byte                     // the block: header and payload
	meta    blockMeta
	// rejected counts field paths past MaxFieldsPerBlock.
	rejected int64
	failed   bool          // the last append failed (under appendMu)
	done     chan struct{} // closed once appended or discarded
	once     sync.Once
}

func (j *sealJob) finish() { j.once.Do(func() { close(j.done) }) }

// sealer runs the workers. slots bounds the frozen heads in flight, so
// that a writer faster than its workers waits (and its senders with it)
// instead of piling heads up in memory.
type sealer struct {
	jobs   chan *sealJob
	slots  chan struct{}
	wg     sync.WaitGroup
	cd     *codec
	append func(p *partition)
}

func newSealer(workers int, cd *codec, appendSealed func(p *partition)) *sealer {
	sl := &sealer{jobs: make(chan *sealJob, 2*workers), slots: make(chan struct{}, 2*workers), cd: cd, append: appendSealed}
	for i := 0; i < workers; i++ {
		sl.wg.Add(1)
		go sl.work()
	}
	return sl
}

// submit queues a frozen head, waiting for a slot.
func (sl *sealer) submit(j *sealJob) {
	sl.slots <- struct{}{}
	sl.jobs <- j
}

func (sl *sealer) release() { <-sl.slots }

// stop ends the workers once the queued jobs are done.
func (sl *sealer) stop() {
	close(sl.jobs)
	sl.wg.Wait()
}

func (sl *sealer) work() {
	defer sl.wg.Done()
	for j := range sl.jobs {
		bb := getBlockBuilder()
		for i := range j.entries {
			bb.add(j.entries[i].TS.UnixMilli(), j.entries[i].Raw)
		}
		b := bb.build()
		j.rejected = bb.rejected
		putBlockBuilder(bb)
		j.built.Store(b)
		j.buf, j.meta = encodeBlock(sl.cd, j.seq, b)
		j.ready.Store(true)
		sl.append(j.p)
	}
}

// appendSealed writes the day's sealed blocks that are next in seq order.
// A failed write (disk full) leaves the job in place; the writer retries.
func (s *Store) appendSealed(p *partition) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	for {
		p.mu.RLock()
		var j *sealJob
		if len(p.sealing) > 0 {
			j = p.sealing[0]
		}
		p.mu.RUnlock()
		if j == nil || !j.ready.Load() {
			return
		}
		if p.dropped.Load() {
			s.discardSealing(p)
			return
		}
		err := s.begin(p)
		if err == nil {
			err = p.writeSealed(j)
			s.end(p)
		}
		if err != nil {
			j.failed = true
			j.finish() // waiters go on; the events stay in the WAL
			s.setErr(err)
			s.log.Error("write log block", "partition", p.name, "err", err)
			return
		}
		j.failed = false
		j.finish()
		s.sealer.release()
		p.sealWG.Done()
	}
}

// discardSealing drops a removed day's frozen heads that are built; the
// caller holds p.appendMu. Workers still building one discard it when
// they are done (appendSealed sees the day dropped).
func (s *Store) discardSealing(p *partition) {
	p.mu.Lock()
	keep := p.sealing[:0]
	var gone []*sealJob
	for _, j := range p.sealing {
		if j.ready.Load() {
			gone = append(gone, j)
		} else {
			keep = append(keep, j)
		}
	}
	p.sealing = keep
	p.mu.Unlock()
	for _, j := range gone {
		j.finish()
		s.sealer.release()
		p.sealWG.Done()
	}
}

// waitSealed returns once every frozen head of every day is in its
// segment, or its append failed (retried once here).
func (s *Store) waitSealed() {
	for _, p := range s.partitionList() {
		for retry := 0; retry < 2; retry++ {
			p.mu.RLock()
			jobs := append([]*sealJob(nil), p.sealing...)
			p.mu.RUnlock()
			failed := false
			for _, j := range jobs {
				<-j.done
				p.appendMu.Lock()
				failed = failed || j.failed
				p.appendMu.Unlock()
			}
			if !failed {
				break
			}
			s.appendSealed(p)
		}
	}
}

// retrySealed appends what a failed write left (the writer's tick).
func (s *Store) retrySealed() {
	for _, p := range s.partitionList() {
		p.mu.RLock()
		stuck := len(p.sealing) > 0 && p.sealing[0].ready.Load()
		p.mu.RUnlock()
		if stuck {
			s.appendSealed(p)
		}
	}
}
