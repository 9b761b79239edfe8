// Package send is the client side of two of obs's intake protocols:
// Logstash-style JSON events (one per UDP datagram, or JSON lines over TCP)
// and StatsD lines (UDP datagrams, or lines over TCP). `obs logs send`,
// `obs metrics send` and `obs demo` use it; apps use the clients they have.
package send

import (
	"bytes"
	"fmt"
	"net"
	"sync"
)

// MaxDatagram is the largest UDP payload obs reads (64 KiB less the headers);
// a bigger event has to go over TCP.
const MaxDatagram = 65507

// Conn sends messages over UDP (one datagram each) or TCP (one line each).
// It is safe for concurrent use.
type Conn struct {
	mu   sync.Mutex
	c    net.Conn
	tcp  bool
	addr string
}

// Dial connects to addr over "udp" or "tcp".
func Dial(network, addr string) (*Conn, error) {
	if network != "udp" && network != "tcp" {
		return nil, fmt.Errorf("network %q: want udp or tcp", network)
	}
	c, err := net.Dial(network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", network, addr, err)
	}
	return &Conn{c: c, tcp: network == "tcp", addr: addr}, nil
}

// String says where messages go, e.g. "127.0.0.1:7777 (udp)".
func (c *Conn) String() string {
	if c.tcp {
		return c.addr + " (tcp)"
	}
	return c.addr + " (udp)"
}

// Send writes one message: over UDP a datagram, over TCP msg and a newline
// (msg must then hold no newline of its own that would split it).
func (c *Conn) Send(msg []byte) error {
	if !c.tcp && len(msg) > MaxDatagram {
		return fmt.Errorf("%d bytes do not fit one UDP datagram (%d at most): send over TCP", len(msg), MaxDatagram)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if c.tcp {
		_, err = c.c.Write(append(bytes.TrimRight(msg, "\n"), '\n'))
	} else {
		_, err = c.c.Write(msg)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", c, err)
	}
	return nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }
