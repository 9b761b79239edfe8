package framing

import (
	"net"
	"sync"
	"sync/atomic"
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
