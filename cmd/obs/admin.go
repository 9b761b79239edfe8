package main

import (
	"fmt"
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/store/logs"
)

func adminCommand() *cli.Command {
	return &cli.Command{
		Name:  "admin",
		Usage: "look after a running server's data",
		Subcommands: []*cli.Command{{
			Name:  "verify",
			Usage: "check the log store against itself: every block's offsets, rows and index agree with its events",
			Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag},
			Action: func(c *cli.Context) error {
				asJSON, err := jsonOutput(c)
				if err != nil {
					return err
				}
				var rep logs.VerifyReport
				if err := apiGet(c, "/api/admin/verify", url.Values{}, &rep); err != nil {
					return err
				}
				if asJSON {
					if err := printJSON(c, rep); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(c.App.Writer, "logs: %d partitions, %d blocks, %d events in blocks, %d in heads\n",
						rep.Partitions, rep.Blocks, rep.Events, rep.HeadEvents)
					for _, p := range rep.Problems {
						fmt.Fprintln(c.App.Writer, "problem:", p)
					}
				}
				if !rep.OK() {
					return cli.Exit(fmt.Sprintf("obs: %d problems found", len(rep.Problems)), 1)
				}
				if !asJSON {
					fmt.Fprintln(c.App.Writer, "no problems found")
				}
				return nil
			},
		}},
	}
}
