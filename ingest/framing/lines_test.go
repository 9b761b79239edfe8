package framing

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadLines(t *testing.T) {
	in := "a\n\nb\r\n" + strings.Repeat("x", 300) + "\nc"
	var got []string
	err := ReadLines(strings.NewReader(in), 100, nil, func(l []byte, long bool) error {
		if long {
			got = append(got, "LONG")
		} else {
			got = append(got, string(l))
		}
		return nil
	})
	if err != nil || strings.Join(got, ",") != "a,b,LONG,c" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func FuzzReadLines(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n"), 4)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max <= 0 || max > 1<<16 {
			return
		}
		total := 0
		ReadLines(bytes.NewReader(b), max, nil, func(l []byte, long bool) error {
			if !long && len(l) > max {
				t.Fatalf("line of %d over max %d", len(l), max)
			}
			total++
			return nil
		})
		if total > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d lines from %d newlines", total, bytes.Count(b, []byte("\n")))
		}
	})
}
