package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Remote engines for the scale-out tests, built from the Go module proxy
// the first time and cached (never committed): $OBS_E2E_CACHE, default
// ~/.cache/obs-e2e, one binary per module version. The modules carry
// replace directives, which `go install` refuses, so each is built from a
// writable copy of the module out of the module cache.
//
// Thanos v0.42.x (grpc v1.81.1) is not used: its receivers panic in grpc's
// buffer pool (index out of range [64]) on the first empty gRPC answer, so
// a hashring of two dies on its first forwarded write; v0.41.0 (grpc
// v1.76.0) does not. v0.42.5 needs Go 1.26.10.
//
// tags are the build tags the project's own release build uses: Thanos
// converts between its protobuf labels and Prometheus's labels.Labels
// with unsafe casts that assume the slice layout, so without its
// .promu.yml's `slicelabels` a receiver corrupts labels and panics on its
// first write (that, not grpc, was the panic seen with v0.42).
//
// Jaeger v2 is ./cmd/jaeger of the module's v1.x tags (the module path has
// no /v2: v1.76.0 is the release tagged v2.13.0 too).
//
// telemetrygen is the OpenTelemetry Collector's load generator, not an
// engine: it is built and cached the same way for the OTLP load tests.
var engineModules = map[string]struct{ module, version, pkg, tags string }{
	"jaeger":           {"github.com/jaegertracing/jaeger", "v1.76.0", "./cmd/jaeger", ""},
	"thanos":           {"github.com/thanos-io/thanos", "v0.41.0", "./cmd/thanos", "slicelabels"},
	"victoria-metrics": {"github.com/VictoriaMetrics/VictoriaMetrics", "v1.116.0", "./app/victoria-metrics", ""},
	// VictoriaLogs of the same module: its cluster mode (-storageNode) is
	// in this release; newer VictoriaLogs modules are not on the proxy.
	"victoria-logs": {"github.com/VictoriaMetrics/VictoriaMetrics", "v1.116.0", "./app/victoria-logs", ""},
	"telemetrygen":  {"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen", "v0.161.0", ".", ""},
}

func engineCache() string {
	if d := os.Getenv("OBS_E2E_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "obs-e2e-cache")
	}
	return filepath.Join(home, ".cache", "obs-e2e")
}

// engineBinary returns the cached engine, building it first if needed
// (minutes, once per machine).
func engineBinary(t *testing.T, name string) string {
	t.Helper()
	m := engineModules[name]
	out := filepath.Join(engineCache(), name+"-"+m.version)
	if m.tags != "" {
		out += "-" + m.tags // a build without them is another binary
	}
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if os.Getenv("OBS_E2E_ENGINES") == "" {
		t.Skipf("%s %s is not built here: `make test-engines` builds it (minutes, once per machine) and runs this test", name, m.version)
	}
	if err := os.MkdirAll(engineCache(), 0o755); err != nil {
		t.Fatal(err)
	}
	// One build at a time per machine (colleagues' test runs share the cache).
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	started := time.Now()
	dl := exec.Command("go", "mod", "download", "-json", m.module+"@"+m.version)
	dl.Dir = os.TempDir()
	raw, err := dl.Output()
	if err != nil {
		t.Fatalf("go mod download %s@%s: %v\n%s", m.module, m.version, err, raw)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(raw, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s@%s: %s %s", m.module, m.version, info.Error, raw)
	}
	src := t.TempDir()
	if err := exec.Command("cp", "-r", info.Dir+"/.", src).Run(); err != nil {
		t.Fatal(err)
	}
	exec.Command("chmod", "-R", "u+w", src).Run()
	build := exec.Command("go", "build", "-trimpath", "-tags", m.tags, "-o", out+".tmp", m.pkg)
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	build.Stdout, build.Stderr = &stderr, &stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, stderr.String())
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s %s in %s (cached in %s)", name, m.version, time.Since(started).Round(time.Second), engineCache())
	return out
}

// proc is one engine process.
// lockedBuffer is a process's output, read while the process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proc struct {
	t      *testing.T
	name   string
	bin    string
	args   []string
	ready  string // URL that answers 200 once it serves
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

func startProc(t *testing.T, name, bin, ready string, args ...string) *proc {
	p := &proc{t: t, name: name, bin: bin, args: args, ready: ready}
	p.start()
	t.Cleanup(func() {
		p.stop()
		// An engine's own account of a failure (a write it dropped, a
		// node it could not reach) is what tells whose failure it was.
		if t.Failed() {
			t.Logf("%s's output, last lines:\n%s", p.name, tail(p.out.String(), 2000))
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	if p.out == nil {
		p.out = &lockedBuffer{} // kept across restarts
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.exited = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited: %s", p.name, tail(p.out.String(), 3000))
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s not ready at %s: %s", p.name, p.ready, tail(p.out.String(), 3000))
}

// kill9 is the engine dying (no shutdown, no flush).
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// engine is a running metrics engine as obs sees it.
type engine struct {
	name     string
	writeURL string
	queryURL string
	// writers are the processes that take remote write: the ones an
	// outage test kills and restarts.
	writers []*proc
	// graceful: an outage test stops the writers with SIGTERM, not kill -9.
	graceful bool
}

// startVictoriaMetrics runs single-node VictoriaMetrics. Queries see
// samples at once (no latency offset, no result cache), as a test needs;
// extra are more of its flags.
func startVictoriaMetrics(t *testing.T, extra ...string) *engine {
	bin := engineBinary(t, "victoria-metrics")
	port := freePort(t)
	p := startProc(t, "victoria-metrics", bin, "http://"+loopback(port)+"/health",
		append([]string{"-storageDataPath", t.TempDir(), "-httpListenAddr", loopback(port),
			"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel", "ERROR"}, extra...)...)
	return &engine{name: "victoria-metrics", writeURL: "http://" + loopback(port) + "/api/v1/write",
		queryURL: "http://" + loopback(port), writers: []*proc{p}}
}

// startThanos runs a distributed Thanos: two receivers in one hashring
// (each series lives on the receiver its hash picks; a write to either is
// forwarded over gRPC) and a querier over both. The replica and tenant
// labels the receivers add are the querier's replica labels, so queries
// answer with the labels obs wrote.
func startThanos(t *testing.T) *engine {
	bin := engineBinary(t, "thanos")
	dir := t.TempDir()
	type recv struct{ grpc, http, write, capnp int }
	rs := []recv{{freePort(t), freePort(t), freePort(t), freePort(t)}, {freePort(t), freePort(t), freePort(t), freePort(t)}}
	hashring := fmt.Sprintf(`[{"hashring":"default","endpoints":["%s","%s"]}]`, loopback(rs[0].grpc), loopback(rs[1].grpc))
	ringFile := filepath.Join(dir, "hashring.json")
	if err := os.WriteFile(ringFile, []byte(hashring), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &engine{name: "thanos"}
	for i, r := range rs {
		p := startProc(t, fmt.Sprintf("thanos-receive-%d", i), bin, "http://"+loopback(r.http)+"/-/ready",
			"receive", "--log.level=warn",
			"--grpc-address="+loopback(r.grpc), "--http-address="+loopback(r.http),
			"--remote-write.address="+loopback(r.write), "--receive.capnproto-address="+loopback(r.capnp),
			"--receive.local-endpoint="+loopback(r.grpc), "--receive.hashrings-file="+ringFile,
			"--receive.replication-factor=1", "--tsdb.path="+filepath.Join(dir, fmt.Sprintf("receive-%d", i)),
			fmt.Sprintf(`--label=receive_replica="r%d"`, i))
		e.writers = append(e.writers, p)
	}
	qh, qg := freePort(t), freePort(t)
	startProc(t, "thanos-query", bin, "http://"+loopback(qh)+"/-/ready",
		"query", "--log.level=warn", "--http-address="+loopback(qh), "--grpc-address="+loopback(qg),
		"--endpoint="+loopback(rs[0].grpc), "--endpoint="+loopback(rs[1].grpc),
		"--query.replica-label=receive_replica", "--query.replica-label=tenant_id")
	e.writeURL = "http://" + loopback(rs[0].write) + "/api/v1/receive"
	e.queryURL = "http://" + loopback(qh)
	return e
}

// serveRemote starts obs forwarding metrics to e and reading them back.
func serveRemote(t *testing.T, e *engine, extra ...string) *server {
	args := append([]string{"--metrics-storage", "remote", "--metrics-remote-write", e.writeURL,
		"--metrics-remote-query", e.queryURL, "--flush-interval", "1s"}, extra...)
	return newServer(t, args...)
}

// TestEngineBuilds builds (or finds cached) every engine the scale-out
// tests run; `make e2e-engines` runs it first, under its own timeout, so
// that a machine's first build does not eat the test run's.
func TestEngineBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds engines")
	}
	for name := range engineModules {
		t.Log(engineBinary(t, name))
	}
}
