package traces

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// The write-ahead log holds a partition's head, the spans not yet in a
// block: a record (record.go) per span, payload = uvarint(seq) | span JSON.
//
// A batch is one write(2) by the writer; when a sender waits for the
// answer (the Zipkin collector acknowledges with 202) the syncer fsyncs
// the WAL before answering, one fsync for all that was written meanwhile.
// Once the head is in a block and spans.dat is fsynced, the WAL is
// truncated; a crash in between leaves records whose seq is already in a
// block, and replay skips them.
type wal struct {
	f     *os.File
	path  string
	buf   []byte
	dirty atomic.Bool // new file: its directory entry is not durable yet
}

func openWAL(path string) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open span wal: %w", err)
	}
	w := &wal{f: f, path: path}
	w.dirty.Store(true)
	return w, nil
}

func (w *wal) append(rows []row) error {
	w.buf = w.buf[:0]
	var tmp [binary.MaxVarintLen64]byte
	for i := range rows {
		n := binary.PutUvarint(tmp[:], rows[i].Seq)
		w.buf = appendRecord(w.buf, tmp[:n], rows[i].JSON)
	}
	if n, err := w.f.Write(w.buf); err != nil {
		// A short write (disk full) leaves a torn record that would hide
		// every later one from replay: cut it off.
		if st, serr := w.f.Stat(); serr == nil && n > 0 {
			w.f.Truncate(st.Size() - int64(n))
		}
		return fmt.Errorf("write span wal: %w", err)
	}
	if cap(w.buf) > 4<<20 {
		w.buf = nil // one huge batch should not pin its buffer
	}
	return nil
}

// sync makes everything written so far durable (syncer only).
func (w *wal) sync() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("fsync span wal: %w", err)
	}
	if w.dirty.Load() {
		if err := syncDir(filepath.Dir(w.path)); err != nil {
			return err
		}
		w.dirty.Store(false)
	}
	return nil
}

// reset empties the WAL once its records are in a durable block (the
// sealer calls it; the writer writes the other WAL meanwhile).
func (w *wal) reset() error { return w.f.Truncate(0) }

func (w *wal) close() error { return w.f.Close() }

// walRecord is one replayed record.
type walRecord struct {
	seq  uint64
	json []byte
}

// readWAL returns the valid records of a WAL file and where they end: a
// torn last record (a crash mid-write) ends the valid prefix.
func readWAL(path string) ([]walRecord, int64, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read span wal: %w", err)
	}
	var out []walRecord
	off := eachRecord(b, func(p []byte) {
		if seq, sn := binary.Uvarint(p); sn > 0 {
			out = append(out, walRecord{seq: seq, json: p[sn:]})
		}
	})
	return out, int64(off), int64(len(b)), nil
}

// syncDir makes a directory's entries (a new, renamed or removed file)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces path with data: temp file, fsync, rename, fsync
// of the directory, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(tmp), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(tmp), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("fsync %s: %w", filepath.Base(tmp), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}
