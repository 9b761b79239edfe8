package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// env points the CLI at this server: the variables a user exports.
func (s *server) env() []string {
	return []string{"OBS_SERVER=" + s.url(), "OBS_LOGS_UDP=" + localAddr(s.logsUDP), "OBS_STATSD=" + localAddr(s.statsd),
		"OBS_ZIPKIN=" + localAddr(s.zipkin), "OBS_OTLP_HTTP=" + s.otlpHTTP, "NO_COLOR=1"}
}

// demoServer is `make run` (obs serve --demo) and `make demo` (obs demo)
// as the README starts them, on ports the test holds: the demo's /health
// socket is bound here and handed to obs demo.
func demoServer(t *testing.T, demoArgs ...string) (*server, *lineWatch) {
	health, healthAddr := listenerFile(t)
	s := newServer(t, "--demo", "--demo-health", healthAddr)
	cmd := exec.Command(obsBin, append([]string{"demo", "--health-fd", "3"}, demoArgs...)...)
	cmd.Env = append(os.Environ(), s.env()...)
	cmd.ExtraFiles = []*os.File{health} // fd 3
	out := newLineWatch(`/health OK`)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		<-exited
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("obs demo exited %d on Ctrl-C:\n%s", code, out.String())
		}
	})
	out.wait(t, "obs demo", exited)
	return s, out
}

func localAddr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
