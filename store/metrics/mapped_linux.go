package metrics

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropMapped tells the kernel that obs no longer needs the pages of its
// mappings of files under any of dirs: the TSDB's chunks_head/ and the
// directories of its blocks.
//
// Why: the TSDB writes full head chunks to chunks_head/ with write(2) and
// reads them, and its blocks' chunks and index, back through read-only
// shared memory maps. A query over the last hour (a Graphite render of a
// timer set) touches every series' older chunks, so nearly every page of
// those files ends up in obs's page tables, and stays there until the
// file is closed: for chunks_head when the head is compacted, for a block
// when it is merged into a larger one, or never for the largest. In the
// soak that was 20-24 MB/h of RSS for chunks_head and 29 MB/h more once
// blocks were cut every 20 minutes, for pages the page cache holds
// anyway. The store calls this after each query it serves (and every
// 30 s), so what stays mapped is what queries in flight read.
// MADV_DONTNEED on a shared file mapping only unmaps the pages: their data
// stays in the page cache (and in the file), and the next read maps the
// page again with a minor fault, no disk read. The kernel can also reclaim
// unmapped cache pages more readily than mapped ones under memory
// pressure. (MADV_PAGEOUT would also evict them from the page cache, so
// the query after it read them from disk.)
//
// Safety: madvise(MADV_DONTNEED) on an address range that had meanwhile
// been unmapped and reused for anonymous memory would zero that memory.
// The TSDB unmaps a head chunk file only when the head is truncated after
// a compaction, or on Close; Store runs both under the same lock as this
// (it compacts the head itself, Prometheus's automatic compaction is
// off). Blocks are closed from the TSDB's own background loop too, which
// that lock does not cover, so the caller passes only the directories of
// blocks it holds a reader on: Block.Close waits for every reader to
// finish. Either way the ranges read from /proc/self/maps stay what they
// were while this runs.
func dropMapped(dirs []string) (int64, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("read mappings: %w", err)
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// "start-end perms offset dev inode path": only the path has '/'.
		i := strings.IndexByte(line, '/')
		if i < 0 || !underAny(line[i:], dirs) {
			continue
		}
		start, end, ok := mappingRange(line)
		if !ok {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("madvise %s: %w", line[i:], errno)
		}
		total += int64(end - start)
	}
	if err := sc.Err(); err != nil {
		return total, fmt.Errorf("read mappings: %w", err)
	}
	return total, nil
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	return false
}

// mappingRange parses the "start-end" hex range that opens a maps line.
func mappingRange(line string) (start, end uint64, ok bool) {
	rng, _, found := strings.Cut(line, " ")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseUint(a, 16, 64)
	end, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return 0, 0, false
	}
	return start, end, true
}
