package logs

import "testing"

// A block's paths are found by binary search when sorted (every block obs
// writes) and through a map otherwise, the first of a repeated path
// winning as the map did.
func TestMetaColumnLookup(t *testing.T) {
	for _, names := range [][]string{
		{"", "a", "b.c", "message"}, // "" is the overflow column
		{"message", "a", "b.c"},
		{"a", "a", "b"},
	} {
		bm := &blockMetaV2{}
		for _, n := range names {
			c := colMeta{name: n}
			if n == "" {
				c.flags |= colOverflowed
			}
			bm.cols = append(bm.cols, c)
		}
		bm.index()
		for want, n := range names {
			if n == "" {
				if _, ok := bm.col(n); ok {
					t.Errorf("%v: the overflow column found by path", names)
				}
				continue
			}
			got, ok := bm.col(n)
			if first := firstIndex(names, n); !ok || got != first {
				t.Errorf("%v: col(%q) = %d, %v; want %d (row %d)", names, n, got, ok, first, want)
			}
		}
		if _, ok := bm.col("zzz"); ok {
			t.Errorf("%v: an absent path found", names)
		}
	}
}

func firstIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
