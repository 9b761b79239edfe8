// Package framing splits byte streams into newline-delimited lines with a
// bound on line length, for the TCP listeners (json_lines, StatsD, Graphite
// plaintext).
package framing

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ReadLines calls fn for each non-empty newline-terminated line (a final
// unterminated line counts too), without its line terminator. Lines over max
// bytes are reported with tooLong and their content skipped, including one
// cut off by the end of the stream.
//
// The line given to fn points into the reader's buffer, which the next read
// overwrites: it is valid only until fn returns. A caller that keeps the line
// or anything sliced from it must copy it.
//
// idle, when set, runs before each read that would wait on r because nothing
// is buffered: the place to hand over what the caller has batched and to set
// a read deadline.
func ReadLines(r io.Reader, max int, idle func(), fn func(line []byte, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	skipping := false
	for {
		if idle != nil && br.Buffered() == 0 {
			idle()
		}
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				long = append(long, chunk...)
				if len(long) > max {
					skipping, long = true, long[:0]
				}
			}
			continue
		}
		line := chunk
		if len(long) > 0 {
			line = append(long, chunk...)
			long = long[:0]
		}
		line = bytes.TrimRight(line, "\r\n")
		var ferr error
		switch {
		case skipping:
			skipping = false
			ferr = fn(nil, true)
		case len(bytes.TrimSpace(line)) == 0:
		case len(line) > max:
			ferr = fn(nil, true)
		default:
			ferr = fn(line, false)
		}
		if ferr != nil {
			return ferr
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// EachLine calls fn for each non-empty line of b, without its terminator.
// Unlike ReadLines the lines are sub-slices of b itself and stay valid as
// long as b does (an HTTP body read whole).
func EachLine(b []byte, fn func(line []byte)) {
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) > 0 {
			fn(line)
		}
	}
}
