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
	"regexp"
	"strconv"
	"strings"
	"sync"
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

// server is one running `obs serve`. Every listener binds port 0, and the
// harness reads the ports obs got from its "obs serving" log line: no
// test picks a port that something else could take before obs binds it.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	data    string
	http    string // host:port
	logsUDP int
	statsd  int
	carbon  int
	zipkin  int
	// otlpHTTP and otlpGRPC are the OpenTelemetry receiver's host:port.
	otlpHTTP, otlpGRPC string
	extra              []string
	// prefix, when set, runs obs through it (a shell that lowers a limit):
	// the command gets obs's path and arguments after it.
	prefix []string
	stderr *lineWatch
	exited chan struct{}
}

func newServer(t *testing.T, extra ...string) *server {
	return newServerVia(t, nil, extra...)
}

// newServerVia starts obs through a prefix command (see server.prefix).
func newServerVia(t *testing.T, prefix []string, extra ...string) *server {
	s := &server{t: t, data: t.TempDir(), extra: extra, prefix: prefix}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) url() string { return "http://" + s.http }

// lineWatch is a child process's output, safe to read while the child
// writes it, that notes the first complete line matching a pattern.
type lineWatch struct {
	mu    sync.Mutex
	b     bytes.Buffer
	seen  int // bytes already looked at
	re    *regexp.Regexp
	match []string // the line and its submatches
	ready chan struct{}
}

func newLineWatch(pattern string) *lineWatch {
	return &lineWatch{re: regexp.MustCompile(pattern), ready: make(chan struct{})}
}

func (l *lineWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	for l.match == nil {
		i := bytes.IndexByte(l.b.Bytes()[l.seen:], '\n')
		if i < 0 {
			break
		}
		line := string(l.b.Bytes()[l.seen : l.seen+i])
		l.seen += i + 1
		if m := l.re.FindStringSubmatch(line); m != nil {
			l.match = append([]string{line}, m[1:]...)
			close(l.ready)
		}
	}
	return len(p), nil
}

func (l *lineWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wait returns the matching line and its submatches, or fails t when the
// child exits first (exited closes then). It waits as long as a busy
// machine takes, up to the test's -timeout.
func (l *lineWatch) wait(t *testing.T, what string, exited <-chan struct{}) []string {
	t.Helper()
	select {
	case <-l.ready:
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.match
	case <-exited:
		t.Fatalf("%s exited: %s", what, l.String())
		return nil
	}
}

// logValue reads key=value from a log line of obs's text handler.
func logValue(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func (s *server) start() time.Duration {
	s.t.Helper()
	args := append([]string{"serve", "--data", s.data, "--http", "127.0.0.1:0", "--logs-udp", "127.0.0.1:0",
		"--statsd", "127.0.0.1:0", "--carbon", "127.0.0.1:0", "--zipkin", "127.0.0.1:0",
		"--otlp-http", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0"}, s.extra...)
	if len(s.prefix) > 0 {
		s.cmd = exec.Command(s.prefix[0], append(append(s.prefix[1:], obsBin), args...)...)
	} else {
		s.cmd = exec.Command(obsBin, args...)
	}
	s.stderr = newLineWatch(`msg="obs serving"`)
	s.cmd.Stderr = s.stderr
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	line := s.stderr.wait(s.t, "obs serve", s.exited)[0]
	port := func(key string) int {
		_, p, err := net.SplitHostPort(logValue(line, key))
		n, err2 := strconv.Atoi(p)
		if err != nil || err2 != nil {
			s.t.Fatalf("no %s address in %q", key, line)
		}
		return n
	}
	s.http = logValue(line, "http")
	port("otlp_http")
	port("otlp_grpc")
	s.otlpHTTP, s.otlpGRPC = logValue(line, "otlp_http"), logValue(line, "otlp_grpc")
	s.logsUDP, s.statsd, s.carbon, s.zipkin = port("logs"), port("statsd"), port("carbon"), port("zipkin")
	port("http")
	for {
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
