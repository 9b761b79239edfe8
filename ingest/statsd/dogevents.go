package statsd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/obs-dev/obs/store/logs"
)

// DogStatsDLogEvent turns a DogStatsD event (`_e{title_len,text_len}:title|text|…`)
// or service check (`_sc|name|status|…`) into a log event, so that they can
// be searched with the logs (type:dogstatsd_event / dogstatsd_service_check).
func DogStatsDLogEvent(kind LineKind, line []byte, now time.Time) (logs.Entry, error) {
	ev := map[string]any{"@version": "1"}
	ts := now.UTC()
	var meta [][]byte
	switch kind {
	case LineEvent:
		close := bytes.IndexByte(line, '}')
		if close < 0 {
			return logs.Entry{}, fmt.Errorf("event without lengths")
		}
		var tl, xl int
		if _, err := fmt.Sscanf(string(line[3:close]), "%d,%d", &tl, &xl); err != nil || tl < 0 || xl < 0 {
			return logs.Entry{}, fmt.Errorf("event lengths %q", line[3:close])
		}
		body := line[close+1:]
		if len(body) < 1+tl+1+xl || body[0] != ':' || body[1+tl] != '|' {
			return logs.Entry{}, fmt.Errorf("event shorter than its lengths")
		}
		ev["type"] = "dogstatsd_event"
		ev["title"] = string(body[1 : 1+tl])
		ev["message"] = strings.ReplaceAll(string(body[2+tl:2+tl+xl]), `\n`, "\n")
		if rest := body[2+tl+xl:]; len(rest) > 0 {
			meta = bytes.Split(rest[1:], []byte("|"))
		}
	case LineServiceCheck:
		parts := bytes.Split(line, []byte("|"))
		if len(parts) < 3 {
			return logs.Entry{}, fmt.Errorf("service check needs a name and a status")
		}
		st, err := strconv.Atoi(string(parts[2]))
		if err != nil || st < 0 || st > 3 {
			return logs.Entry{}, fmt.Errorf("service check status %q", parts[2])
		}
		ev["type"] = "dogstatsd_service_check"
		ev["check"] = string(parts[1])
		ev["status"] = []string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}[st]
		meta = parts[3:]
	default:
		return logs.Entry{}, fmt.Errorf("not an event line")
	}
	for _, m := range meta {
		switch {
		case len(m) > 2 && m[0] == 'd' && m[1] == ':':
			if sec, err := strconv.ParseInt(string(m[2:]), 10, 64); err == nil {
				ts = time.Unix(sec, 0).UTC()
			}
		case len(m) > 2 && m[0] == 'h' && m[1] == ':':
			ev["host"] = string(m[2:])
		case len(m) > 2 && m[0] == 'p' && m[1] == ':':
			ev["priority"] = string(m[2:])
		case len(m) > 2 && m[0] == 't' && m[1] == ':':
			ev["alert_type"] = string(m[2:])
		case len(m) > 2 && m[0] == 'm' && m[1] == ':':
			ev["message"] = string(m[2:])
		case len(m) > 2 && m[0] == 's' && m[1] == ':':
			ev["source_type"] = string(m[2:])
		case len(m) > 1 && m[0] == '#':
			tags := map[string]any{}
			for _, l := range parseTags(string(m[1:])) {
				tags[l.Name] = l.Value
			}
			ev["tags"] = tags
		}
	}
	ev["@timestamp"] = ts.Format("2006-01-02T15:04:05.000Z")
	raw, err := json.Marshal(ev)
	if err != nil {
		return logs.Entry{}, err
	}
	return logs.Entry{TS: ts, Raw: raw}, nil
}
