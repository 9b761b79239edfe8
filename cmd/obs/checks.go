package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/alert/oncall"
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
			{Name: "oncall", Usage: "who is on call now and in the next shifts", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
				&cli.IntFlag{Name: "days", Value: 14, Usage: "shifts over the next `N` days"}}, Action: checksOnCall},
			{Name: "report", Usage: "uptime and problem periods of a service (with its checks) or a check", ArgsUsage: "SERVICE|CHECK",
				Flags:  []cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.StringFlag{Name: "from", Value: "now-7d"}, &cli.StringFlag{Name: "to", Value: "now"}},
				Action: checksReport},
			{Name: "add", Usage: "create a service (YAML or JSON with obs.yaml's service keys), or add a check to SERVICE",
				ArgsUsage: "[SERVICE]", Flags: append([]cli.Flag{serverFlag, tokenFlag, outputFlag}, definitionFlags...), Action: checksAdd},
			{Name: "edit", Usage: "change a service created with add (or with --check, one of its checks): --set key=value, or a whole definition with -f",
				ArgsUsage: "SERVICE|CHECK", Flags: append([]cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.BoolFlag{Name: "check", Usage: "NAME is a check"},
					&cli.StringSliceFlag{Name: "set", Usage: "`key=value` (value in YAML: active=false, interval=30s, notify=[alice])"}}, definitionFlags...),
				Action: checksEdit},
			{Name: "rm", Usage: "delete a service created with add (or with --check, one of its checks)", ArgsUsage: "SERVICE|CHECK",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.BoolFlag{Name: "check", Usage: "NAME is a check"}}, Action: checksRm},
		},
	}
}

// definitionFlags give a definition as a file or inline.
var definitionFlags = []cli.Flag{
	&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "definition in YAML or JSON (- for stdin)"},
	&cli.StringFlag{Name: "yaml", Usage: "definition inline, e.g. '{name: h, type: http, endpoint: \"http://127.0.0.1:3000/health\"}'"},
}

func alertsCommand() *cli.Command {
	return &cli.Command{
		Name:  "alerts",
		Usage: "alerts sent and a test page",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "alerts sent, newest first, with what each channel answered", Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag}, Action: alertsList},
			{Name: "test", Usage: "send a test SMS (and call) through Twilio to configured users",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.StringSliceFlag{Name: "to", Required: true, Usage: "`USER` name from users: in obs.yaml (repeat for several)"},
					&cli.BoolFlag{Name: "call", Usage: "also place a call"}},
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
		if s.Unpaged != nil {
			extra += "  NOBODY PAGED: " + s.Unpaged.Reason
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
		fmt.Fprintf(c.App.Writer, "    %-8s %-8s %-14s %s\n", ch.Channel, ch.User, ch.To, res)
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
	for _, to := range c.StringSlice("to") {
		if strings.HasPrefix(to, "+") {
			return fmt.Errorf("--to takes a user name from users: in obs.yaml, not a number (%s)", to)
		}
	}
	var a alert.Alert
	if err := apiSend(c, "POST", "/api/alerts/test", map[string]any{"users": c.StringSlice("to"), "call": c.Bool("call")}, &a); err != nil {
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

func checksOnCall(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	var v alert.OnCallView
	if err := apiGet(c, "/api/oncall", url.Values{"days": {fmt.Sprint(c.Int("days"))}}, &v); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, v)
	}
	now := "nobody (no shift, no fallback): alerts page only the services' notify users"
	if len(v.Now) > 0 {
		now = strings.Join(v.Now, ", ") + " (" + v.Source + ")"
	}
	fmt.Fprintf(c.App.Writer, "on call now: %s\n", now)
	if v.Calendar != nil {
		fetched := "never"
		if v.Calendar.Fetched != nil {
			fetched = v.Calendar.Fetched.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(c.App.Writer, "calendar %s, fetched %s\n", v.Calendar.URL, fetched)
		if v.Calendar.LastError != "" {
			fmt.Fprintf(c.App.Writer, "  last fetch failed (using the last good copy): %s\n", v.Calendar.LastError)
		}
		for _, p := range v.Calendar.Problems {
			fmt.Fprintf(c.App.Writer, "  unreadable: %s\n", p)
		}
	}
	for _, t := range v.Unmatched {
		fmt.Fprintf(c.App.Writer, "  event title names no user: %q\n", t)
	}
	if v.Fallback != "" {
		fmt.Fprintf(c.App.Writer, "fallback: %s\n", v.Fallback)
	}
	printShifts(c, v.Shifts)
	return nil
}

func printShifts(c *cli.Context, shifts []oncall.Shift) {
	for _, s := range shifts {
		fmt.Fprintf(c.App.Writer, "  %s → %s  %s\n", s.Start.Local().Format("Mon 2006-01-02 15:04"), s.End.Local().Format("Mon 2006-01-02 15:04"), s.User)
	}
}

func checksReport(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	params := url.Values{"from": {c.String("from")}, "to": {c.String("to")}}
	var rep alert.Report
	err = apiGet(c, "/api/services/"+url.PathEscape(name)+"/report", params, &rep)
	if err != nil && strings.Contains(err.Error(), "no service named") {
		err = apiGet(c, "/api/checks/"+url.PathEscape(name)+"/report", params, &rep)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, rep)
	}
	printReport(c, rep, "")
	for _, ck := range rep.Checks {
		printReport(c, ck, "  ")
	}
	return nil
}

func printReport(c *cli.Context, r alert.Report, indent string) {
	up := "no data"
	if r.UptimePercent != nil {
		up = fmt.Sprintf("%.3f%% up", *r.UptimePercent)
	}
	runs := ""
	if r.Kind == "check" {
		runs = fmt.Sprintf(", %d runs", r.Runs)
	}
	fmt.Fprintf(c.App.Writer, "%s%s %s: %s%s, %d problems (%s → %s)\n", indent, r.Kind, r.Name, up, runs, len(r.Problems),
		r.From.Local().Format("2006-01-02 15:04"), r.To.Local().Format("2006-01-02 15:04"))
	for _, p := range r.Problems {
		end := "ongoing"
		if p.End != nil {
			end = p.End.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(c.App.Writer, "%s    %s → %s  %-9s %s\n", indent, p.Start.Local().Format("2006-01-02 15:04:05"), end, p.Duration, p.Worst)
	}
}

// definition reads -f or --yaml and returns it as JSON (the API takes
// JSON; YAML is what people write).
func definition(c *cli.Context) (any, error) {
	var b []byte
	var err error
	switch {
	case c.String("file") == "-":
		b, err = io.ReadAll(os.Stdin)
	case c.String("file") != "":
		b, err = os.ReadFile(c.String("file"))
	case c.String("yaml") != "":
		b = []byte(c.String("yaml"))
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("definition: %w", err)
	}
	return v, nil
}

// each returns the definitions in v: a list under key (services:,
// checks:), or v itself.
func each(v any, key string) []any {
	if m, ok := v.(map[string]any); ok {
		if l, ok := m[key].([]any); ok && len(m) == 1 {
			return l
		}
	}
	return []any{v}
}

func checksAdd(c *cli.Context) error {
	def, err := definition(c)
	if err != nil {
		return err
	}
	if def == nil {
		return errors.New("give the definition with -f FILE or --yaml '...'")
	}
	service := c.Args().First()
	path, key := "/api/services", "services"
	if service != "" {
		path, key = "/api/services/"+url.PathEscape(service)+"/checks", "checks"
	}
	var last any
	for _, d := range each(def, key) {
		if err := apiSend(c, "POST", path, d, &last); err != nil {
			return err
		}
	}
	if ok, _ := jsonOutput(c); ok {
		return printJSON(c, last)
	}
	fmt.Fprintln(c.App.Writer, "added")
	return nil
}

func checksEdit(c *cli.Context) error {
	name := c.Args().First()
	def, err := definition(c)
	if err != nil {
		return err
	}
	path := "/api/services/" + url.PathEscape(name)
	if c.Bool("check") {
		path = "/api/checks/" + url.PathEscape(name)
	}
	if def == nil {
		if def, err = currentDefinition(c, name, c.Bool("check")); err != nil {
			return err
		}
	}
	m, ok := def.(map[string]any)
	if !ok {
		return errors.New("the definition must be a mapping of keys")
	}
	for _, kv := range c.StringSlice("set") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--set %q: want key=value", kv)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return fmt.Errorf("--set %s: %w", k, err)
		}
		m[k] = val
	}
	var res any
	if err := apiSend(c, "PUT", path, m, &res); err != nil {
		return err
	}
	if ok, _ := jsonOutput(c); ok {
		return printJSON(c, res)
	}
	fmt.Fprintf(c.App.Writer, "%s updated\n", name)
	return nil
}

// currentDefinition fetches a service's definition, or the one of the
// check name among all services'.
func currentDefinition(c *cli.Context, name string, isCheck bool) (any, error) {
	service := name
	if isCheck {
		var checks []alert.CheckView
		if err := apiGet(c, "/api/checks", nil, &checks); err != nil {
			return nil, err
		}
		service = ""
		for _, ck := range checks {
			if ck.Name == name {
				service = ck.Service
			}
		}
		if service == "" {
			return nil, fmt.Errorf("no check named %q", name)
		}
	}
	var got struct {
		Source     string         `json:"source"`
		Definition map[string]any `json:"definition"`
	}
	if err := apiGet(c, "/api/services/"+url.PathEscape(service)+"/definition", nil, &got); err != nil {
		return nil, err
	}
	if got.Source == alert.SourceConfig {
		return nil, fmt.Errorf("%s is declared in the config file: edit obs.yaml instead", service)
	}
	def := got.Definition
	if !isCheck {
		return def, nil
	}
	checks, _ := def["checks"].([]any)
	for _, ck := range checks {
		if m, ok := ck.(map[string]any); ok && m["name"] == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no check named %q", name)
}

func checksRm(c *cli.Context) error {
	name := c.Args().First()
	path := "/api/services/" + url.PathEscape(name)
	if c.Bool("check") {
		path = "/api/checks/" + url.PathEscape(name)
	}
	var res any
	if err := apiSend(c, "DELETE", path, nil, &res); err != nil {
		return err
	}
	if ok, _ := jsonOutput(c); ok {
		return printJSON(c, res)
	}
	fmt.Fprintf(c.App.Writer, "%s deleted\n", name)
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
