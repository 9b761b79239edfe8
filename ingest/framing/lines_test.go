package framing

import (
	"bytes"
	"io"
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

// A line cut off by the end of the stream is still reported as too long
// (a 5 MiB line sent without its newline used to vanish uncounted).
func TestReadLinesLongAtEOF(t *testing.T) {
	in := strings.Repeat("y", 200<<10)
	long := 0
	ReadLines(strings.NewReader(in), 100<<10, nil, func(l []byte, tooLong bool) error {
		if tooLong {
			long++
		}
		return nil
	})
	if long != 1 {
		t.Fatalf("want the unterminated long line reported once, got %d", long)
	}
}

// idle runs only when the next read would wait on the connection, so a
// caller can batch every line that arrived together.
func TestReadLinesIdleBetweenReads(t *testing.T) {
	r := &chunked{parts: []string{"a\nb\nc\n", "d\n"}}
	var events []string
	ReadLines(r, 100, func() { events = append(events, "idle") }, func(l []byte, _ bool) error {
		events = append(events, string(l))
		return nil
	})
	if got := strings.Join(events, ","); got != "idle,a,b,c,idle,d,idle" {
		t.Fatalf("got %s", got)
	}
}

type chunked struct{ parts []string }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts = c.parts[1:]
	return n, nil
}

func TestEachLine(t *testing.T) {
	var got []string
	EachLine([]byte("a\r\n\n  \nb\nc"), func(l []byte) { got = append(got, string(l)) })
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("got %q", got)
	}
}
