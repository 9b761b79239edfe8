package logs

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// The write-ahead log holds the events of a partition's head, the ones not
// yet in a block. There is one file per head, named after the block sequence
// number the head will become, so that replay after a crash never applies a
// record twice: a WAL whose block is already in the segment is stale.
//
// Record: uvarint(len(payload)) | crc32(payload) u32 | payload
// Payload: varint(unix ms) | raw JSON
//
// Records are written with one write(2) per batch: a killed process loses
// nothing (the kernel has the bytes). Batches a sender waits on (HTTP
// intake, which acknowledges) are also fsynced before the answer, one fsync
// per group of batches, so that an acknowledged event survives a power cut
// too; UDP batches, which nobody acknowledges, are not.
type wal struct {
	f      *os.File
	buf    []byte
	size   int64
	synced int64 // size at the last fsync
	dirty  bool  // the file is new: its directory entry is not yet durable
}

func walName(dir string, seq uint32) string { return fmt.Sprintf("%s/wal-%08d.log", dir, seq) }

func openWAL(path string) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat wal: %w", err)
	}
	return &wal{f: f, size: st.Size(), synced: st.Size(), dirty: true}, nil
}

// sync makes everything written so far durable.
func (w *wal) sync() error {
	if w.synced == w.size && !w.dirty {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("fsync wal: %w", err)
	}
	if w.dirty {
		if err := syncDir(filepath.Dir(w.f.Name())); err != nil {
			return err
		}
		w.dirty = false
	}
	w.synced = w.size
	return nil
}

// syncDir makes a directory's entries (a new or removed file) durable.
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

// append writes the entries as one write.
func (w *wal) append(entries []Entry) error {
	w.buf = w.buf[:0]
	var tmp [binary.MaxVarintLen64]byte
	for _, e := range entries {
		n := binary.PutVarint(tmp[:], e.TS.UnixMilli())
		plen := n + len(e.Raw)
		w.buf = binary.AppendUvarint(w.buf, uint64(plen))
		crc := crc32.Update(crc32.Checksum(tmp[:n], crcTable), crcTable, e.Raw)
		w.buf = binary.LittleEndian.AppendUint32(w.buf, crc)
		w.buf = append(w.buf, tmp[:n]...)
		w.buf = append(w.buf, e.Raw...)
	}
	if _, err := w.f.Write(w.buf); err != nil {
		// A short write (disk full) leaves a torn record that would hide
		// every later record from replay: cut it off.
		w.f.Truncate(w.size)
		return fmt.Errorf("write wal: %w", err)
	}
	w.size += int64(len(w.buf))
	return nil
}

func (w *wal) close() error { return w.f.Close() }

// replayWAL reads the valid records of a WAL file; a torn last record is
// dropped and the file truncated to the valid prefix. cut is how many
// bytes were dropped.
func replayWAL(path string) (entries []Entry, cut int, err error) {
	out, off, size, err := readWAL(path)
	if err != nil {
		return nil, 0, err
	}
	if off < size {
		if err := os.Truncate(path, int64(off)); err != nil {
			return out, 0, fmt.Errorf("truncate torn wal: %w", err)
		}
	}
	return out, size - off, nil
}

// replayWALReadOnly reads a WAL's records and reports a torn tail as an
// error instead of repairing it (Verify).
func replayWALReadOnly(path string) ([]Entry, error) {
	out, off, size, err := readWAL(path)
	if err == nil && off < size {
		err = fmt.Errorf("%d bytes after the last valid record", size-off)
	}
	return out, err
}

// readWAL returns the valid records and where they end.
func readWAL(path string) ([]Entry, int, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read wal: %w", err)
	}
	var out []Entry
	off := 0
	for off < len(b) {
		plen, n := binary.Uvarint(b[off:])
		if n <= 0 || plen > uint64(len(b)) || off+n+4+int(plen) > len(b) {
			break
		}
		crc := binary.LittleEndian.Uint32(b[off+n:])
		p := b[off+n+4 : off+n+4+int(plen)]
		if crc32.Checksum(p, crcTable) != crc {
			break
		}
		ts, tn := binary.Varint(p)
		if tn <= 0 {
			break
		}
		raw := append([]byte(nil), p[tn:]...)
		out = append(out, Entry{TS: time.UnixMilli(ts).UTC(), Raw: raw})
		off += n + 4 + int(plen)
	}
	return out, off, len(b), nil
}
