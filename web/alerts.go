package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/obs-dev/obs/alert"
	"github.com/obs-dev/obs/configs"
)

// AlertRoutes serves services, checks, acknowledgements and alerts.
func AlertRoutes(mux *http.ServeMux, e *alert.Engine) {
	mux.HandleFunc("GET /api/services", func(w http.ResponseWriter, r *http.Request) {
		v := e.Services()
		if v == nil {
			v = []alert.ServiceView{}
		}
		writeJSON(w, 200, v)
	})
	mux.HandleFunc("GET /api/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := e.Service(r.PathValue("name"))
		if !ok {
			writeErr(w, http.StatusNotFound, errors.New("no service named "+r.PathValue("name")))
			return
		}
		writeJSON(w, 200, v)
	})
	mux.HandleFunc("GET /api/checks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, e.Checks()) })
	mux.HandleFunc("GET /api/checks/{name}/history", func(w http.ResponseWriter, r *http.Request) {
		h, ok := e.History(r.PathValue("name"))
		if !ok {
			writeErr(w, http.StatusNotFound, errors.New("no check named "+r.PathValue("name")))
			return
		}
		if h == nil {
			h = []alert.Result{}
		}
		writeJSON(w, 200, h)
	})
	mux.HandleFunc("POST /api/checks/{name}/run", func(w http.ResponseWriter, r *http.Request) {
		res, err := e.RunNow(r.Context(), r.PathValue("name"))
		if err != nil {
			writeErr(w, http.StatusNotFound, err)
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
			writeErr(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, 200, map[string]any{"service": r.PathValue("name"), "acknowledged_until": until})
	})
	mux.HandleFunc("DELETE /api/services/{name}/ack", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Unack(r.PathValue("name")); err != nil {
			writeErr(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, 200, map[string]any{"service": r.PathValue("name"), "acknowledged_until": nil})
	})
	mux.HandleFunc("GET /api/alerts", func(w http.ResponseWriter, r *http.Request) {
		a := e.Alerts()
		if a == nil {
			a = []alert.Alert{}
		}
		writeJSON(w, 200, a)
	})
	mux.HandleFunc("POST /api/alerts/test", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To   string `json:"to"`
			Call bool   `json:"call"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.To == "" {
			writeErr(w, http.StatusBadRequest, errors.New(`body must be {"to": "+15551234567", "call": false}`))
			return
		}
		writeJSON(w, 200, e.SendTest(body.To, body.Call))
	})
}
