package logstest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// SendLines writes the events as json_lines on one TCP connection.
func SendLines(addr string, set []Event) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(c, 32<<10)
	for _, e := range set {
		w.Write(e.Raw)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("tcp send: %w", err)
	}
	return c.Close()
}

// PostNDJSON posts the events in random batches of up to 200 (CRLF or LF
// line ends), retrying on 503 as a shipper honouring Retry-After does.
// acked, when set, receives every batch answered 202. It returns the number
// of 503 answers.
func PostNDJSON(url string, set []Event, r *rand.Rand, acked func([]Event)) (int, error) {
	retries := 0
	for len(set) > 0 {
		k := min(len(set), 1+r.IntN(200))
		var body bytes.Buffer
		for _, e := range set[:k] {
			body.Write(e.Raw)
			body.WriteString("\r\n"[r.IntN(2):])
		}
		for {
			resp, err := http.Post(url, "application/x-ndjson", bytes.NewReader(body.Bytes()))
			if err != nil {
				return retries, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				retries++
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if resp.StatusCode != http.StatusAccepted {
				return retries, fmt.Errorf("POST %s: %s", url, resp.Status)
			}
			if acked != nil {
				acked(set[:k])
			}
			break
		}
		set = set[k:]
	}
	return retries, nil
}

// CopyDir copies a directory tree as it is now: a store's files copied
// without closing it are what a kill -9 leaves.
func CopyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
