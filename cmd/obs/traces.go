package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/alert/incident"
	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/web"
)

func tracesCommand() *cli.Command {
	return &cli.Command{
		Name:  "traces",
		Usage: "find traces, show one as a waterfall, list service dependencies",
		Subcommands: []*cli.Command{
			{
				Name:  "search",
				Usage: "traces matching service, span, tags and duration, newest first",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.StringFlag{Name: "service", Usage: "local service name"},
					&cli.StringFlag{Name: "remote-service", Usage: "remote service name"},
					&cli.StringFlag{Name: "span", Usage: "span name"},
					&cli.StringSliceFlag{Name: "tag", Usage: "k=v or k (repeatable); annotations match by value"},
					&cli.StringFlag{Name: "min-duration", Usage: "e.g. 100ms"},
					&cli.StringFlag{Name: "max-duration", Usage: "e.g. 2s"},
					&cli.StringFlag{Name: "since", Value: "1h", Usage: "how far back"},
					&cli.IntFlag{Name: "limit", Value: 20}},
				Action: tracesSearch,
			},
			{
				Name:      "show",
				Usage:     "one trace as a waterfall",
				ArgsUsage: "TRACE_ID",
				Flags: []cli.Flag{serverFlag, tokenFlag, outputFlag,
					&cli.BoolFlag{Name: "logs", Usage: "also list log events carrying this trace id (traceId, trace_id, X-B3-TraceId..., at any depth)"}},
				Action: tracesShow,
			},
			{
				Name:   "deps",
				Usage:  "which services call which, with call and error counts",
				Flags:  []cli.Flag{serverFlag, tokenFlag, outputFlag, &cli.StringFlag{Name: "since", Value: "24h"}},
				Action: tracesDeps,
			},
		},
	}
}

// span is the part of a Zipkin v2 span the CLI prints.
type span struct {
	TraceID        string                        `json:"traceId"`
	ID             string                        `json:"id"`
	ParentID       string                        `json:"parentId"`
	Name           string                        `json:"name"`
	Kind           string                        `json:"kind"`
	Timestamp      int64                         `json:"timestamp"`
	Duration       int64                         `json:"duration"`
	Shared         bool                          `json:"shared"`
	LocalEndpoint  *struct{ ServiceName string } `json:"localEndpoint"`
	RemoteEndpoint *struct{ ServiceName string } `json:"remoteEndpoint"`
	Tags           map[string]string             `json:"tags"`
}

func (s span) service() string {
	if s.LocalEndpoint != nil {
		return s.LocalEndpoint.ServiceName
	}
	return "?"
}

func (s span) remote() string {
	if s.RemoteEndpoint != nil {
		return s.RemoteEndpoint.ServiceName
	}
	return ""
}

func durationMicros(c *cli.Context, flag string) (string, error) {
	if !c.IsSet(flag) {
		return "", nil
	}
	d, err := configs.ParseDuration(c.String(flag))
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	return fmt.Sprint(d.Microseconds()), nil
}

// window turns --since into Zipkin's endTs and lookback (milliseconds).
func window(c *cli.Context) (url.Values, error) {
	since, err := configs.ParseDuration(c.String("since"))
	if err != nil {
		return nil, fmt.Errorf("--since: %w", err)
	}
	return url.Values{"endTs": {fmt.Sprint(time.Now().UnixMilli())}, "lookback": {fmt.Sprint(since.Milliseconds())}}, nil
}

func tracesSearch(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	p, err := window(c)
	if err != nil {
		return err
	}
	p.Set("limit", fmt.Sprint(c.Int("limit")))
	for flag, param := range map[string]string{"service": "serviceName", "remote-service": "remoteServiceName", "span": "spanName"} {
		if v := c.String(flag); v != "" {
			p.Set(param, v)
		}
	}
	if tags := c.StringSlice("tag"); len(tags) > 0 {
		p.Set("annotationQuery", strings.Join(tags, " and "))
	}
	for flag, param := range map[string]string{"min-duration": "minDuration", "max-duration": "maxDuration"} {
		v, err := durationMicros(c, flag)
		if err != nil {
			return err
		}
		if v != "" {
			p.Set(param, v)
		}
	}
	// Zipkin's API takes maxDuration only with a minDuration.
	if p.Has("maxDuration") && !p.Has("minDuration") {
		p.Set("minDuration", "1")
	}
	var res [][]json.RawMessage
	if err := apiGet(c, "/api/v2/traces", p, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, res)
	}
	if len(res) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "no traces match")
	}
	for _, raw := range res {
		spans := decodeSpans(raw)
		if len(spans) == 0 {
			continue
		}
		root, start, end, errs := summarize(spans)
		mark := " "
		if errs > 0 {
			mark = "!"
		}
		fmt.Fprintf(c.App.Writer, "%s %s %s  %-10s %3d spans  %s %s\n", mark, spans[0].TraceID,
			time.UnixMicro(start).Local().Format("2006-01-02T15:04:05.000"), fmtMicros(end-start), len(spans), root.service(), root.Name)
	}
	return nil
}

func decodeSpans(raw []json.RawMessage) []span {
	out := make([]span, 0, len(raw))
	for _, r := range raw {
		var s span
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// summarize finds the root (no parent, or the earliest span) and the extent.
func summarize(spans []span) (root span, start, end int64, errs int) {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.ID] = true
	}
	root = spans[0]
	for _, s := range spans {
		if s.Timestamp > 0 && (start == 0 || s.Timestamp < start) {
			start = s.Timestamp
		}
		end = max(end, s.Timestamp+s.Duration)
		if _, ok := s.Tags["error"]; ok {
			errs++
		}
		isRoot := s.ParentID == "" || !ids[s.ParentID]
		rootIsRoot := root.ParentID == "" || !ids[root.ParentID]
		if isRoot && (!rootIsRoot || s.Timestamp < root.Timestamp) {
			root = s
		}
	}
	return
}

func fmtMicros(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

// row is one span id: its client and server halves together.
type row struct {
	id     string
	parent string
	halves []span
	start  int64
	end    int64
}

func tracesShow(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	id := c.Args().First()
	if id == "" {
		return fmt.Errorf("traces show needs a TRACE_ID")
	}
	var raw []json.RawMessage
	if err := apiGet(c, "/api/v2/trace/"+url.PathEscape(id), nil, &raw); err != nil {
		return err
	}
	var logEvents []web.SearchHit
	if c.Bool("logs") {
		var res web.SearchResponse
		q := incident.TraceKQL(id)
		if err := apiGet(c, "/api/logs/search", url.Values{"q": {q}, "from": {"now-30d"}, "to": {"now+1d"}, "limit": {"1000"}, "order": {"asc"}}, &res); err != nil {
			return err
		}
		logEvents = res.Hits
	}
	if asJSON {
		if c.Bool("logs") {
			return printJSON(c, map[string]any{"spans": raw, "logs": logEvents})
		}
		return printJSON(c, raw)
	}
	spans := decodeSpans(raw)
	rows := map[string]*row{}
	var order []string
	for _, s := range spans {
		r := rows[s.ID]
		if r == nil {
			r = &row{id: s.ID, start: s.Timestamp}
			rows[s.ID] = r
			order = append(order, s.ID)
		}
		r.halves = append(r.halves, s)
		if s.Kind != "SERVER" || r.parent == "" {
			r.parent = s.ParentID
		}
		if s.Timestamp > 0 && (r.start == 0 || s.Timestamp < r.start) {
			r.start = s.Timestamp
		}
		r.end = max(r.end, s.Timestamp+s.Duration)
	}
	children := map[string][]*row{}
	var roots []*row
	for _, id := range order {
		r := rows[id]
		if p, ok := rows[r.parent]; ok && r.parent != "" && p != r {
			children[r.parent] = append(children[r.parent], r)
		} else {
			roots = append(roots, r)
		}
	}
	_, start, end, errs := summarize(spans)
	total := max(end-start, 1)
	fmt.Fprintf(c.App.Writer, "trace %s  %s  %d spans  %d errors\n", id, fmtMicros(end-start), len(spans), errs)
	const width = 40
	var walk func(r *row, depth int)
	walk = func(r *row, depth int) {
		sort.Slice(r.halves, func(i, j int) bool { return r.halves[i].Kind < r.halves[j].Kind })
		var labels []string
		errMark := " "
		for _, h := range r.halves {
			l := h.service()
			if h.Kind == "CLIENT" && h.remote() != "" && len(r.halves) == 1 {
				l += " → " + h.remote()
			}
			if h.Kind != "" {
				l += " (" + strings.ToLower(h.Kind) + ")"
			}
			labels = append(labels, l)
			if _, ok := h.Tags["error"]; ok {
				errMark = "!"
			}
		}
		name := r.halves[0].Name
		label := fmt.Sprintf("%s%s %s: %s", strings.Repeat("  ", depth), errMark, strings.Join(labels, " ⇄ "), name)
		from := int((r.start - start) * width / total)
		n := max(int((r.end-r.start)*width/total), 1)
		from = min(from, width-1)
		n = min(n, width-from)
		bar := strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", width-from-n)
		fmt.Fprintf(c.App.Writer, "%-60s |%s| %s\n", label, bar, fmtMicros(r.end-r.start))
		kids := children[r.id]
		sort.Slice(kids, func(i, j int) bool { return kids[i].start < kids[j].start })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].start < roots[j].start })
	for _, r := range roots {
		walk(r, 0)
	}
	if c.Bool("logs") {
		fmt.Fprintf(c.App.Writer, "\n%d log events\n", len(logEvents))
		for _, h := range logEvents {
			fmt.Fprintln(c.App.Writer, formatEvent(h.Timestamp, h.Event, colorOK()))
		}
	}
	return nil
}

func tracesDeps(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	p, err := window(c)
	if err != nil {
		return err
	}
	var links []struct {
		Parent     string `json:"parent"`
		Child      string `json:"child"`
		CallCount  int64  `json:"callCount"`
		ErrorCount int64  `json:"errorCount"`
	}
	if err := apiGet(c, "/api/v2/dependencies", p, &links); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, links)
	}
	for _, l := range links {
		fmt.Fprintf(c.App.Writer, "%-20s → %-20s %8d calls %6d errors\n", l.Parent, l.Child, l.CallCount, l.ErrorCount)
	}
	if len(links) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "no dependencies in that window")
	}
	return nil
}
