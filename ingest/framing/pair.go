package framing

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// Pair is a UDP socket and a TCP listener on the same address — how the
// Logstash, StatsD and carbon ports all listen — with the goroutines that
// serve them.
type Pair struct {
	UDP   *net.UDPConn
	TCP   net.Listener
	conns *Conns
	wg    sync.WaitGroup
}

// ListenPair binds UDP (with a receive buffer of rcvbuf bytes) and then TCP
// on the port UDP got, so that an address with port 0 works too. conns caps
// and tracks the TCP clients.
func ListenPair(what, addr string, rcvbuf int, conns *Conns) (*Pair, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s address %q: %w", what, addr, err)
	}
	// With port 0 the kernel picks UDP's port, and another process may
	// hold that number over TCP: then pick again.
	tries := 1
	if ua.Port == 0 {
		tries = 100
	}
	for i := 0; ; i++ {
		p := &Pair{conns: conns}
		if p.UDP, err = net.ListenUDP("udp", ua); err != nil {
			return nil, fmt.Errorf("listen %s udp %s: %w", what, addr, err)
		}
		if p.TCP, err = net.Listen("tcp", p.UDP.LocalAddr().String()); err != nil {
			p.UDP.Close()
			if errors.Is(err, syscall.EADDRINUSE) && i+1 < tries {
				continue
			}
			return nil, fmt.Errorf("listen %s tcp %s: %w", what, p.UDP.LocalAddr(), err)
		}
		BigReadBuffer(p.UDP, rcvbuf) // best effort: the default still works
		return p, nil
	}
}

// Go runs f in a goroutine that Close waits for.
func (p *Pair) Go(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// ServeTCP accepts TCP clients, each served by serve in its own goroutine.
func (p *Pair) ServeTCP(serve func(net.Conn)) {
	p.Go(func() { p.conns.Accept(p.TCP, &p.wg, serve) })
}

// UDPAddr is the bound address (TCP has the same).
func (p *Pair) UDPAddr() *net.UDPAddr { return p.UDP.LocalAddr().(*net.UDPAddr) }

// Close closes both sockets and every client, then waits for the goroutines.
func (p *Pair) Close() error {
	err := errors.Join(p.UDP.Close(), p.TCP.Close())
	p.conns.CloseAll()
	p.wg.Wait()
	return err
}
