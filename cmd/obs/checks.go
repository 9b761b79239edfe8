package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/alert"
)

func checksCommand() *cli.Command {
	return &cli.Command{
		Name:  "checks",
		Usage: "health checks: status, run, history, acknowledge",
		Subcommands: []*cli.Command{
			{Name: "status", Usage: "each service's status with failing checks and reasons", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: checksStatus},
			{Name: "list", Usage: "every check and its last result", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: checksList},
			{Name: "run", Usage: "run a check now and print the result", ArgsUsage: "NAME", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: checksRun},
			{Name: "history", Usage: "a check's recent results", ArgsUsage: "NAME", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: checksHistory},
			{Name: "ack", Usage: "acknowledge a failing service: no alerts while it lasts", ArgsUsage: "SERVICE",
				Flags:  []cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.StringFlag{Name: "for", Value: "20m"}, &cli.StringFlag{Name: "by", EnvVars: []string{"USER"}}},
				Action: checksAck},
			{Name: "unack", Usage: "end an acknowledgement", ArgsUsage: "SERVICE", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: checksUnack},
		},
	}
}

func alertsCommand() *cli.Command {
	return &cli.Command{
		Name:  "alerts",
		Usage: "alerts sent and a test page",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "alerts sent, newest first, with what each channel answered", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: alertsList},
			{Name: "test", Usage: "send a test SMS (and call) through Twilio",
				Flags:  []cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.StringFlag{Name: "to", Required: true, Usage: "E.164 number, e.g. +15551234567"}, &cli.BoolFlag{Name: "call"}},
				Action: alertsTest},
		},
	}
}

var statusColor = map[alert.Status]string{alert.Passing: "\x1b[32m", alert.Warning: "\x1b[33m", alert.Error: "\x1b[31m", alert.Critical: "\x1b[1;31m"}

func colored(s alert.Status) string {
	if !colorOK() {
		return fmt.Sprintf("%-8s", s)
	}
	return statusColor[s] + fmt.Sprintf("%-8s", s) + "\x1b[0m"
}

func checksStatus(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var svcs []alert.ServiceView
	if err := apiGet(c, "/api/services", nil, &svcs); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, svcs)
	}
	if len(svcs) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "no services configured (services: in the config file)")
	}
	for _, s := range svcs {
		extra := ""
		if s.AckUntil != nil {
			extra = fmt.Sprintf("  acknowledged until %s", s.AckUntil.Local().Format("15:04"))
		}
		if s.Maintenance {
			extra += "  in maintenance"
		}
		fmt.Fprintf(c.App.Writer, "%s %s  on call: %s%s\n", colored(s.Status), s.Name, strings.Join(s.OnCall, ", "), extra)
		for _, ck := range s.Checks {
			if ck.Failing && ck.Last != nil {
				fmt.Fprintf(c.App.Writer, "    %-9s %s: %s\n", ck.Importance, ck.Name, ck.Last.Reason)
			}
		}
	}
	return nil
}

func checksList(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var checks []alert.CheckView
	if err := apiGet(c, "/api/checks", nil, &checks); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, checks)
	}
	for _, ck := range checks {
		last := "not run yet"
		if ck.Last != nil {
			last = "ok"
			if !ck.Last.OK {
				last = ck.Last.Reason
			}
			last = fmt.Sprintf("%s (%.0fms, %s)", last, ck.Last.ResponseMs, ck.Last.Time.Local().Format("15:04:05"))
		}
		fmt.Fprintf(c.App.Writer, "%-20s %-12s %-6s %-8s every %-6s %s\n", ck.Name, ck.Service, ck.Type, ck.Importance, ck.Interval, last)
	}
	return nil
}

func printResult(c *cli.Context, r alert.Result) {
	state := "PASS"
	if !r.OK {
		state = "FAIL " + r.Reason
	}
	v := ""
	if r.Value != nil {
		v = fmt.Sprintf(" value=%g", *r.Value)
	}
	fmt.Fprintf(c.App.Writer, "%s %-20s %8.1fms%s %s\n", r.Time.Local().Format("2006-01-02T15:04:05"), r.Check, r.ResponseMs, v, state)
}

func checksRun(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var r alert.Result
	if err := apiSend(c, "POST", "/api/checks/"+url.PathEscape(c.Args().First())+"/run", nil, &r); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, r)
	}
	printResult(c, r)
	return nil
}

func checksHistory(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var rs []alert.Result
	if err := apiGet(c, "/api/checks/"+url.PathEscape(c.Args().First())+"/history", nil, &rs); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, rs)
	}
	for _, r := range rs {
		printResult(c, r)
	}
	return nil
}

func checksAck(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var res map[string]any
	body := map[string]string{"for": c.String("for"), "by": c.String("by")}
	if err := apiSend(c, "POST", "/api/services/"+url.PathEscape(c.Args().First())+"/ack", body, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, res)
	}
	fmt.Fprintf(c.App.Writer, "%s acknowledged until %v\n", c.Args().First(), res["acknowledged_until"])
	return nil
}

func checksUnack(c *cli.Context) error {
	var res map[string]any
	if err := apiSend(c, "DELETE", "/api/services/"+url.PathEscape(c.Args().First())+"/ack", nil, &res); err != nil {
		return err
	}
	if ok, _ := jsonOutput(c); ok {
		return printJSON(c, res)
	}
	fmt.Fprintf(c.App.Writer, "%s no longer acknowledged\n", c.Args().First())
	return nil
}

func printAlert(c *cli.Context, a alert.Alert) {
	fmt.Fprintf(c.App.Writer, "%s %-9s %-10s %s → %s\n", a.Time.Local().Format("2006-01-02T15:04:05"), a.Kind, a.Service, a.Previous, a.Status)
	for _, ch := range a.Channels {
		res := "ok " + ch.SID
		if !ch.OK {
			res = "FAILED " + ch.Error
		}
		fmt.Fprintf(c.App.Writer, "    %-8s %-14s %s\n", ch.Channel, ch.To, res)
	}
}

func alertsList(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var as []alert.Alert
	if err := apiGet(c, "/api/alerts", nil, &as); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, as)
	}
	for _, a := range as {
		printAlert(c, a)
	}
	return nil
}

func alertsTest(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var a alert.Alert
	if err := apiSend(c, "POST", "/api/alerts/test", map[string]any{"to": c.String("to"), "call": c.Bool("call")}, &a); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, a)
	}
	printAlert(c, a)
	for _, ch := range a.Channels {
		if !ch.OK {
			return fmt.Errorf("test alert failed on %s", ch.Channel)
		}
	}
	return nil
}

// apiSend sends a JSON body with method and decodes the answer.
func apiSend(c *cli.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.String("server"), "/") + path
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return err
	}
	req.Header = authHeader(c)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach obs at %s (is `obs serve` running? set --server or OBS_SERVER): %w", c.String("server"), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}
