// Package dashboards holds Grafana-style dashboards: the built-in ones
// (embedded JSON, read-only) and the ones people save, one JSON file each
// under <data>/dashboards.
package dashboards

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

//go:embed builtin/*.json
var builtin embed.FS

// Target is one query of a panel.
type Target struct {
	Lang string `json:"lang"` // graphite or promql
	Expr string `json:"expr"`
}

// Panel is one chart or table.
type Panel struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Type    string   `json:"type"` // timeseries, stat, loghistogram, logtable, services
	Unit    string   `json:"unit,omitempty"`
	Width   int      `json:"width,omitempty"`  // 1-12 grid columns
	Height  int      `json:"height,omitempty"` // pixels
	Targets []Target `json:"targets,omitempty"`
	Query   string   `json:"query,omitempty"` // KQL for log panels
}

// Variable is a dashboard variable as Grafana's: $name in targets, log
// queries and titles stands for the value picked from the metric nodes that
// Query (a Graphite find pattern, /metrics/find) lists, so one dashboard
// serves every service that sends the same metrics.
type Variable struct {
	Name    string `json:"name"`
	Label   string `json:"label,omitempty"`
	Query   string `json:"query"`             // e.g. stats_counts.*
	Default string `json:"default,omitempty"` // the value before anyone picks
}

// Dashboard is a titled list of panels.
type Dashboard struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	BuiltIn   bool       `json:"builtIn"`
	Variables []Variable `json:"variables,omitempty"`
	Panels    []Panel    `json:"panels"`
}

var varNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)

// Expand replaces $name and ${name} in s with vals[name]; other text stays.
func Expand(s string, vals map[string]string) string {
	for k, v := range vals {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
		s = regexp.MustCompile(`\$`+regexp.QuoteMeta(k)+`\b`).ReplaceAllLiteralString(s, v)
	}
	return s
}

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

var panelTypes = map[string]bool{"timeseries": true, "stat": true, "loghistogram": true, "logtable": true, "services": true}

// Validate checks a dashboard a person sends.
func (d *Dashboard) Validate() error {
	if !idRe.MatchString(d.ID) {
		return fmt.Errorf("id %q: use lower-case letters, digits and dashes", d.ID)
	}
	if strings.TrimSpace(d.Title) == "" {
		return errors.New("title must not be empty")
	}
	seen := map[string]bool{}
	for i, v := range d.Variables {
		if !varNameRe.MatchString(v.Name) || seen[v.Name] {
			return fmt.Errorf("variables[%d].name %q: use letters, digits and _, once each", i, v.Name)
		}
		seen[v.Name] = true
		if strings.TrimSpace(v.Query) == "" {
			return fmt.Errorf("variables[%d].query must be a metric pattern such as stats_counts.*", i)
		}
	}
	for i, p := range d.Panels {
		if !panelTypes[p.Type] {
			return fmt.Errorf("panels[%d].type %q is not timeseries, stat, loghistogram, logtable or services", i, p.Type)
		}
		if p.Width < 0 || p.Width > 12 {
			return fmt.Errorf("panels[%d].width must be 1-12", i)
		}
		for j, t := range p.Targets {
			if t.Lang != "graphite" && t.Lang != "promql" {
				return fmt.Errorf("panels[%d].targets[%d].lang must be graphite or promql", i, j)
			}
		}
	}
	return nil
}

// Store keeps saved dashboards beside the built-in ones.
type Store struct {
	dir string
	mu  sync.Mutex
}

// Open uses dir for saved dashboards.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dashboards dir: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Builtins returns the embedded dashboards.
func Builtins() []Dashboard {
	entries, _ := builtin.ReadDir("builtin")
	var out []Dashboard
	for _, e := range entries {
		b, _ := builtin.ReadFile("builtin/" + e.Name())
		var d Dashboard
		if json.Unmarshal(b, &d) == nil {
			d.BuiltIn = true
			out = append(out, d)
		}
	}
	return out
}

// List returns built-in then saved dashboards.
func (s *Store) List() ([]Dashboard, error) {
	out := Builtins()
	files, _ := filepath.Glob(filepath.Join(s.dir, "*.json"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read dashboard %s: %w", f, err)
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", f, err)
		}
		d.BuiltIn = false
		out = append(out, d)
	}
	return out, nil
}

// Get returns one dashboard.
func (s *Store) Get(id string) (Dashboard, bool) {
	all, _ := s.List()
	for _, d := range all {
		if d.ID == id {
			return d, true
		}
	}
	return Dashboard{}, false
}

// Save writes a dashboard; built-in ids are read-only.
func (s *Store) Save(d Dashboard) error {
	if err := d.Validate(); err != nil {
		return err
	}
	for _, b := range Builtins() {
		if b.ID == d.ID {
			return fmt.Errorf("%q is built in and read-only: save a copy under another id", d.ID)
		}
	}
	d.BuiltIn = false
	b, _ := json.MarshalIndent(d, "", "  ")
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp := filepath.Join(s.dir, d.ID+".json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("save dashboard: %w", err)
	}
	return os.Rename(tmp, filepath.Join(s.dir, d.ID+".json"))
}

// Delete removes a saved dashboard.
func (s *Store) Delete(id string) error {
	if !idRe.MatchString(id) {
		return fmt.Errorf("bad id %q", id)
	}
	for _, b := range Builtins() {
		if b.ID == id {
			return fmt.Errorf("%q is built in and cannot be deleted", id)
		}
	}
	if err := os.Remove(filepath.Join(s.dir, id+".json")); err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	return nil
}
