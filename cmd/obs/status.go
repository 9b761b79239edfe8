package main

import (
	"fmt"
	"net/url"
	"sort"

	"github.com/urfave/cli/v2"
)

// healthReport is GET /health?verbose.
type healthReport struct {
	Status     string `json:"status"`
	Subsystems map[string]struct {
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"subsystems"`
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:    "status",
		Aliases: []string{"health"},
		Usage:   "say whether the server is OK and, when not, why: what is shed at the memory bound since when, store errors, disk budget",
		Flags:   []cli.Flag{serverFlag, tokenFlag, outputFlag},
		Action: func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			var rep healthReport
			// /health answers 503 when DOWN; the body is still the report.
			if err := apiGetAny(c, "/health", url.Values{"verbose": {""}}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(c, rep)
			}
			fmt.Fprintln(c.App.Writer, rep.Status)
			names := make([]string, 0, len(rep.Subsystems))
			for n := range rep.Subsystems {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				sub := rep.Subsystems[n]
				if sub.Detail != "" {
					fmt.Fprintf(c.App.Writer, "  %-16s %-9s %s\n", n, sub.Status, sub.Detail)
				} else {
					fmt.Fprintf(c.App.Writer, "  %-16s %s\n", n, sub.Status)
				}
			}
			if rep.Status != "OK" {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}
