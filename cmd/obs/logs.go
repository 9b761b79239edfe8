package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/send"
	"github.com/obs-dev/obs/web"
)

func logsCommand() *cli.Command {
	timeFlags := []cli.Flag{
		&cli.StringFlag{Name: "since", Usage: "how far back, e.g. 15m, 2h, 7d"},
		&cli.StringFlag{Name: "from", Usage: "start: RFC 3339, epoch ms or now-1h"},
		&cli.StringFlag{Name: "to", Usage: "end: RFC 3339, epoch ms or now"},
	}
	return &cli.Command{
		Name:  "logs",
		Usage: "search, count and tail log events (KQL)",
		Subcommands: []*cli.Command{
			{
				Name:      "search",
				Usage:     "newest events matching a KQL query",
				ArgsUsage: "QUERY",
				Flags: append([]cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "most events to print"}}, timeFlags...),
				Action: logsSearch,
			},
			{
				Name:      "count",
				Usage:     "a histogram of matching events over time",
				ArgsUsage: "QUERY",
				Flags: append([]cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.StringFlag{Name: "interval", Value: "auto", Usage: "bucket width, e.g. 1m"}}, timeFlags...),
				Action: logsCount,
			},
			{
				Name:      "tail",
				Usage:     "follow matching events live, until Ctrl-C",
				ArgsUsage: "[QUERY]",
				Flags:     []cli.Flag{serverFlag, tokenFlag, outputFlag},
				Action:    logsTail,
			},
			{
				Name:  "send",
				Usage: "send a log event: key=value pairs or one JSON object (\"-\" reads one JSON event per line from stdin)",
				Description: `obs logs send app=web-api severity=error message="recipe-api refused the connection"
obs logs send app=web-api fields.status:=500 fields.path=/recipes/42   # := is JSON; dots nest
obs logs send '{"app":"web-api","severity":"warn"}'

Sent as a Logstash udp input with the json codec reads it: one datagram per
event (--tcp: JSON lines), to --logs-udp. obs says what it sent.`,
				ArgsUsage: "KEY=VALUE... | JSON | -",
				Flags: []cli.Flag{serverFlag,
					&cli.StringFlag{Name: "logs-udp", EnvVars: []string{"OBS_LOGS_UDP"}, Usage: "logs address, as obs serve --logs-udp (default: the --server host, port 7777)"},
					&cli.BoolFlag{Name: "tcp", Usage: "send over TCP (json_lines) instead of UDP"}},
				Action: logsSend,
			},
		},
	}
}

// timeParams turns --since/--from/--to into the API's from/to.
func timeParams(c *cli.Context, defSince string) (url.Values, error) {
	v := url.Values{}
	if c.IsSet("since") && (c.IsSet("from") || c.IsSet("to")) {
		return nil, fmt.Errorf("use --since or --from/--to, not both")
	}
	switch {
	case c.IsSet("from") || c.IsSet("to"):
		if f := c.String("from"); f != "" {
			v.Set("from", f)
		}
		if t := c.String("to"); t != "" {
			v.Set("to", t)
		}
	default:
		since := c.String("since")
		if since == "" {
			since = defSince
		}
		v.Set("from", "now-"+since)
		v.Set("to", "now")
	}
	return v, nil
}

func logsSearch(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	params, err := timeParams(c, "15m")
	if err != nil {
		return err
	}
	params.Set("q", strings.Join(c.Args().Slice(), " "))
	params.Set("limit", fmt.Sprint(c.Int("limit")))
	var res web.SearchResponse
	if err := apiGet(c, "/api/logs/search", params, &res); err != nil {
		return err
	}
	if asJSON {
		// The events exactly as stored: re-encoding would reformat them.
		w := c.App.Writer
		fmt.Fprint(w, "[")
		for i, h := range res.Hits {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, "\n  %s", h.Event)
		}
		fmt.Fprintln(w, "\n]")
		return nil
	}
	color := colorOK()
	for _, h := range res.Hits {
		fmt.Fprintln(c.App.Writer, formatEvent(h.Timestamp, h.Event, color))
	}
	if len(res.Hits) == 0 {
		fmt.Fprintln(os.Stderr, "no events match")
	}
	return nil
}

var severityColor = map[string]string{
	"fatal": "\x1b[1;31m", "error": "\x1b[31m", "err": "\x1b[31m", "warn": "\x1b[33m", "warning": "\x1b[33m",
	"info": "\x1b[32m", "debug": "\x1b[2m", "trace": "\x1b[2m",
}

// formatEvent renders one event as a line: time, app, severity, type, then
// the message, or the remaining fields when there is no message. App,
// severity and type are the seed's fields, else an OTLP log record's
// (service.name, severity_text, event_name), as the UI reads them.
func formatEvent(ts time.Time, raw json.RawMessage, color bool) string {
	var ev map[string]any
	if json.Unmarshal(raw, &ev) != nil {
		return ts.Format(time.RFC3339Nano) + " " + string(raw)
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := ev[k]; ok && v != nil {
				delete(ev, k)
				return fmt.Sprint(v)
			}
		}
		return "-"
	}
	app := str("app", "service", "name", "service.name")
	sev := str("severity", "level", "log.level", "severity_text")
	typ := str("type", "event_name")
	msg := str("message", "msg")
	for _, k := range []string{"@timestamp", "@version", "host", "timestamp", "time", "ts"} {
		delete(ev, k)
	}
	if msg == "-" || len(ev) > 0 {
		var keys []string
		for k := range ev {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			b, _ := json.Marshal(ev[k])
			parts = append(parts, k+"="+string(b))
		}
		if msg == "-" {
			msg = strings.Join(parts, " ")
		} else {
			msg += "  " + strings.Join(parts, " ")
		}
	}
	sevOut := fmt.Sprintf("%-5s", sev)
	if c, ok := severityColor[strings.ToLower(sev)]; ok && color {
		sevOut = c + sevOut + "\x1b[0m"
	}
	return fmt.Sprintf("%s %-12s %s %-8s %s", ts.Local().Format("2006-01-02T15:04:05.000"), app, sevOut, typ, msg)
}

func logsCount(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	params, err := timeParams(c, "1h")
	if err != nil {
		return err
	}
	params.Set("q", strings.Join(c.Args().Slice(), " "))
	params.Set("interval", c.String("interval"))
	var res web.HistogramResponse
	if err := apiGet(c, "/api/logs/histogram", params, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, res)
	}
	peak := 1
	for _, b := range res.Buckets {
		peak = max(peak, b.Count)
	}
	for _, b := range res.Buckets {
		bar := strings.Repeat("█", (b.Count*50+peak-1)/peak)
		fmt.Fprintf(c.App.Writer, "%s %8d %s\n", b.Start.Local().Format("2006-01-02T15:04:05"), b.Count, bar)
	}
	fmt.Fprintf(c.App.Writer, "total %d (interval %s)\n", res.Total, res.Interval)
	return nil
}

func logsSend(c *cli.Context) error {
	var events [][]byte
	if args := c.Args().Slice(); len(args) == 1 && args[0] == "-" {
		lines, err := stdinLines()
		if err != nil {
			return err
		}
		for i, l := range lines {
			ev, err := send.Event([]string{l})
			if err != nil {
				return fmt.Errorf("stdin line %d: %w", i+1, err)
			}
			events = append(events, ev)
		}
	} else if c.NArg() > 0 {
		ev, err := send.Event(args)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		return usageError(c, "give key=value pairs or a JSON object, or - to read events from stdin")
	}
	conn, err := dialIntake(c, "logs-udp", 7777)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, ev := range events {
		if err := conn.Send(ev); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "sent to %s: %s\n", conn, ev)
	}
	return nil
}

func logsTail(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	u, err := url.Parse(strings.TrimRight(c.String("server"), "/") + "/api/logs/tail")
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.RawQuery = url.Values{"q": {strings.Join(c.Args().Slice(), " ")}}.Encode()
	conn, resp, err := websocket.DefaultDialer.Dial(u.String(), authHeader(c))
	if err != nil {
		if resp != nil && resp.StatusCode == 400 {
			var e struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&e)
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		conn.Close()
	}()
	color := colorOK()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return nil // closed by Ctrl-C or by the server going away
		}
		if asJSON {
			fmt.Fprintln(c.App.Writer, string(msg))
			continue
		}
		var ts struct {
			TS time.Time `json:"@timestamp"`
		}
		json.Unmarshal(msg, &ts)
		fmt.Fprintln(c.App.Writer, formatEvent(ts.TS, msg, color))
	}
}
