package main

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/query/graphite"
	"github.com/obs-dev/obs/send"
	"github.com/obs-dev/obs/web"
)

func metricsCommand() *cli.Command {
	return &cli.Command{
		Name:  "metrics",
		Usage: "query metrics (Graphite targets, PromQL), list names, send StatsD",
		Subcommands: []*cli.Command{
			{
				Name:      "query",
				Usage:     "evaluate a Graphite target, e.g. 'aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)'",
				ArgsUsage: "TARGET",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.StringFlag{Name: "from", Value: "-1h", Usage: "Graphite time: -1h, -15min, unix seconds"},
					&cli.StringFlag{Name: "until", Value: "now", Usage: "Graphite time"}},
				Action: metricsQuery,
			},
			{
				Name:      "promql",
				Usage:     "evaluate a PromQL expression (instant, or a range with --start)",
				ArgsUsage: "EXPR",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.StringFlag{Name: "start", Usage: "range start: unix seconds or RFC 3339 (omit for an instant query)"},
					&cli.StringFlag{Name: "end", Usage: "range end (default now)"},
					&cli.StringFlag{Name: "step", Value: "15s", Usage: "range step"}},
				Action: metricsPromQL,
			},
			{
				Name:  "list",
				Usage: "the metric tree under a Graphite glob, as /metrics/find: branches end in a dot (default: the top level)",
				Description: `obs metrics list                    # the top level: stats., stats_counts., statsd., obs.
obs metrics list 'stats.gauges.*'   # one level down, e.g. stats.gauges.web-api.
obs metrics list --leaves 'stats.gauges.web-api'   # every metric name under it`,
				ArgsUsage: "[GLOB]",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.BoolFlag{Name: "leaves", Aliases: []string{"l"}, Usage: "print every full metric name matching GLOB or under it (default: all names)"}},
				Action: metricsList,
			},
			{
				Name:  "send",
				Usage: "send StatsD lines, e.g. 'deploys:1|c' 'queue.depth:17|g' (\"-\" reads lines from stdin)",
				Description: `Each line is checked as obs's StatsD intake reads it, then all go in one datagram
(over TCP with --tcp, one line each), and obs says what it sent.`,
				ArgsUsage: "LINE... | -",
				Flags: []cli.Flag{serverFlag,
					&cli.StringFlag{Name: "statsd", EnvVars: []string{"OBS_STATSD"}, Usage: "StatsD address, as obs serve --statsd (default: the --server host, port 8125)"},
					&cli.BoolFlag{Name: "tcp", Usage: "send over TCP instead of UDP"}},
				Action: metricsSend,
			},
		},
	}
}

func metricsQuery(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return fmt.Errorf("metrics query needs a TARGET")
	}
	var res []web.RenderSeries
	params := url.Values{"target": {strings.Join(c.Args().Slice(), " ")}, "from": {c.String("from")}, "until": {c.String("until")}, "format": {"json"}}
	if err := apiGet(c, "/render", params, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, res)
	}
	if len(res) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "no series match")
	}
	width := 6
	for _, s := range res {
		width = max(width, len(s.Target))
	}
	fmt.Fprintf(c.App.Writer, "%-*s %12s %12s %12s %12s  %s\n", width, "SERIES", "LAST", "MIN", "MAX", "AVG", "")
	for _, s := range res {
		var vals []float64
		for _, dp := range s.Datapoints {
			v := math.NaN()
			if dp[0] != nil {
				v = *dp[0]
			}
			vals = append(vals, v)
		}
		last, lo, hi, avg := summary(vals)
		fmt.Fprintf(c.App.Writer, "%-*s %12s %12s %12s %12s  %s\n", width, s.Target, num(last), num(lo), num(hi), num(avg), sparkline(vals, 40))
	}
	return nil
}

func summary(vals []float64) (last, lo, hi, avg float64) {
	last, lo, hi, avg = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	sum, n := 0.0, 0
	for _, v := range vals {
		if math.IsNaN(v) {
			continue
		}
		last = v
		if n == 0 || v < lo {
			lo = v
		}
		if n == 0 || v > hi {
			hi = v
		}
		sum += v
		n++
	}
	if n > 0 {
		avg = sum / float64(n)
	}
	return
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.6g", v)
}

// sparkline draws values (nulls as spaces) in at most width cells.
func sparkline(vals []float64, width int) string {
	if len(vals) == 0 {
		return ""
	}
	cells := make([]float64, 0, width)
	per := (len(vals) + width - 1) / width
	for i := 0; i < len(vals); i += per {
		sum, n := 0.0, 0
		for _, v := range vals[i:min(i+per, len(vals))] {
			if !math.IsNaN(v) {
				sum += v
				n++
			}
		}
		if n == 0 {
			cells = append(cells, math.NaN())
		} else {
			cells = append(cells, sum/float64(n))
		}
	}
	_, lo, hi, _ := summary(cells)
	bars := []rune("▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, v := range cells {
		switch {
		case math.IsNaN(v):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(bars[3])
		default:
			b.WriteRune(bars[int((v-lo)/(hi-lo)*float64(len(bars)-1))])
		}
	}
	return b.String()
}

func metricsPromQL(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	params := url.Values{"query": {strings.Join(c.Args().Slice(), " ")}}
	path := "/api/v1/query"
	if c.IsSet("start") {
		path = "/api/v1/query_range"
		params.Set("start", c.String("start"))
		params.Set("step", c.String("step"))
		if c.IsSet("end") {
			params.Set("end", c.String("end"))
		} else {
			params.Set("end", "")
		}
	}
	var res struct {
		Status string
		Error  string
		Data   struct {
			ResultType string `json:"resultType"`
			Result     any    `json:"result"`
		}
	}
	if err := apiGet(c, path, params, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, res)
	}
	switch rs := res.Data.Result.(type) {
	case []any:
		for _, el := range rs {
			m, ok := el.(map[string]any)
			if !ok {
				fmt.Fprintln(c.App.Writer, el)
				continue
			}
			name := promName(m["metric"])
			if v, ok := m["value"].([]any); ok && len(v) == 2 {
				fmt.Fprintf(c.App.Writer, "%s %v\n", name, v[1])
			} else if vs, ok := m["values"].([]any); ok {
				var vals []float64
				for _, p := range vs {
					if pp, ok := p.([]any); ok && len(pp) == 2 {
						var f float64
						fmt.Sscan(fmt.Sprint(pp[1]), &f)
						vals = append(vals, f)
					}
				}
				last, lo, hi, avg := summary(vals)
				fmt.Fprintf(c.App.Writer, "%s last=%s min=%s max=%s avg=%s %s\n", name, num(last), num(lo), num(hi), num(avg), sparkline(vals, 40))
			}
		}
	default:
		fmt.Fprintln(c.App.Writer, rs)
	}
	return nil
}

func metricsList(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	if c.NArg() > 1 {
		return usageError(c, "give one GLOB (quote it: the shell expands *)")
	}
	if c.Bool("leaves") {
		return metricsLeaves(c, asJSON)
	}
	glob := c.Args().First()
	if glob == "" {
		glob = "*"
	}
	var nodes []struct {
		ID         string `json:"id"`
		Leaf       int    `json:"leaf"`
		Expandable int    `json:"expandable"`
	}
	if err := apiGet(c, "/metrics/find", url.Values{"query": {glob}}, &nodes); err != nil {
		return err
	}
	type node struct {
		Path   string `json:"path"`
		Branch bool   `json:"branch"`
	}
	out := []node{}
	for _, n := range nodes {
		out = append(out, node{Path: n.ID, Branch: n.Expandable == 1})
	}
	if asJSON {
		return printJSON(c, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "no metrics match %s\n", glob)
	}
	for _, n := range out {
		if n.Branch {
			fmt.Fprintln(c.App.Writer, n.Path+".")
		} else {
			fmt.Fprintln(c.App.Writer, n.Path)
		}
	}
	return nil
}

// metricsLeaves prints every metric name that GLOB matches or that lies
// under a branch GLOB matches.
func metricsLeaves(c *cli.Context, asJSON bool) error {
	var names []string
	if err := apiGet(c, "/metrics/index.json", nil, &names); err != nil {
		return err
	}
	glob := c.Args().First()
	out := []string{}
	if glob == "" {
		out = append(out, names...)
	} else {
		re, err := regexp.Compile(graphite.GlobRegexp(glob))
		if err != nil {
			return fmt.Errorf("bad glob %q: %w", glob, err)
		}
		depth := strings.Count(glob, ".") + 1
		for _, n := range names {
			parts := strings.Split(n, ".")
			if len(parts) >= depth && re.MatchString(strings.Join(parts[:depth], ".")) {
				out = append(out, n)
			}
		}
	}
	if asJSON {
		return printJSON(c, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "no metrics match %s\n", glob)
	}
	for _, n := range out {
		fmt.Fprintln(c.App.Writer, n)
	}
	return nil
}

func metricsSend(c *cli.Context) error {
	lines := c.Args().Slice()
	if len(lines) == 1 && lines[0] == "-" {
		var err error
		if lines, err = stdinLines(); err != nil {
			return err
		}
	}
	if len(lines) == 0 {
		return usageError(c, "give at least one StatsD line, e.g. 'deploys:1|c', or - to read them from stdin")
	}
	msg, err := send.StatsDLines(lines)
	if err != nil {
		return err
	}
	conn, err := dialIntake(c, "statsd", 8125)
	if err != nil {
		return err
	}
	defer conn.Close()
	if c.Bool("tcp") {
		for _, l := range lines {
			if err := conn.Send([]byte(l)); err != nil {
				return err
			}
		}
	} else if err := conn.Send(msg); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "sent %d StatsD line(s) to %s: %s\n", len(lines), conn, strings.Join(lines, " "))
	return nil
}

// promName prints a label set as Prometheus does: name{k="v",...}.
func promName(v any) string {
	m, _ := v.(map[string]any)
	name, _ := m["__name__"].(string)
	var ls []string
	for k, val := range m {
		if k != "__name__" {
			ls = append(ls, fmt.Sprintf("%s=%q", k, val))
		}
	}
	sort.Strings(ls)
	if len(ls) == 0 && name == "" {
		return "{}"
	}
	if len(ls) == 0 {
		return name
	}
	return name + "{" + strings.Join(ls, ",") + "}"
}
