package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// connGuard keeps slow or idle clients from taking every connection (or
// every file descriptor) an HTTP server has: at the cap, a new connection
// makes room by closing the connection that has waited longest without
// sending a request (one still sending its headers, or an idle keep-alive).
// A flood of slow clients then turns itself over instead of locking out
// /health and everyone else. Connections running a request (a websocket
// tail, a search) are never closed for room.
type connGuard struct {
	max int

	mu    sync.Mutex
	conns map[net.Conn]connInfo
}

type connInfo struct {
	since   time.Time
	waiting bool // new or idle: no request in progress
	body    bool // a request still sending its body
}

func newConnGuard(max int) *connGuard {
	return &connGuard{max: max, conns: map[net.Conn]connInfo{}}
}

// defaultMaxConns leaves room under the process's file limit for the
// stores' own files.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 512 {
		return 256
	}
	return int(min(rl.Cur/2, 8192))
}

// state is http.Server.ConnState.
func (g *connGuard) state(c net.Conn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch s {
	case http.StateNew:
		g.conns[c] = connInfo{since: time.Now(), waiting: true}
		if len(g.conns) > g.max && !g.evictLocked(c) {
			// Every connection is running a request: refuse this one
			// rather than run out of file descriptors.
			c.Close()
			delete(g.conns, c)
		}
	case http.StateActive:
		g.conns[c] = connInfo{since: time.Now()}
	case http.StateIdle:
		g.conns[c] = connInfo{since: time.Now(), waiting: true}
	case http.StateHijacked, http.StateClosed:
		delete(g.conns, c)
	}
}

// evictLocked closes the longest-waiting connection other than keep.
func (g *connGuard) evictLocked(keep net.Conn) bool {
	var victim net.Conn
	var oldest time.Time
	// First the longest waiting without a request; then, if every
	// connection runs one, the request longest at sending its body (a
	// slow-body flood). Requests past their body (a search, a websocket
	// tail) are never cut.
	for _, want := range []func(connInfo) bool{
		func(i connInfo) bool { return i.waiting },
		func(i connInfo) bool { return i.body },
	} {
		for c, info := range g.conns {
			if c == keep || !want(info) {
				continue
			}
			if victim == nil || info.since.Before(oldest) {
				victim, oldest = c, info.since
			}
		}
		if victim != nil {
			break
		}
	}
	if victim == nil {
		return false
	}
	victim.Close()
	delete(g.conns, victim)
	return true
}

type connKey struct{}

// withConn is http.Server.ConnContext: handlers can find their connection.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// bodies bounds how long a request may take to send its body (a client
// that trickles one holds its connection for at most d) and marks the
// connection as sending a body until the handler has read it, so that a
// slow-body flood can be made room in.
func (g *connGuard) bodies(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
			if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
				g.setBody(c, true)
				// On a copy of the request: net/http looks at the original's
				// Body after the handler, and only its own body type tells
				// it how much is unread. Seeing another type, it tries to
				// drain the body before answering, so a refusal of a 2 GB
				// declared body (413) waited for the read deadline.
				r = r.WithContext(r.Context())
				r.Body = &bodyWatch{ReadCloser: r.Body, done: func() { g.setBody(c, false) }}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *connGuard) setBody(c net.Conn, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if info, ok := g.conns[c]; ok && !info.waiting {
		info.body = on
		g.conns[c] = info
	}
}

// bodyWatch tells when a request body has been read to its end.
type bodyWatch struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *bodyWatch) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}
