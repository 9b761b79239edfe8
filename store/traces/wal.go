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
// A batch is one write by the writer; when a sender waits for the answer
// (the Zipkin collector acknowledges with 202) the syncer makes the WAL
// durable before answering, one fdatasync for all that was written
// meanwhile. Once the head is in a block and spans.dat is fsynced, the WAL
// is emptied by starting over at offset 0: the file keeps its length and
// its old records, and the next head overwrites them in place.
//
// Why not truncate: on ext4 an fdatasync after an append must commit the
// file's new size through the journal (0.43-0.47 ms for 60 KB here), while
// one after overwriting blocks already on disk only writes the data (0.23-
// 0.25 ms); fallocate does not help, since its unwritten extents change
// on first write. The group commit waits on this fdatasync, so it bounds
// the spans/s of acknowledged batches. The records left past the new ones
// are harmless: each has a seq already in a block, which replay skips, and
// the first one partly overwritten fails its crc and ends the valid
// prefix. Only the hour being written (now or later) reuses its WALs;
// an hour that is over truncates them as before, and one no longer
// written gets them truncated (trimWALs).
type wal struct {
	f     *os.File
	path  string
	buf   []byte
	off   int64       // where the next record goes
	size  int64       // the file's length; bytes past off are records already in a block
	dirty atomic.Bool // new file: its directory entry is not durable yet
}

// openWAL opens a WAL whose valid records end at off (0 for a new one).
func openWAL(path string, off int64) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open span wal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat span wal: %w", err)
	}
	w := &wal{f: f, path: path, off: min(off, st.Size()), size: st.Size()}
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
	// A short write (disk full) leaves a torn record at off; the next
	// write starts at off again and overwrites it, so it never hides
	// later records from replay.
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		return fmt.Errorf("write span wal: %w", err)
	}
	w.off += int64(len(w.buf))
	w.size = max(w.size, w.off)
	if cap(w.buf) > 4<<20 {
		w.buf = nil // one huge batch should not pin its buffer
	}
	return nil
}

// sync makes everything written so far durable (syncer only).
func (w *wal) sync() error {
	if err := datasync(w.f); err != nil {
		return fmt.Errorf("fdatasync span wal: %w", err)
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
// sealer calls it before the writer may switch back to this WAL). With
// reuse the next record goes to offset 0 over the old ones; without, the
// file is truncated, for an hour that is over: it will rarely be written
// again, and its old records would only hold disk.
func (w *wal) reset(reuse bool) error {
	w.off = 0
	if reuse {
		return nil
	}
	return w.trim()
}

// trim gives the disk back once every record in the WAL is in a block
// (the writer, with no seal in flight, or the sealer from reset).
func (w *wal) trim() error {
	w.off = 0
	if w.size == 0 {
		return nil
	}
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate span wal: %w", err)
	}
	w.size = 0
	return nil
}

func (w *wal) close() error { return w.f.Close() }

// walRecord is one replayed record.
type walRecord struct {
	seq  uint64
	json []byte
}

// readWAL returns the valid records of a WAL file and where they end: a
// torn record (a crash mid-write, or the first old record partly
// overwritten) ends the valid prefix.
func readWAL(path string) ([]walRecord, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read span wal: %w", err)
	}
	var out []walRecord
	off := eachRecord(b, func(p []byte) {
		if seq, sn := binary.Uvarint(p); sn > 0 {
			out = append(out, walRecord{seq: seq, json: p[sn:]})
		}
	})
	return out, int64(off), nil
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
