package logs

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Verify reports an offset or row mix-up instead of serving it: two blocks'
// indexes swapped, and a head that no longer matches its WAL.
func TestVerifyReportsMixUps(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	s.Append(context.Background(), mkEntries(4500, day, time.Millisecond))
	s.Sync()
	if rep := s.Verify(context.Background()); !rep.OK() || rep.Blocks != 2 || rep.HeadEvents != 500 {
		t.Fatalf("healthy: %+v", rep)
	}
	p := s.partitionList()[0]
	p.mu.Lock()
	a, b := p.blocks[0], p.blocks[1]
	// Point block 1's header at block 2's index (a wrong offset).
	a.RawLen, a.IdxLen, a.Off = b.RawLen, b.IdxLen, b.Off
	p.blocks = []blockMeta{a, b}
	p.head = p.head[:len(p.head)-1]
	p.mu.Unlock()
	rep := s.Verify(context.Background())
	got := strings.Join(rep.Problems, "\n")
	if !strings.Contains(got, "block 1: header time range") && !strings.Contains(got, "block 1: index does not match") {
		t.Fatalf("mix-up not reported: %s", got)
	}
	if !strings.Contains(got, "head holds 499 events, its WAL 500") {
		t.Fatalf("head/WAL mismatch not reported: %s", got)
	}
}
