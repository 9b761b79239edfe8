package web

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Status levels of /health, best first.
const (
	StatusOK       = "OK"
	StatusDegraded = "DEGRADED"
	StatusDown     = "DOWN"
)

// Probe reports one subsystem's state and, when not OK, why.
type Probe func() (status, detail string)

// Health aggregates subsystem probes; the worst one decides.
type Health struct {
	mu     sync.Mutex
	probes map[string]Probe
}

// NewHealth returns an empty registry.
func NewHealth() *Health { return &Health{probes: map[string]Probe{}} }

// Register adds a named subsystem.
func (h *Health) Register(name string, p Probe) {
	h.mu.Lock()
	h.probes[name] = p
	h.mu.Unlock()
}

// SubsystemStatus is one entry of the verbose report.
type SubsystemStatus struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Check runs every probe.
func (h *Health) Check() (string, map[string]SubsystemStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	worst := StatusOK
	out := map[string]SubsystemStatus{}
	for name, p := range h.probes {
		st, detail := p()
		out[name] = SubsystemStatus{st, detail}
		if rank(st) > rank(worst) {
			worst = st
		}
	}
	return worst, out
}

func rank(s string) int {
	switch s {
	case StatusDegraded:
		return 1
	case StatusDown:
		return 2
	}
	return 0
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	st, subs := s.d.Health.Check()
	code := http.StatusOK
	if st == StatusDown {
		code = http.StatusServiceUnavailable
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		writeJSON(w, code, map[string]any{"status": st, "time": time.Now().UTC(), "subsystems": subs})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	var why []string
	for _, name := range sortedNames(subs) {
		if sub := subs[name]; sub.Status != StatusOK {
			why = append(why, fmt.Sprintf("%s %s: %s", name, sub.Status, sub.Detail))
		}
	}
	fmt.Fprintln(w, st)
	for _, l := range why {
		fmt.Fprintln(w, l)
	}
}

func sortedNames(m map[string]SubsystemStatus) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
