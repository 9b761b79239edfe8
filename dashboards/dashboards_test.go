package dashboards

import (
	"strings"
	"testing"
)

func TestBuiltinsAndStore(t *testing.T) {
	b := Builtins()
	ids := map[string]Dashboard{}
	for _, d := range b {
		if err := d.Validate(); err != nil {
			t.Errorf("built-in %s: %v", d.ID, err)
		}
		ids[d.ID] = d
	}
	wa, ok := ids["web-api-overview"]
	if !ok || ids["obs"].ID == "" {
		t.Fatalf("built-ins %v", ids)
	}
	want := map[string]string{
		"Incoming Status Codes":   "aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)",
		"Outbound Service Timing": "aliasByNode(stats.timers.web-api.outbound.*.request-time.upper_90, 4)",
		"Outbound Request Count":  "aliasByNode(stats_counts.web-api.outbound.*.request-count, 3)",
	}
	// One dashboard serves every service: $service is web-api unless picked.
	if len(wa.Variables) != 1 || wa.Variables[0].Name != "service" || wa.Variables[0].Default != "web-api" {
		t.Fatalf("web-api-overview variables %+v", wa.Variables)
	}
	vals := map[string]string{"service": wa.Variables[0].Default}
	for _, p := range wa.Panels {
		if w, ok := want[p.Title]; ok && (len(p.Targets) != 1 || Expand(p.Targets[0].Expr, vals) != w) {
			t.Errorf("%s: %+v", p.Title, p.Targets)
		}
		delete(want, p.Title)
	}
	if len(want) != 0 {
		t.Errorf("missing seed panels %v", want)
	}

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(Dashboard{ID: "web-api-overview", Title: "x"}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("built-in overwritten: %v", err)
	}
	if err := s.Delete("obs"); err == nil {
		t.Fatal("built-in deleted")
	}
	for _, bad := range []Dashboard{{ID: "Bad Id", Title: "x"}, {ID: "ok", Title: ""}, {ID: "ok", Title: "x", Panels: []Panel{{Type: "pie"}}},
		{ID: "ok", Title: "x", Panels: []Panel{{Type: "timeseries", Targets: []Target{{Lang: "sql", Expr: "x"}}}}}} {
		if err := s.Save(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := s.Save(Dashboard{ID: "ok", Title: "x", Variables: []Variable{{Name: "a b", Query: "x.*"}}}); err == nil {
		t.Error("variable named with a space accepted")
	}
	if got := Expand("stats.$service.x ${service}s $services", map[string]string{"service": "recipe-api"}); got != "stats.recipe-api.x recipe-apis $services" {
		t.Errorf("Expand: %q", got)
	}
	mine := Dashboard{ID: "mine", Title: "Mine", Panels: []Panel{{ID: "p", Title: "P", Type: "timeseries", Width: 6, Targets: []Target{{Lang: "promql", Expr: "up"}}}}}
	if err := s.Save(mine); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get("mine")
	if !ok || got.BuiltIn || got.Panels[0].Targets[0].Expr != "up" {
		t.Fatalf("got %+v", got)
	}
	if err := s.Delete("mine"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("mine"); ok {
		t.Fatal("still there")
	}
}
