package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUIDemo is `make run` and `make demo` seen in Debian's Chromium:
// every page fills from the demo alone — the services, Discover, every
// panel of both built-in dashboards, traces of three spans with the
// web-api -> recipe-api link — and a check fires. Screenshots go to
// test-output/ui-demo; the log says how long after the demo started each
// page was full.
func TestUIDemo(t *testing.T) {
	dir := nodeModules(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian's chromium is missing: apt-get install -y chromium (.ci/run does)")
	}
	s, _ := demoServer(t)
	started := time.Now()
	shots, _ := filepath.Abs("../test-output/ui-demo")
	cmd := exec.Command("node", "ui-demo.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OBS_URL="+s.url(), "SHOTS="+shots, fmt.Sprintf("START_MS=%d", started.UnixMilli()))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "ui demo ok") {
		t.Fatalf("ui demo failed: %v (screenshots in %s)", err, shots)
	}
}
