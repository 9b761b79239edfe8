package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// portHold keeps a loopback TCP port for a test's own service: a socket
// bound to it but not listening, so that connections are refused (as to a
// stopped service) while no other process can take the port; the service
// listens on it at will with SO_REUSEPORT and stops by closing that
// listener. Tests never pick a port and bind it later.
type portHold struct {
	fd   int
	addr string
}

// holdPort binds addr (port 0 for any free one); it fails when the port
// is taken.
func holdPort(t *testing.T, addr string) (*portHold, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("hold %s: %w", addr, err)
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	p := &portHold{fd: fd, addr: fmt.Sprintf("%s:%d", ta.IP, got.(*syscall.SockaddrInet4).Port)}
	t.Cleanup(func() { syscall.Close(fd) })
	return p, nil
}

// listen opens a listener on the held port.
func (p *portHold) listen() (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp4", p.addr)
}

// listenerFile is a listener a child process inherits (exec.Cmd.ExtraFiles):
// the port stays held by the test from bind to exit.
func listenerFile(t *testing.T) (*os.File, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // f holds the socket
	t.Cleanup(func() { f.Close() })
	return f, addr
}

// freePort is a port free a moment ago, for third-party processes (engines,
// Node services) that bind their own port and cannot take a held one. The
// window between close and their bind is the only race left, and a
// collision fails the test loudly at the process's start.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
