package budget

import (
	"fmt"
	"testing"
	"time"
)

// fake is a signal with units of known age and size.
type fake struct {
	name  string
	units []Unit
	fixed int64 // bytes that are never removable (heads, WALs)
}

func (f *fake) signal() Signal {
	return Signal{Name: f.name,
		Units: func() []Unit { return f.units },
		Bytes: func() int64 {
			n := f.fixed
			for _, u := range f.units {
				n += u.Bytes
			}
			return n
		},
		RemoveBefore: func(t time.Time, _ string) []string {
			var keep []Unit
			var gone []string
			for _, u := range f.units {
				if u.Newest.Before(t) {
					gone = append(gone, u.Name)
				} else {
					keep = append(keep, u)
				}
			}
			f.units = keep
			return gone
		}}
}

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func days(name string, n int, size int64) *fake {
	f := &fake{name: name}
	for i := n; i >= 1; i-- {
		f.units = append(f.units, Unit{Name: fmt.Sprintf("%s-%d", name, i), Newest: now.Add(-time.Duration(i) * 24 * time.Hour), Bytes: size})
	}
	return f
}

// Over the bound, the oldest go first across signals, by the age of their
// newest data, until the total is under 95% of the bound.
func TestOldestFirstAcrossSignals(t *testing.T) {
	logs, spans := days("logs", 7, 100), days("spans", 7, 300)
	b := &Budget{Max: 2000, Signals: []Signal{logs.signal(), spans.signal()}}
	b.Enforce(now)
	// 2,800 bytes; 95% of 2,000 = 1,900: days 7, 6 and 5 of both (1,200).
	if len(logs.units) != 4 || len(spans.units) != 4 {
		t.Fatalf("kept %d log days and %d span days, want 4 and 4", len(logs.units), len(spans.units))
	}
	if b.Problem() != "" {
		t.Fatalf("problem %q", b.Problem())
	}
	b.Enforce(now) // under the bound now: nothing more goes
	if len(logs.units) != 4 {
		t.Fatal("removed under the bound")
	}
}

// The last hour is never removed; a budget too small for it says so.
func TestTooSmallBudgetKeepsRecentDataAndSaysSo(t *testing.T) {
	f := &fake{name: "logs", units: []Unit{{Name: "today", Newest: now.Add(-time.Minute), Bytes: 5000}}}
	b := &Budget{Max: 1000, Signals: []Signal{f.signal()}}
	b.Enforce(now)
	if len(f.units) != 1 || b.Problem() == "" {
		t.Fatalf("units %v, problem %q", f.units, b.Problem())
	}
}

// A filesystem running out of space shrinks the budget to keep the reserve.
func TestFreeSpaceReserve(t *testing.T) {
	f := days("logs", 5, 1000)
	b := &Budget{Max: 1 << 40, Signals: []Signal{f.signal()}, Reserve: 4000, Free: func() (int64, error) { return 1500, nil }}
	b.Enforce(now)
	// short by 2,500: the limit becomes 5,000-2,500; 95% of that is 2,375.
	if len(f.units) != 2 {
		t.Fatalf("kept %d days, want 2", len(f.units))
	}
}
