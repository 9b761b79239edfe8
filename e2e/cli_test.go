package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runObs runs the real binary in dir with env, returning stdout, stderr
// and the exit status.
func runObs(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(obsBin, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("obs %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// commandTree lists every command path by reading obs's own help: each
// command's COMMANDS section, recursively.
func commandTree(t *testing.T, dir string, env []string, path []string) [][]string {
	out, _, code := runObs(t, dir, env, append(append([]string{}, path...), "--help")...)
	if code != 0 {
		t.Fatalf("obs %s --help: exit %d", strings.Join(path, " "), code)
	}
	_, cmds, ok := strings.Cut(out, "\nCOMMANDS:\n")
	if !ok {
		return nil
	}
	var tree [][]string
	for _, line := range strings.Split(cmds, "\n") {
		if !strings.HasPrefix(line, "   ") {
			break
		}
		name := strings.TrimSuffix(strings.Fields(line)[0], ",")
		if name == "help" {
			continue
		}
		sub := append(append([]string{}, path...), name)
		tree = append(tree, sub)
		tree = append(tree, commandTree(t, dir, env, sub)...)
	}
	return tree
}

// cliEnv sends every address a command might use to a port nothing
// listens on (held by the test), so that a command that ran instead of
// showing help fails fast and shows up.
func cliEnv(t *testing.T) []string {
	dead, err := holdPort(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "OBS_SERVER=http://" + dead.addr}
	for _, v := range []string{"OBS_HTTP", "OBS_LOGS_UDP", "OBS_STATSD", "OBS_CARBON", "OBS_ZIPKIN", "OBS_DEMO_HEALTH"} {
		env = append(env, v+"="+dead.addr)
	}
	return env
}

// Every command and subcommand answers --help and -h, before or after
// arguments, with its own help, and runs nothing: no server starts, no
// data directory appears, nothing is sent.
func TestCLIHelpOnEveryCommand(t *testing.T) {
	dir, env := t.TempDir(), cliEnv(t)
	tree := commandTree(t, dir, env, nil)
	if len(tree) < 30 {
		t.Fatalf("only %d commands found: %v", len(tree), tree)
	}
	leaf := map[string]bool{}
	for i, path := range tree {
		leaf[strings.Join(path, " ")] = i+1 == len(tree) || len(tree[i+1]) <= len(path)
	}
	for _, path := range tree {
		name := "obs " + strings.Join(path, " ")
		cases := [][]string{{"--help"}, {"-h"}}
		if leaf[strings.Join(path, " ")] {
			// After arguments and other flags too.
			cases = append(cases, []string{"some-argument", "--help"}, []string{"-o", "json", "x", "-h"})
		}
		for _, args := range cases {
			full := append(append([]string{}, path...), args...)
			out, errOut, code := runObs(t, dir, env, full...)
			if code != 0 || !strings.Contains(out, "USAGE:\n   "+name) {
				t.Errorf("obs %s: exit %d, stdout %q, stderr %q", strings.Join(full, " "), code, head(out), errOut)
			}
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Fatalf("--help left files behind: %v", ents)
	}
	t.Logf("%d commands answer --help and -h", len(tree))
}

func head(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// An unknown flag on any command is an error with exit status 2 that
// names the flag and the nearest valid one (all of them when none looks
// alike); so is an unknown command.
func TestCLIUnknownFlagsAndCommands(t *testing.T) {
	dir, env := t.TempDir(), cliEnv(t)
	tree := append([][]string{nil}, commandTree(t, dir, env, nil)...)
	msg := regexp.MustCompile(`^obs[a-z -]*: unknown flag --no-such-flag; (did you mean --[a-z-]+\?|valid flags: --help(, --[a-z-]+)*)\nRun 'obs[a-z -]* --help' for usage.\n$`)
	for _, path := range tree {
		args := append(append([]string{}, path...), "--no-such-flag", "x")
		out, errOut, code := runObs(t, dir, env, args...)
		if code != 2 || out != "" || !msg.MatchString(errOut) {
			t.Errorf("obs %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, head(out), errOut)
		}
	}
	for args, want := range map[string]string{
		"logs search app:x --sinse 1h": "obs logs search: unknown flag --sinse; did you mean --since?\n",
		"lgs":                          "obs: unknown command \"lgs\". Did you mean \"logs\"?\n",
		"metrics qurey x":              "obs metrics: unknown command \"qurey\". Did you mean \"query\"?\n",
		"logs search --limit many x":   "obs logs search: invalid value \"many\" for flag --limit: parse error\n",
		"serve --data":                 "obs serve: flag needs an argument: --data\n",
	} {
		out, errOut, code := runObs(t, dir, env, strings.Fields(args)...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, want) {
			t.Errorf("obs %s: exit %d, stdout %q, stderr %q, want %q", args, code, out, errOut, want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Fatalf("bad command lines left files behind: %v", ents)
	}
}

// obs --version and obs version say version, commit and build date; a
// binary built without the Makefile's stamps falls back on Go's build
// information, never just "dev".
func TestCLIVersion(t *testing.T) {
	dir, env := t.TempDir(), cliEnv(t)
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		out, _, code := runObs(t, dir, env, args...)
		if code != 0 || !regexp.MustCompile(`^obs \S+\ncommit .+\nbuilt  \d{4}-\d\d-\d\dT.+\ngo     go1\.\S+ \S+\n$`).MatchString(out) {
			t.Errorf("obs %v: exit %d: %q", args, code, out)
		}
	}
	// With the Makefile's stamps.
	bin := filepath.Join(t.TempDir(), "obs")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9 -X main.commit=abc123 -X main.date=2026-01-02T03:04:05Z", "-o", bin, "../cmd/obs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "obs v9.9.9\ncommit abc123\nbuilt  2026-01-02T03:04:05Z\n") {
		t.Fatalf("stamped: %v %q", err, out)
	}
}

// The completion scripts are what the shells read; bash's completes
// commands and flags from obs itself.
func TestCLICompletion(t *testing.T) {
	dir, env := t.TempDir(), cliEnv(t)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, _, code := runObs(t, dir, env, "completion", sh)
		if code != 0 || !strings.Contains(out, "obs") {
			t.Fatalf("completion %s: %d %q", sh, code, head(out))
		}
	}
	script, _, _ := runObs(t, dir, env, "completion", "bash")
	probe := func(words ...string) string {
		cmd := exec.Command("bash", "-c", script+`
COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _obs_complete; echo "${COMPREPLY[*]}"`, "bash")
		cmd.Args = append(cmd.Args, words...)
		cmd.Env = append(env, "PATH="+filepath.Dir(obsBin)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash completion %v: %v", words, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := probe("obs", "lo"); got != "logs" {
		t.Errorf("obs lo<TAB>: %q", got)
	}
	if got := probe("obs", "logs", "search", "--si"); got != "--since" {
		t.Errorf("obs logs search --si<TAB>: %q", got)
	}
	if got := probe("obs", "metrics", "l"); got != "list" {
		t.Errorf("obs metrics l<TAB>: %q", got)
	}
}
