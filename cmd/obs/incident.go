package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/alert/incident"
)

func incidentCommand() *cli.Command {
	return &cli.Command{
		Name:      "incident",
		Usage:     "one screen on a service: status and failing checks, its errors grouped, its failing and slow traces, and where to dig",
		ArgsUsage: "SERVICE",
		Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
			&cli.StringFlag{Name: "since", Usage: "how far back, e.g. 30m (default: the current failure, else 30m)"},
			&cli.StringFlag{Name: "from", Usage: "start: RFC 3339, epoch ms or now-1h"},
			&cli.StringFlag{Name: "to", Usage: "end (default now)"}},
		Action: incidentShow,
	}
}

func incidentShow(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	if name == "" || c.NArg() > 1 {
		return fmt.Errorf("incident needs one SERVICE")
	}
	p := url.Values{}
	for _, k := range []string{"since", "from", "to"} {
		if v := c.String(k); v != "" {
			p.Set(k, v)
		}
	}
	var rep incident.Report
	if err := apiGet(c, "/api/incident/"+url.PathEscape(name), p, &rep); err != nil {
		return err
	}
	if asJSON {
		// The server's document as it is, but "<n>" rather than "\u003cn\u003e".
		enc := json.NewEncoder(c.App.Writer)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printIncident(c, rep)
	return nil
}

// printIncident writes the report as one screen: status and checks, the
// errors grouped, the traces, then the commands that show more.
func printIncident(c *cli.Context, rep incident.Report) {
	w := c.App.Writer
	from, to := rep.Window.From.Local(), rep.Window.To.Local()
	fmt.Fprintf(w, "%s  %s  %s to %s (%s)\n", rep.Service, rep.Status, from.Format("2006-01-02 15:04:05"), to.Format("15:04:05"),
		to.Sub(from).Round(time.Second))
	for _, ck := range rep.Checks {
		line := fmt.Sprintf("  %-9s %s", ck.Status, ck.Name)
		if ck.Reason != "" {
			line += ": " + ck.Reason
		}
		fmt.Fprintln(w, clipLine(line, 120))
	}
	fmt.Fprintf(w, "\nlogs: %d errors in %d events", rep.Logs.Errors, rep.Logs.Total)
	if rep.Logs.Errors > incident.MaxGrouped {
		fmt.Fprintf(w, " (grouped: the newest %d)", incident.MaxGrouped)
	}
	fmt.Fprintln(w)
	for _, g := range rep.Logs.Top {
		fmt.Fprintf(w, "  %6d  %s-%s  %s\n", g.Count, g.First.Local().Format("15:04:05"), g.Last.Local().Format("15:04:05"), clipLine(g.Message, 90))
	}
	fmt.Fprintf(w, "\ntraces: failing, then slow\n")
	// Five of each keep the report on one screen; -o json has them all.
	shown := map[bool]int{}
	for _, t := range rep.Traces {
		if shown[t.Error]++; shown[t.Error] > 5 {
			continue
		}
		mark := " "
		if t.Error {
			mark = "!"
		}
		fmt.Fprintf(w, "  %s %s  %10s  %s\n", mark, clipLine(t.TraceID, 32), fmtMicros(int64(t.DurationMs*1000)), clipLine(t.RootSpan, 60))
	}
	if len(rep.Traces) == 0 {
		fmt.Fprintln(w, "  none failing or slow")
	}
	window := fmt.Sprintf("--from %s --to %s", rep.Window.From.Format(time.RFC3339), rep.Window.To.Format(time.RFC3339))
	fmt.Fprintf(w, "\nmore:\n")
	fmt.Fprintf(w, "  obs logs search %s %s\n", shellQuote("("+incident.ServiceKQL(rep.Service)+") and ("+incident.ErrorKQL+")"), window)
	for _, t := range rep.Traces[:min(len(rep.Traces), 2)] {
		fmt.Fprintf(w, "  obs traces show %s --logs\n", t.TraceID)
	}
	since := time.Since(rep.Window.From).Round(time.Minute) + time.Minute
	fmt.Fprintf(w, "  obs traces search --service %s --tag error --since %s\n", shellQuote(strings.ToLower(rep.Service)), shortDuration(since))
	if rep.Status != alert.Passing {
		fmt.Fprintf(w, "  obs checks ack %s --for 20m\n", shellQuote(rep.Service))
	}
	fmt.Fprintf(w, "  %s/services/%s\n", strings.TrimRight(c.String("server"), "/"), url.PathEscape(rep.Service))
}

// clipLine keeps the first line of s, at most n runes, with control
// characters shown as U+FFFD: messages and span names come from the
// network, and an escape sequence in one must not drive the terminal.
func clipLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// shellQuote quotes s for a POSIX shell when it needs it, so that the
// printed commands can be pasted.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shortDuration prints d as --since reads it: 45m, 3h, 2d.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24)+1)
	case d >= 3*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours())+1)
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}
