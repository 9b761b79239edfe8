package framing

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conns tracks a listener's open connections and caps them, so that many
// slow or idle clients (slow-loris) cannot exhaust file descriptors.
type Conns struct {
	Max      int
	mu       sync.Mutex
	open     map[net.Conn]struct{}
	Rejected atomic.Int64
}

// Add registers c; false (and c closed, and counted) when at the cap.
func (t *Conns) Add(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[net.Conn]struct{}{}
	}
	max := t.Max
	if max <= 0 {
		max = 1024
	}
	if len(t.open) >= max {
		t.Rejected.Add(1)
		c.Close()
		return false
	}
	t.open[c] = struct{}{}
	return true
}

// Remove forgets and closes c.
func (t *Conns) Remove(c net.Conn) {
	t.mu.Lock()
	delete(t.open, c)
	t.mu.Unlock()
	c.Close()
}

// Len is the number of open connections.
func (t *Conns) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// CloseAll closes every open connection (shutdown).
func (t *Conns) CloseAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.open {
		c.Close()
	}
}

// Accept serves l until it is closed: each connection, under the cap, gets
// its own goroutine running serve, tracked by wg; the connection is closed
// and forgotten when serve returns.
func (t *Conns) Accept(l net.Listener, wg *sync.WaitGroup, serve func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: do not spin
			continue
		}
		if !t.Add(c) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer t.Remove(c)
			serve(c)
		}()
	}
}

// BigReadBuffer asks for a large UDP receive buffer so bursts are not lost
// in the kernel; as root SO_RCVBUFFORCE passes net.core.rmem_max.
func BigReadBuffer(c *net.UDPConn, size int) error {
	if raw, err := c.SyscallConn(); err == nil {
		var serr error
		raw.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
		})
		if serr == nil {
			return nil
		}
	}
	return c.SetReadBuffer(size)
}
