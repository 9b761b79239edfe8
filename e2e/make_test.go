package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// `make run`, then Ctrl-C: obs stores what it accepted and exits 0, so
// make prints no error. The terminal's Ctrl-C reaches the whole
// foreground process group, make and obs; so does this test's SIGINT.
func TestMakeRunCtrlC(t *testing.T) {
	dead, err := holdPort(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-C", "..", "run", "OBS="+obsBin, "ARGS=--data "+t.TempDir()+
		" --http 127.0.0.1:0 --logs-udp 127.0.0.1:0 --statsd 127.0.0.1:0 --carbon 127.0.0.1:0 --zipkin 127.0.0.1:0 --otlp-http 127.0.0.1:0 --otlp-grpc 127.0.0.1:0 --demo-health "+dead.addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := newLineWatch(`msg="obs serving"`)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	out.wait(t, "make run", exited)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	<-exited
	log := out.String()
	if strings.Contains(log, "make: ***") || !strings.Contains(log, `msg="shutting down"`) {
		t.Fatalf("Ctrl-C on make run:\n%s", log)
	}
	if !strings.Contains(log, " serve --demo --data ") {
		t.Fatalf("make run did not run obs serve --demo:\n%s", log)
	}
}
