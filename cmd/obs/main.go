// Command obs is one binary for logs, metrics, traces and health checks on a
// developer box. This package only wires flags to the packages that work.
package main

import (
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := newApp()
	os.Exit(exitCode(app, app.Run(interspersed(app, os.Args))))
}

func newApp() *cli.App {
	app := &cli.App{
		Name:                 "obs",
		Usage:                "logs, metrics, traces and alerts for a developer box",
		Version:              versionString(),
		EnableBashCompletion: true,
		Suggest:              true,
		Commands: []*cli.Command{
			serveCommand(),
			logsCommand(),
			metricsCommand(),
			tracesCommand(),
			checksCommand(),
			incidentCommand(),
			alertsCommand(),
			statusCommand(),
			adminCommand(),
			demoCommand(),
			completionCommand(),
			versionCommand(),
		},
	}
	cli.VersionPrinter = printVersion
	strictUsage(app)
	return app
}
