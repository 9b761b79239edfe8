package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves flags that follow positional arguments in front of
// them, so that `obs logs search 'app:x' --since 1h` works: urfave/cli v2
// stops reading flags at the first argument. Every dash argument stays a
// flag, known or not, so that --help shows help and a mistyped flag is an
// error instead of becoming part of the query. Arguments after "--" stay
// positional, and a shell-completion request is left as the shell sent it.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	cmds := app.Commands
	var leaf *cli.Command
	i := 1
	for i < len(args) {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		leaf, cmds = next, next.Subcommands
		i++
	}
	if leaf == nil || len(leaf.Subcommands) > 0 {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range leaf.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			pos = append(pos, args[j+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		if a == "--help" || a == "-h" {
			// Help, whatever else is there (urfave/cli would read an
			// argument as a help topic).
			return append(append([]string{}, args[:i]...), "--help")
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] && j+1 < len(args) {
			flags = append(flags, args[j+1])
			j++
		}
	}
	out := append([]string{}, args[:i]...)
	out = append(out, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

// usageExit is the status for a command line obs cannot read, as for
// flag.ExitOnError and most Unix tools.
const usageExit = 2

var longFlag = regexp.MustCompile(`(: |flag )-([A-Za-z][\w-]+)`)

// strictUsage makes every command answer a bad command line with exit
// status 2 and one message on stderr naming what was wrong and the nearest
// valid flag or command, instead of urfave/cli's full help on stdout; and
// makes a command group refuse a subcommand it does not have.
func strictUsage(app *cli.App) {
	app.HelpName = "obs" // not the test binary's name
	// main prints errors and picks the status; the library would exit
	// from inside Run.
	app.ExitErrHandler = func(*cli.Context, error) {}
	app.OnUsageError = onUsageError
	app.Action = groupAction
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.OnUsageError = onUsageError
			if len(c.Subcommands) > 0 && c.Action == nil {
				c.Action = groupAction
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func commandName(c *cli.Context) string {
	if c.Command != nil && c.Command.HelpName != "" {
		return c.Command.HelpName
	}
	return "obs"
}

// usageError is a command line obs cannot read: exit status 2.
func usageError(c *cli.Context, msg string) error {
	name := commandName(c)
	return cli.Exit(fmt.Sprintf("%s: %s\nRun '%s --help' for usage.", name, msg, name), usageExit)
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		dashes := "--"
		if len(name) == 1 {
			dashes = "-"
		}
		msg = "unknown flag " + dashes + name
		if c.Command != nil && cli.SuggestFlag != nil {
			// Suggest among long names, --help included: a one-letter
			// alias is rarely what a mistyped word meant.
			flags := []cli.Flag{longNames{cli.HelpFlag}}
			for _, f := range c.Command.Flags {
				if f != cli.HelpFlag {
					flags = append(flags, longNames{f})
				}
			}
			if s := cli.SuggestFlag(flags, name, true); s != "" {
				msg += "; did you mean " + s + "?"
			} else {
				// Nothing looks alike: name them all.
				var all []string
				for _, f := range flags {
					for _, n := range f.Names() {
						all = append(all, "--"+n)
					}
				}
				msg += "; valid flags: " + strings.Join(all, ", ")
			}
		}
	}
	// Go's flag package names every flag with one dash; obs's help uses two.
	return usageError(c, longFlag.ReplaceAllString(msg, "$1--$2"))
}

// longNames is a flag as suggestions see it: its names longer than a letter.
type longNames struct{ cli.Flag }

func (f longNames) Names() []string {
	var out []string
	for _, n := range f.Flag.Names() {
		if len(n) > 1 {
			out = append(out, n)
		}
	}
	return out
}

// groupAction runs for a command that only holds subcommands (and for obs
// itself): without arguments it shows the help, with an unknown one it
// says so.
func groupAction(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowSubcommandHelp(c)
	}
	name := c.Args().First()
	msg := fmt.Sprintf("unknown command %q", name)
	if cli.SuggestCommand != nil && c.Command != nil {
		msg += ". " + cli.SuggestCommand(c.Command.Subcommands, name)
	}
	return usageError(c, msg)
}

// exitCode prints what err says and returns the process's exit status.
func exitCode(app *cli.App, err error) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(app.ErrWriter, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(app.ErrWriter, "obs:", err)
	return 1
}
