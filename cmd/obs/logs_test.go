package main

import (
	"strings"
	"testing"
	"time"
)

// A line names the app, severity and type of the seed's events and of
// OTLP log records alike.
func TestFormatEvent(t *testing.T) {
	ts := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct{ raw, want string }{
		{`{"app":"web-api","severity":"error","type":"request-failure","fields":{"path":"/error"}}`,
			` web-api      error request-failure fields={"path":"/error"}`},
		{`{"service.name":"recipe-api","severity_text":"info","event_name":"request-incoming","message":"GET /recipes/42","path":"/recipes/42"}`,
			` recipe-api   info  request-incoming GET /recipes/42  path="/recipes/42"`},
		{`{"app":"a","service.name":"b","severity":"warn","severity_text":"WARN"}`, ` a            warn  -        service.name="b" severity_text="WARN"`},
	} {
		if got := formatEvent(ts, []byte(c.raw), false); !strings.HasSuffix(got, c.want) {
			t.Errorf("%s:\n got %q\nwant …%q", c.raw, got, c.want)
		}
	}
}
