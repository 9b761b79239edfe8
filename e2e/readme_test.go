package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tourStep is one `$ command` of the README's tour and the output lines
// shown under it.
type tourStep struct {
	cmd  string
	want []string
}

// tourBlocks reads the README's "Five-minute tour" section (up to the
// next level-2 heading): each ```console block is a list of steps.
func tourBlocks(t *testing.T) [][]tourStep {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "\n## Five-minute tour\n")
	if i < 0 {
		t.Fatal("README has no '## Five-minute tour' section")
	}
	section := readme[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	var blocks [][]tourStep
	for _, part := range strings.Split(section, "```console\n")[1:] {
		end := strings.Index(part, "```")
		if end < 0 {
			t.Fatal("unterminated console block in the tour")
		}
		var steps []tourStep
		for _, line := range strings.Split(strings.TrimRight(part[:end], "\n"), "\n") {
			if cmd, ok := strings.CutPrefix(line, "$ "); ok {
				steps = append(steps, tourStep{cmd: cmd})
			} else if len(steps) == 0 {
				t.Fatalf("output before the first command in a console block: %q", line)
			} else {
				steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
			}
		}
		blocks = append(blocks, steps)
	}
	return blocks
}

// Timestamps and 64-bit trace ids differ from run to run; the README
// shows real ones.
var (
	timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?`)
	traceIDRE   = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
)

// tourMatcher compares output with the lines the README shows: the test's
// addresses read as the defaults the README uses, "…" stands for anything
// and a line of "…" alone for any lines.
type tourMatcher struct{ addrs *strings.Replacer }

func (m tourMatcher) normalize(line string) string {
	line = m.addrs.Replace(line)
	line = timestampRE.ReplaceAllString(line, "<time>")
	line = traceIDRE.ReplaceAllString(line, "<id>")
	return strings.TrimRight(line, " ")
}

// missing returns the first wanted line the output lacks (in order), or "".
func (m tourMatcher) missing(out string, want []string) string {
	got := strings.Split(out, "\n")
	k := 0
	for _, w := range want {
		if strings.TrimSpace(w) == "…" {
			continue
		}
		parts := strings.Split(m.normalize(w), "…")
		for i := range parts {
			// Spaces beside a "…" belong to what varies (columns move).
			if i > 0 {
				parts[i] = strings.TrimLeft(parts[i], " ")
			}
			if i < len(parts)-1 {
				parts[i] = strings.TrimRight(parts[i], " ")
			}
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		for k < len(got) && !re.MatchString(m.normalize(got[k])) {
			k++
		}
		if k == len(got) {
			return w
		}
		k++
	}
	return ""
}

// TestReadmeTour runs the README's tour as written, against `make run` and
// `make demo` started as the Makefile starts them, and checks every output
// it shows. A command whose output is not there yet (the next flush, the
// demo's DOWN phase) is run again, for up to three minutes.
func TestReadmeTour(t *testing.T) {
	blocks := tourBlocks(t)
	if len(blocks) < 5 {
		t.Fatalf("only %d console blocks in the tour", len(blocks))
	}
	// The tour runs beside `make run` and `make demo` (the README's first
	// block): the test starts what the Makefile has them run.
	for target, want := range map[string]string{"run": "bin/obs serve --demo", "demo": "bin/obs demo"} {
		out, err := exec.Command("make", "-s", "-n", "-C", "..", target, "ARGS=").Output()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil || strings.TrimSpace(lines[len(lines)-1]) != want {
			t.Fatalf("make %s runs %q (%v), the tour expects %q", target, lines[len(lines)-1], err, want)
		}
	}
	readme, _ := os.ReadFile("../README.md")
	if !bytes.Contains(readme, []byte("make run     # terminal 1")) || !bytes.Contains(readme, []byte("make demo    # terminal 2")) {
		t.Fatal("the README no longer starts with make run and make demo")
	}
	s, _ := demoServer(t)
	m := tourMatcher{addrs: strings.NewReplacer(s.http, "127.0.0.1:8000", localAddr(s.logsUDP), "127.0.0.1:7777",
		localAddr(s.statsd), "127.0.0.1:8125", localAddr(s.zipkin), "127.0.0.1:9411", s.otlpHTTP, "127.0.0.1:4318")}
	env := append(append(os.Environ(), s.env()...), "PATH="+filepath.Dir(obsBin)+":"+os.Getenv("PATH"))
	dir := t.TempDir()
	n := 0
	for _, block := range blocks {
		for _, step := range block {
			n++
			if strings.Contains(step.cmd, "until Ctrl-C") {
				runUntilCtrlC(t, m, step, env, dir)
				continue
			}
			deadline := time.Now().Add(3 * time.Minute)
			for {
				cmd := exec.Command("bash", "-c", step.cmd)
				cmd.Env, cmd.Dir = env, dir
				out, err := cmd.CombinedOutput()
				miss := m.missing(string(out), step.want)
				if err == nil && miss == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("$ %s\n%s\nexit: %v; not in the output: %q", step.cmd, out, err, miss)
				}
				time.Sleep(time.Second)
			}
		}
	}
	t.Logf("%d tour commands ran as the README shows them", n)
}

// runUntilCtrlC runs a command that runs until interrupted: once the
// output shows what the README promises, Ctrl-C must end it with status 0.
func runUntilCtrlC(t *testing.T, m tourMatcher, step tourStep, env []string, dir string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", step.cmd)
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the process group
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		mu.Lock()
		miss := m.missing(out.String(), step.want)
		mu.Unlock()
		if miss == "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("$ %s ended before Ctrl-C: %v\n%s", step.cmd, err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("$ %s\n%s\nnot in the output: %q", step.cmd, out.String(), miss)
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	if err := <-done; err != nil {
		t.Fatalf("$ %s: Ctrl-C: %v\n%s", step.cmd, err, fmt.Sprint(out.String()))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
