package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"
)

// Set at build time by `make build`:
// -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var version, commit, date string

// buildInfo is what `obs --version` prints. Each part falls back on what
// the Go toolchain recorded in the binary, so that `go build` and
// `go install` without the Makefile still say which code this is.
type buildInfo struct {
	Version, Commit, Date, Go string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		var rev, vcsTime string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if b.Commit == "" && rev != "" {
			b.Commit = rev
			if dirty {
				b.Commit += " (modified)"
			}
		}
		if b.Version == "" && bi.Main.Version != "" {
			b.Version = bi.Main.Version // v1.2.3 from `go install ...@v1.2.3`, else (devel)
		}
		if b.Date == "" && vcsTime != "" {
			b.Date = vcsTime + " (commit time)"
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Date == "" {
		// The binary's own modification time is when it was linked.
		if exe, err := os.Executable(); err == nil {
			if st, err := os.Stat(exe); err == nil {
				b.Date = st.ModTime().UTC().Format(time.RFC3339) + " (binary's mtime)"
			}
		}
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// versionString is the short form, for logs.
func versionString() string {
	b := readBuildInfo()
	if b.Version != "(devel)" || len(b.Commit) < 12 {
		return b.Version
	}
	return "devel-" + b.Commit[:12]
}

func printVersion(c *cli.Context) {
	b := readBuildInfo()
	if b.Commit == "" {
		b.Commit = "unknown (built without VCS stamping; `make build` records it)"
	}
	fmt.Fprintf(c.App.Writer, "obs %s\ncommit %s\nbuilt  %s\ngo     %s\n", b.Version, b.Commit, b.Date, b.Go)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit and build date (also obs --version)",
		Action: func(c *cli.Context) error {
			printVersion(c)
			return nil
		},
	}
}
