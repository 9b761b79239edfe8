package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestInterspersedKeepsEveryDashArgAFlag(t *testing.T) {
	app := newApp()
	for _, c := range []struct{ in, want string }{
		{"obs logs search app:x --since 1h -o json", "obs logs search --since 1h -o json -- app:x"},
		// A mistyped flag stays a flag, so that it is an error.
		{"obs logs search app:x --sinse 1h", "obs logs search --sinse -- app:x 1h"},
		{"obs logs search app:x --limit=5", "obs logs search --limit=5 -- app:x"},
		// Help wins over everything else.
		{"obs serve --data d --help", "obs serve --help"},
		{"obs logs search app:x -h", "obs logs search --help"},
		// After "--" everything is an argument, "-" too.
		{"obs logs search -- --help", "obs logs search -- --help"},
		{"obs logs send -", "obs logs send -- -"},
		// Groups, the root and completion requests are left to urfave/cli.
		{"obs logs --help", "obs logs --help"},
		{"obs --version", "obs --version"},
		{"obs logs search --si --generate-bash-completion", "obs logs search --si --generate-bash-completion"},
	} {
		if got := strings.Join(interspersed(app, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
}

// In process: help never runs the command, a bad command line is exit 2.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args   string
		code   int
		stdout string
		stderr string
	}{
		{"obs serve --help", 0, "USAGE:\n   obs serve [command options]", ""},
		{"obs logs search app:x --sinse 1h", 2, "", "obs logs search: unknown flag --sinse; did you mean --since?\nRun 'obs logs search --help' for usage.\n"},
		{"obs metrics qurey x", 2, "", "obs metrics: unknown command \"qurey\". Did you mean \"query\"?\n"},
		{"obs lgs", 2, "", "obs: unknown command \"lgs\". Did you mean \"logs\"?\n"},
		{"obs traces --x", 2, "", "obs traces: unknown flag -x; valid flags: --help\n"},
		{"obs logs", 0, "COMMANDS:", ""},
		{"obs demo extra", 2, "", "obs demo: demo takes no arguments"},
	} {
		app := newApp()
		var out, errb bytes.Buffer
		app.Writer, app.ErrWriter = &out, &errb
		code := exitCode(app, app.Run(interspersed(app, strings.Fields(c.args))))
		if code != c.code || !strings.Contains(out.String(), c.stdout) || !strings.HasPrefix(errb.String(), c.stderr) {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q", c.args, code, out.String(), errb.String())
		}
	}
}
