// Command obs is one binary for logs, metrics, traces and health checks on a
// developer box. This package only wires flags to the packages that work.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := newApp()
	if err := app.Run(interspersed(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "obs:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "obs",
		Usage:                "logs, metrics, traces and alerts for a developer box",
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			serveCommand(),
			logsCommand(),
			metricsCommand(),
			tracesCommand(),
			checksCommand(),
			alertsCommand(),
			statusCommand(),
			adminCommand(),
			versionCommand(),
		},
	}
}
