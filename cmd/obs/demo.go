package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/demo"
)

// demoHealthFlag is shared by obs demo and obs serve --demo: one
// OBS_DEMO_HEALTH serves both.
func demoHealthFlag(name string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: demo.DefaultHealth, EnvVars: []string{"OBS_DEMO_HEALTH"},
		Usage: "where the demo answers /health (obs demo --health and obs serve --demo-health must agree)"}
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "play the seed's web-api and recipe-api against obs serve, so every page has data (make demo)",
		Description: `Sends, over the same protocols apps use, what the book's two services send:
web-api as the seed's Node app (StatsD metrics with the seed's names, Logstash
JSON log events, Zipkin spans), recipe-api as an OpenTelemetry-instrumented
service (spans, log records and a request-duration histogram over OTLP/HTTP),
one trace across both, trace ids in the log events; and answers /health with
OK, then DEGRADED, then DOWN, a --phase each, in a loop. obs serve --demo
(make run) checks that /health; for your own config, obs demo --print-config
prints the services: block. Runs until Ctrl-C.`,
		Flags: []cli.Flag{serverFlag,
			&cli.StringFlag{Name: "logs-udp", EnvVars: []string{"OBS_LOGS_UDP"}, Usage: "obs's Logstash UDP address (default: the --server host, port 7777)"},
			&cli.StringFlag{Name: "statsd", EnvVars: []string{"OBS_STATSD"}, Usage: "obs's StatsD address (default: the --server host, port 8125)"},
			&cli.StringFlag{Name: "zipkin", EnvVars: []string{"OBS_ZIPKIN"}, Usage: "obs's Zipkin address (default: the --server host, port 9411)"},
			&cli.StringFlag{Name: "otlp-http", EnvVars: []string{"OBS_OTLP_HTTP"}, Usage: "obs's OTLP/HTTP address (default: the --server host, port 4318)"},
			demoHealthFlag("health"),
			&cli.Float64Flag{Name: "rate", Value: 2, Usage: "requests per second to web-api's GET /"},
			&cli.DurationFlag{Name: "phase", Value: 20 * time.Second, Usage: "how long /health stays OK, DEGRADED and DOWN each"},
			&cli.DurationFlag{Name: "gauge-every", Value: 10 * time.Second, Usage: "how often the process gauges and event-loop lag are sent (the seed: 10s)"},
			&cli.BoolFlag{Name: "print-config", Usage: "print the services: block that checks this demo, and exit"},
			// A test that holds /health's port passes the listener.
			&cli.IntFlag{Name: "health-fd", Hidden: true},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError(c, fmt.Sprintf("demo takes no arguments, got %q", c.Args().First()))
	}
	if c.Bool("print-config") {
		fmt.Fprint(c.App.Writer, demo.Services(c.String("health")))
		return nil
	}
	if c.Float64("rate") <= 0 || c.Duration("phase") <= 0 || c.Duration("gauge-every") <= 0 {
		return usageError(c, "--rate, --phase and --gauge-every must be positive")
	}
	o := demo.Options{
		Logs: intakeAddr(c, "logs-udp", 7777), StatsD: intakeAddr(c, "statsd", 8125), Zipkin: intakeAddr(c, "zipkin", 9411),
		OTLP:   intakeAddr(c, "otlp-http", 4318),
		Health: c.String("health"), Every: time.Duration(float64(time.Second) / c.Float64("rate")),
		Phase: c.Duration("phase"), GaugeEvery: c.Duration("gauge-every"), Out: c.App.Writer,
	}
	if fd := c.Int("health-fd"); fd > 0 {
		l, err := net.FileListener(os.NewFile(uintptr(fd), "health"))
		if err != nil {
			return fmt.Errorf("--health-fd %d: %w", fd, err)
		}
		o.HealthListener = l
	}
	log, err := newLogger("info")
	if err != nil {
		return err
	}
	o.Log = log
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demo.Run(ctx, o)
}
