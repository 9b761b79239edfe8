package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzSplit checks the block writer's reader of events against Flatten:
// it accepts exactly what Flatten accepts, finds the same leaves (paths,
// kinds, texts, in order; nulls are no value), and a one-row block built
// from the event gives the event back byte for byte, JSON or not. The
// ScanJSON validator must agree too.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"]}`, `{"s":"\ud83d\ude00\u0041","k\u00e9y":"v\/"}`, `[{"a":{"b":-1.5e-3}}]`,
		`"\ud800\ud800"`, ` {"a" : "2026-11-20T12:00:00.123Z", "a":1e400, "m":"hello world"} `, "{\"x\":\"\xff\"}", `{"a":`, "\x00\x01"} {
		f.Add([]byte(s))
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzFlatten/*")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b) // go test fuzz v1 files: the whole file is a fine input too
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fields, ferr := Flatten(raw)
		bb := newBlockBuilder()
		var paths []string
		bb.sp.col = func(p []byte) int32 { paths = append(paths, string(p)); return int32(len(paths) - 1) }
		serr := bb.sp.split(raw)
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("%q: Flatten err %v, split err %v", raw, ferr, serr)
		}
		if sc, err := ScanJSON(raw); (err == nil && sc.N == len(raw)) != (ferr == nil) {
			t.Fatalf("%q: Flatten err %v, ScanJSON err %v (N %d)", raw, ferr, err, sc.N)
		}
		if ferr == nil {
			var want []Field
			for _, f := range fields {
				if f.Kind != KindNull {
					want = append(want, f)
				}
			}
			if len(want) != len(bb.sp.leaves) {
				t.Fatalf("%q: %d fields, %d leaves", raw, len(want), len(bb.sp.leaves))
			}
			for i, l := range bb.sp.leaves {
				sp := raw[l.start:l.end]
				text := string(sp)
				if l.escaped {
					text = decodeString(sp)
				}
				if paths[l.col] != want[i].Path || l.kind != want[i].Kind || text != want[i].Str {
					t.Fatalf("%q: leaf %d is %q %v %q, field %+v", raw, i, paths[l.col], l.kind, text, want[i])
				}
			}
		}
		b := NewBlock([]Entry{{TS: time.UnixMilli(1), Raw: raw}})
		got, err := b.rebuild(nil, 0)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("%q rebuilt as %q (%v)", raw, got, err)
		}
	})
}
