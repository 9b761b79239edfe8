// Package e2e runs the real obs binary against real clients: UDP and TCP
// sockets, HTTP, on-disk stores, and Node client libraries from npm.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var obsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "obs-e2e-bin")
	if err != nil {
		panic(err)
	}
	obsBin = filepath.Join(dir, "obs")
	build := exec.Command("go", "build", "-o", obsBin, "../cmd/obs")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build obs:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// server is one running `obs serve`.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	data    string
	http    string
	logsUDP int
	statsd  int
	carbon  int
	zipkin  int
	extra   []string
	// prefix, when set, runs obs through it (a shell that lowers a limit):
	// the command gets obs's path and arguments after it.
	prefix []string
	stderr *bytes.Buffer
	exited chan struct{}
}

func newServer(t *testing.T, extra ...string) *server {
	return newServerVia(t, nil, extra...)
}

// newServerVia starts obs through a prefix command (see server.prefix).
func newServerVia(t *testing.T, prefix []string, extra ...string) *server {
	s := &server{t: t, data: t.TempDir(), http: fmt.Sprintf("127.0.0.1:%d", freePort(t)), logsUDP: freePort(t),
		statsd: freePort(t), carbon: freePort(t), zipkin: freePort(t), extra: extra, prefix: prefix}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) url() string { return "http://" + s.http }

func (s *server) start() time.Duration {
	s.t.Helper()
	args := append([]string{"serve", "--data", s.data, "--http", s.http,
		"--logs-udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP),
		"--statsd", fmt.Sprintf("127.0.0.1:%d", s.statsd),
		"--carbon", fmt.Sprintf("127.0.0.1:%d", s.carbon),
		"--zipkin", fmt.Sprintf("127.0.0.1:%d", s.zipkin)}, s.extra...)
	if len(s.prefix) > 0 {
		s.cmd = exec.Command(s.prefix[0], append(append(s.prefix[1:], obsBin), args...)...)
	} else {
		s.cmd = exec.Command(obsBin, args...)
	}
	s.stderr = &bytes.Buffer{}
	s.cmd.Stderr = s.stderr
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url() + "/health")
		if err == nil {
			resp.Body.Close()
			return time.Since(started)
		}
		select {
		case <-s.exited:
			s.t.Fatalf("obs serve exited: %s", s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatalf("obs serve did not come up: %s", s.stderr.String())
	return 0
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("obs serve did not stop on SIGTERM: %s", s.stderr.String())
	}
}

func (s *server) kill9() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// obs runs the CLI against this server and returns stdout.
func (s *server) obs(args ...string) (string, error) {
	cmd := exec.Command(obsBin, args...)
	cmd.Env = append(os.Environ(), "OBS_SERVER="+s.url(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("obs %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// searchJSON runs `obs logs search -o json` and decodes the events.
func (s *server) searchJSON(q string, extra ...string) []map[string]any {
	s.t.Helper()
	args := []string{"logs", "search", "-o", "json", "--limit", "100000"}
	if len(extra) == 0 {
		args = append(args, "--since", "30d")
	}
	out, err := s.obs(append(append(args, extra...), q)...)
	if err != nil {
		s.t.Fatal(err)
	}
	var evs []map[string]any
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		s.t.Fatalf("search %q: not a JSON array: %v\n%s", q, err, out)
	}
	return evs
}

func (s *server) metric(name string) float64 {
	s.t.Helper()
	v, err := metricErr(s, name)
	if err != nil {
		s.t.Fatalf("metric %s: %v", name, err)
	}
	return v
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(err)
}

// nodeModules returns e2e/testdata/node (testdata: the go tool skips it), failing with the install command when the
// npm clients are missing.
func nodeModules(t *testing.T) string {
	dir, _ := filepath.Abs("testdata/node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("npm clients missing: run `npm ci --prefix e2e/testdata/node` (the README's test command does)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not installed")
	}
	return dir
}
