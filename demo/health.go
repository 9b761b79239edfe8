package demo

import (
	"fmt"
	"net/http"
	"time"
)

// State is what the web-api's /health answers, as the seed's health check
// does: OK, DEGRADED (200: it serves, slowly: recipe-api's cache is down)
// and DOWN (500: recipe-api's database is unreachable, requests fail).
type State string

const (
	OK       State = "OK"
	Degraded State = "DEGRADED"
	Down     State = "DOWN"
)

// cycle runs the states in turn from start, each for phase.
type cycle struct {
	start time.Time
	phase time.Duration
}

var states = []State{OK, Degraded, Down}

// at is the state at t and when it ends.
func (c cycle) at(t time.Time) (State, time.Time) {
	n := int64(t.Sub(c.start) / c.phase)
	if n < 0 {
		n = 0
	}
	return states[n%int64(len(states))], c.start.Add(time.Duration(n+1) * c.phase)
}

// why is the story the demo tells for each state.
func (s State) why() string {
	switch s {
	case Degraded:
		return "recipe-api's cache is down: it serves from the database, slowly"
	case Down:
		return "recipe-api's database is unreachable: requests to web-api fail"
	}
	return "both services answer"
}

// healthHandler answers GET /health with the state: 200 OK, 200 DEGRADED,
// 500 DOWN (the seed's codes).
func healthHandler(c cycle, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		s, _ := c.at(now())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if s == Down {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprint(w, s)
	})
}
