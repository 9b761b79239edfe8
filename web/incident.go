package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/obs-dev/obs/alert/incident"
)

// incidentRoute serves GET /api/incident/{service}: the service's
// incident report (alert/incident) over since, or from/to, or by default
// the current failure's window.
func incidentRoute(mux *http.ServeMux, b *incident.Builder) {
	mux.HandleFunc("GET /api/incident/{service}", func(w http.ResponseWriter, r *http.Request) {
		var from, to time.Time
		q := r.URL.Query()
		if q.Get("since") != "" || q.Get("from") != "" || q.Get("to") != "" {
			if q.Get("since") == "" && q.Get("from") == "" {
				q.Set("from", "now-30m") // the report's own default, not Discover's 15 minutes
				r.URL.RawQuery = q.Encode()
			}
			rng, err := timeRange(r, time.Now())
			if err != nil {
				writeErr(w, http.StatusBadRequest, err)
				return
			}
			from, to = rng.From, rng.To
		}
		rep, err := b.Build(r.Context(), r.PathValue("service"), from, to)
		if err != nil {
			code := http.StatusInternalServerError
			var hs interface{ HTTPStatus() int }
			switch {
			case errors.Is(err, incident.ErrNotFound):
				code = http.StatusNotFound
			case errors.As(err, &hs):
				code = hs.HTTPStatus() // a remote store that cannot be reached: 503
			}
			writeErr(w, code, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}
