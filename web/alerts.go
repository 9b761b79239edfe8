package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/configs"
)

// maxDefinition bounds a service or check definition sent to the API.
const maxDefinition = 1 << 20

// alertErr answers an engine error with the status that fits it.
func alertErr(w http.ResponseWriter, err error) {
	var acked *alert.AckedError
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, alert.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, alert.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, alert.ErrReadOnly), errors.Is(err, alert.ErrConflict), errors.As(err, &acked):
		code = http.StatusConflict
	}
	writeErr(w, code, err)
}

// readDefinition reads a JSON (or YAML) definition body.
func readDefinition(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDefinition))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("definition: %w", err))
		return nil, false
	}
	return b, true
}

// reportRange reads from/to as the logs API does, but a report defaults
// to the last 7 days.
func reportRange(r *http.Request) (time.Time, time.Time, error) {
	q := r.URL.Query()
	if q.Get("from") == "" {
		q.Set("from", "now-7d")
		r.URL.RawQuery = q.Encode()
	}
	rg, err := timeRange(r, time.Now())
	return rg.From, rg.To, err
}

// AlertRoutes serves services, checks, their definitions and reports,
// acknowledgements, on-call and alerts.
func AlertRoutes(mux *http.ServeMux, e *alert.Engine) {
	mux.HandleFunc("GET /api/services", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, e.Services())
	})
	mux.HandleFunc("POST /api/services", func(w http.ResponseWriter, r *http.Request) {
		b, ok := readDefinition(w, r)
		if !ok {
			return
		}
		s, err := e.CreateService(b)
		if err != nil {
			alertErr(w, err)
			return
		}
		def, _ := e.Definition(s.Name)
		writeJSON(w, http.StatusCreated, def)
	})
	mux.HandleFunc("GET /api/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := e.Service(r.PathValue("name"))
		if !ok {
			writeErr(w, http.StatusNotFound, errors.New("no service named "+r.PathValue("name")))
			return
		}
		writeJSON(w, 200, v)
	})
	mux.HandleFunc("GET /api/services/{name}/definition", func(w http.ResponseWriter, r *http.Request) {
		def, err := e.Definition(r.PathValue("name"))
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, def)
	})
	mux.HandleFunc("PUT /api/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := readDefinition(w, r)
		if !ok {
			return
		}
		s, err := e.UpdateService(r.PathValue("name"), b)
		if err != nil {
			alertErr(w, err)
			return
		}
		def, _ := e.Definition(s.Name)
		writeJSON(w, 200, def)
	})
	mux.HandleFunc("DELETE /api/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := e.DeleteService(r.PathValue("name")); err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, map[string]any{"deleted": r.PathValue("name")})
	})
	mux.HandleFunc("POST /api/services/{name}/checks", func(w http.ResponseWriter, r *http.Request) {
		b, ok := readDefinition(w, r)
		if !ok {
			return
		}
		if _, err := e.AddCheck(r.PathValue("name"), b); err != nil {
			alertErr(w, err)
			return
		}
		def, _ := e.Definition(r.PathValue("name"))
		writeJSON(w, http.StatusCreated, def)
	})
	mux.HandleFunc("GET /api/services/{name}/report", func(w http.ResponseWriter, r *http.Request) {
		from, to, err := reportRange(r)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		rep, err := e.ServiceReport(r.PathValue("name"), from, to)
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, rep)
	})
	mux.HandleFunc("GET /api/checks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, e.Checks()) })
	mux.HandleFunc("GET /api/checks/{name}/history", func(w http.ResponseWriter, r *http.Request) {
		h, ok := e.History(r.PathValue("name"))
		if !ok {
			writeErr(w, http.StatusNotFound, errors.New("no check named "+r.PathValue("name")))
			return
		}
		writeJSON(w, 200, h)
	})
	mux.HandleFunc("GET /api/checks/{name}/report", func(w http.ResponseWriter, r *http.Request) {
		from, to, err := reportRange(r)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		rep, err := e.CheckReport(r.PathValue("name"), from, to)
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, rep)
	})
	mux.HandleFunc("PUT /api/checks/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := readDefinition(w, r)
		if !ok {
			return
		}
		c, err := e.UpdateCheck(r.PathValue("name"), b)
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, map[string]any{"updated": c.Name})
	})
	mux.HandleFunc("DELETE /api/checks/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := e.DeleteCheck(r.PathValue("name")); err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, map[string]any{"deleted": r.PathValue("name")})
	})
	mux.HandleFunc("POST /api/checks/{name}/run", func(w http.ResponseWriter, r *http.Request) {
		res, err := e.RunNow(r.Context(), r.PathValue("name"))
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, res)
	})
	mux.HandleFunc("POST /api/services/{name}/ack", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ For, By string }
		json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body)
		if v := r.URL.Query().Get("for"); v != "" {
			body.For = v
		}
		if v := r.URL.Query().Get("by"); v != "" {
			body.By = v
		}
		d := 20 * time.Minute
		if body.For != "" {
			var err error
			if d, err = configs.ParseDuration(body.For); err != nil || d <= 0 {
				writeErr(w, http.StatusBadRequest, errors.New("for: want a duration such as 20m or 2h"))
				return
			}
		}
		until, err := e.Ack(r.PathValue("name"), d, body.By)
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, map[string]any{"service": r.PathValue("name"), "acknowledged_until": until, "acknowledged_by": body.By})
	})
	mux.HandleFunc("DELETE /api/services/{name}/ack", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Unack(r.PathValue("name")); err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, map[string]any{"service": r.PathValue("name"), "acknowledged_until": nil})
	})
	mux.HandleFunc("GET /api/oncall", func(w http.ResponseWriter, r *http.Request) {
		days := 14
		if v := r.URL.Query().Get("days"); v != "" {
			if _, err := fmt.Sscanf(v, "%d", &days); err != nil || days < 1 || days > 366 {
				writeErr(w, http.StatusBadRequest, errors.New("days: want a number of days from 1 to 366"))
				return
			}
		}
		writeJSON(w, 200, e.OnCall(time.Now().Add(time.Duration(days)*24*time.Hour)))
	})
	mux.HandleFunc("GET /api/alerts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, e.Alerts())
	})
	mux.HandleFunc("POST /api/alerts/test", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Users []string `json:"users"`
			User  string   `json:"user"`
			Call  bool     `json:"call"`
			To    string   `json:"to"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
			writeErr(w, http.StatusBadRequest, errors.New(`body must be {"users": ["alice"], "call": false}`))
			return
		}
		if body.To != "" {
			writeErr(w, http.StatusBadRequest, errors.New(`test alerts page configured users by name ({"users": ["alice"]}), never a number from a request`))
			return
		}
		if body.User != "" {
			body.Users = append(body.Users, body.User)
		}
		a, err := e.SendTest(body.Users, body.Call)
		if err != nil {
			alertErr(w, err)
			return
		}
		writeJSON(w, 200, a)
	})
}
