package traces

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Format 1 (obs before the on-disk span store) kept one file of span JSON
// lines per UTC day, spans-2006-01-02.ndjson, directly in the traces
// directory, and every span in memory. migrateV1 moves such a directory to
// format 2: it writes the spans into a store under v2.migrating/, and only
// when that store is complete and closed renames it to v2/ (one atomic
// rename), then removes the day files. A crash before the rename leaves
// the day files untouched and the half-built store is started over; a
// crash after it leaves day files the next start removes.
//
// Day files found beside an existing v2/ (an older obs was run on the data
// dir after the upgrade) are imported into the live store.
func migrateV1(dir string, o Options) error {
	files, err := filepath.Glob(filepath.Join(dir, "spans-*.ndjson"))
	if err != nil || len(files) == 0 {
		return err
	}
	slices.Sort(files)
	marker := filepath.Join(dir, "v2", "migrated-from-v1")
	if _, err := os.Stat(filepath.Join(dir, "v2")); err == nil {
		done, _ := os.ReadFile(marker)
		var left []string
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && slices.Contains(splitLines(string(done)), fmt.Sprintf("%s %d", filepath.Base(f), fi.Size())) {
				os.Remove(f) // migrated; the crash came before its removal
				continue
			}
			left = append(left, f)
		}
		if len(left) == 0 {
			return syncDir(dir)
		}
		return importV1(dir, filepath.Join(dir, "v2"), left, o, "")
	}
	staging := filepath.Join(dir, "v2.migrating")
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("remove unfinished span migration: %w", err)
	}
	return importV1(dir, staging, files, o, filepath.Join(dir, "v2"))
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// importV1 writes the spans of the day files into the store at root and,
// when rename is set, renames root to it once complete.
func importV1(dir, root string, files []string, o Options, rename string) error {
	o.Logger.Info("migrating spans to the on-disk span store (format 2)", "files", len(files))
	s, err := openRoot(dir, root, o)
	if err != nil {
		return fmt.Errorf("migrate spans: %w", err)
	}
	s.start()
	var marker []byte
	n := 0
	for _, f := range files {
		m, err := s.importDayFile(f)
		n += m
		if err != nil {
			s.Close()
			return fmt.Errorf("migrate %s: %w", filepath.Base(f), err)
		}
		fi, err := os.Stat(f)
		if err != nil {
			s.Close()
			return fmt.Errorf("migrate %s: %w", filepath.Base(f), err)
		}
		marker = fmt.Appendf(marker, "%s %d\n", filepath.Base(f), fi.Size())
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("migrate spans: close: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(root, "migrated-from-v1"), marker); err != nil {
		return err
	}
	if rename != "" {
		if err := os.Rename(root, rename); err != nil {
			return fmt.Errorf("migrate spans: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove migrated %s: %w", filepath.Base(f), err)
		}
	}
	o.Logger.Info("migrated spans", "spans", n)
	return syncDir(dir)
}

// importDayFile stores every complete line of a format-1 day file; a torn
// last line (the old store cut it off at its next start too) and lines
// that are not spans are skipped.
func (s *Store) importDayFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var batch []Span
	n := 0
	commit := func() error {
		for {
			err := s.Commit(context.Background(), batch)
			if errors.Is(err, ErrQueueFull) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if err != nil {
				return err
			}
			n += len(batch)
			batch = nil
			return nil
		}
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if sp, jerr := spanFromJSON(line[:len(line)-1]); jerr == nil {
				batch = append(batch, sp)
			} else {
				s.log.Warn("skipping a line that is not a span", "file", filepath.Base(path), "err", jerr)
			}
			if len(batch) >= 1000 {
				if err := commit(); err != nil {
					return n, err
				}
			}
		}
		if err != nil {
			break
		}
	}
	if len(batch) > 0 {
		return n, commit()
	}
	return n, nil
}
