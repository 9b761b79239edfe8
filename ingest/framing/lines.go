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
// unterminated line counts too). Lines over max bytes are reported with
// tooLong and their content skipped. before runs before each read.
func ReadLines(r io.Reader, max int, before func(), fn func(line []byte, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	skipping := false
	for {
		if before != nil {
			before()
		}
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				long = append(long, chunk...)
				if len(long) > max {
					skipping, long = true, nil
				}
			}
			continue
		}
		line := chunk
		if len(long) > 0 {
			line = append(long, chunk...)
			long = long[:0]
		}
		if skipping {
			skipping = false
			if len(chunk) > 0 || err == nil {
				if ferr := fn(nil, true); ferr != nil {
					return ferr
				}
			}
		} else if len(bytes.TrimSpace(line)) > 0 {
			if len(line) > max {
				if ferr := fn(nil, true); ferr != nil {
					return ferr
				}
			} else if ferr := fn(bytes.TrimRight(line, "\r\n"), false); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
