package framing

import (
	"net"
	"strings"
	"testing"
)

// Port 0 gets UDP and TCP on one port, even while other sockets hold
// many TCP ports (ListenPair picks again when TCP's number is taken).
func TestListenPairPortZero(t *testing.T) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for i := 0; i < 200; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
	}
	for i := 0; i < 50; i++ {
		p, err := ListenPair("test", "127.0.0.1:0", 0, &Conns{})
		if err != nil {
			t.Fatal(err)
		}
		if p.TCP.Addr().(*net.TCPAddr).Port != p.UDPAddr().Port {
			t.Fatalf("udp %v, tcp %v", p.UDPAddr(), p.TCP.Addr())
		}
		p.Close()
	}
}

// A port given explicitly is not changed: a taken TCP port is an error
// that names it.
func TestListenPairTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = ListenPair("test", l.Addr().String(), 0, &Conns{})
	if err == nil || !strings.Contains(err.Error(), "listen test tcp "+l.Addr().String()) {
		t.Fatalf("got %v", err)
	}
}
