package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// formatFile names the store's on-disk format. Version 1 is the day
// partitions of segment.dat (row blocks) + blocks.bleve + wal-N.log; a
// directory without the file was written by an obs from before it
// existed, in version 1. Version 2 adds columnar blocks (segment.go) to
// the same segments and drops blocks.bleve; its segments may still hold
// version 1 blocks, which this obs reads.
const (
	formatFile    = "FORMAT"
	formatVersion = "obs-logs 2"
)

// checkFormat reads the format version, upgrading a version 1 (or older)
// directory to version 2 before anything of version 2 is written there,
// and refusing a directory written by a newer obs. The upgrade writes
// only FORMAT (atomically): every block already there stays readable.
func checkFormat(dir string) error {
	path := filepath.Join(dir, formatFile)
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		switch v := strings.TrimSpace(string(b)); v {
		case formatVersion:
			return nil
		case "obs-logs 1":
		default:
			return fmt.Errorf("%s says %q: this obs reads %q; it was written by a newer obs", path, v, formatVersion)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(formatVersion+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if f, err := os.Open(tmp); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// loadDays reads every day's metadata at start-up. A day that cannot be
// read is moved aside (renamed *.corrupt-<time>) and reported, and the
// store serves every other day; leftovers of interrupted creates go.
func (s *Store) loadDays() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(name, ".tmp-") {
			os.RemoveAll(filepath.Join(s.dir, name)) // a create cut short
			continue
		}
		if isTempOrAside(name) || !strings.HasPrefix(name, "logs-") {
			continue
		}
		if _, ok := parseDayName(name); !ok {
			continue
		}
		p, damaged, err := loadPartition(s.dir, name, s.log.Warn)
		if err != nil {
			s.moveAside(name, err)
			continue
		}
		for _, d := range damaged {
			s.problem(d)
		}
		s.parts[name] = p
	}
	return nil
}

// moveAside renames a day that cannot be opened, so that it stops being
// read at every start but nothing is deleted.
func (s *Store) moveAside(name string, cause error) {
	aside := fmt.Sprintf("%s.corrupt-%d", name, time.Now().Unix())
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, aside)); err != nil {
		s.problem(fmt.Sprintf("%s cannot be opened (%v) nor moved aside (%v): it is not served", name, cause, err))
		return
	}
	s.problem(fmt.Sprintf("%s cannot be opened (%v): moved aside to %s; every other day is served", name, cause, aside))
}

// problem records something wrong that obs works around, for /health.
func (s *Store) problem(msg string) {
	s.log.Error("logs store", "problem", msg)
	s.probMu.Lock()
	defer s.probMu.Unlock()
	for _, p := range s.problems {
		if p == msg {
			return
		}
	}
	if len(s.problems) < 100 {
		s.problems = append(s.problems, msg)
	}
}

// Problems lists what is wrong with the stored data (days moved aside,
// damaged blocks): /health shows them.
func (s *Store) Problems() []string {
	s.probMu.Lock()
	defer s.probMu.Unlock()
	return append([]string(nil), s.problems...)
}

// partition returns the writer's day, creating it (atomically) if new.
func (s *Store) partition(day string) (*partition, error) {
	s.mu.RLock()
	p := s.parts[day]
	s.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	if err := createPartition(s.dir, day); err != nil {
		return nil, err
	}
	p, damaged, err := loadPartition(s.dir, day, s.log.Warn)
	if err != nil {
		return nil, err
	}
	for _, d := range damaged {
		s.problem(d)
	}
	s.mu.Lock()
	s.parts[day] = p
	s.mu.Unlock()
	return p, nil
}

// open opens a day's files and then closes the least recently used days
// beyond the bound.
func (s *Store) open(p *partition) error {
	p.mu.Lock()
	err := p.openLocked()
	p.touch()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	s.evict(p)
	return nil
}

// evict closes days, least recently used first, until at most
// MaxOpenPartitions are open; days being written stay open.
func (s *Store) evict(keep *partition) {
	var open []*partition
	for _, p := range s.partitionList() {
		if p.isOpen.Load() && p != keep {
			open = append(open, p)
		}
	}
	excess := len(open) + 1 - s.opts.MaxOpenPartitions
	if excess <= 0 {
		return
	}
	sort.Slice(open, func(i, j int) bool { return open[i].lastUse.Load() < open[j].lastUse.Load() })
	for _, p := range open {
		if excess <= 0 {
			return
		}
		p.mu.Lock()
		if p.evictable() {
			if err := p.closeLocked(); err != nil {
				s.log.Warn("close cold log partition", "partition", p.name, "err", err)
			}
			excess--
		}
		p.mu.Unlock()
	}
}

// withRead runs fn with p open and its lock held shared: the day cannot be
// closed under a reader.
func (s *Store) withRead(p *partition, fn func() error) error {
	for {
		p.mu.RLock()
		if p.seg != nil {
			p.touch()
			err := fn()
			p.mu.RUnlock()
			return err
		}
		p.mu.RUnlock()
		if err := s.open(p); err != nil {
			return err
		}
	}
}

// begin opens p for a writer operation and keeps it open until end.
func (s *Store) begin(p *partition) error {
	for {
		p.mu.RLock()
		if p.seg != nil {
			p.busy.Add(1)
			p.touch()
			p.mu.RUnlock()
			return nil
		}
		p.mu.RUnlock()
		if err := s.open(p); err != nil {
			return err
		}
	}
}

func (s *Store) end(p *partition) { p.busy.Add(-1) }

// Unit is one day as the disk budget sees it.
type Unit struct {
	Name   string
	Newest time.Time
	Bytes  int64
}

// Units lists the days, oldest first, with their size and newest event.
func (s *Store) Units() []Unit {
	var out []Unit
	for _, p := range s.partitionList() {
		p.refreshBytes()
		out = append(out, Unit{Name: p.name, Newest: p.newest(), Bytes: p.diskBytes()})
	}
	return out
}

// RemoveBefore deletes every day whose newest event is older than t (the
// disk budget's cut), returning the days removed.
func (s *Store) RemoveBefore(t time.Time, reason string) []string {
	var removed []string
	s.inWriter(func() {
		for _, p := range s.partitionList() {
			if p.newest().Before(t) && s.drop(p, reason) {
				removed = append(removed, p.name)
			}
		}
	})
	return removed
}

// inWriter runs fn on the writer goroutine, the only one that may remove a
// day (it may be writing to it).
func (s *Store) inWriter(fn func()) {
	req := ctlReq{run: fn, done: make(chan struct{})}
	select {
	case s.ctl <- req:
		<-req.done
	case <-s.done:
	}
}

// drop deletes a day; only the writer calls it.
func (s *Store) drop(p *partition, reason string) bool {
	s.mu.Lock()
	delete(s.parts, p.name)
	s.mu.Unlock()
	// Blocks being sealed for the day are thrown away, not appended.
	p.dropped.Store(true)
	p.appendMu.Lock()
	s.discardSealing(p)
	p.appendMu.Unlock()
	p.sealWG.Wait()
	if err := p.close(); err != nil { // waits for readers holding the day
		s.log.Warn("close removed partition", "partition", p.name, "err", err)
	}
	s.cache.dropPartition(p.name)
	if err := os.RemoveAll(p.dir); err != nil {
		s.log.Error("remove log partition", "partition", p.name, "err", err)
		return false
	}
	s.log.Info("removed log partition", "partition", p.name, "reason", reason)
	return true
}
