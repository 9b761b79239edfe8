package web

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"

	"github.com/obs-dev/obs/dashboards"
)

//go:embed ui
var uiFiles embed.FS

// uiRoutes serves the single-page UI and the dashboards API.
func (s *Server) uiRoutes() {
	sub, _ := fs.Sub(uiFiles, "ui")
	ui, err := loadAssets(sub)
	if err != nil {
		panic(err) // the embedded files are part of the binary: a test catches this
	}
	s.mux.HandleFunc("GET /ui/{file}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("file") == "index.html" {
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		ui.serve(w, r, r.PathValue("file"))
	})
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { ui.serve(w, r, "index.html") })
	// Deep links (/services/web-api, as alert texts carry) open the UI.
	s.mux.HandleFunc("GET /services/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/#/services/"+r.PathValue("name"), http.StatusFound)
	})
	if s.d.Dashboards == nil {
		return
	}
	st := s.d.Dashboards
	s.mux.HandleFunc("GET /api/dashboards", func(w http.ResponseWriter, r *http.Request) {
		all, err := st.List()
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, 200, all)
	})
	s.mux.HandleFunc("GET /api/dashboards/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := st.Get(r.PathValue("id"))
		if !ok {
			writeErr(w, http.StatusNotFound, errors.New("no dashboard "+r.PathValue("id")))
			return
		}
		writeJSON(w, 200, d)
	})
	s.mux.HandleFunc("PUT /api/dashboards/{id}", func(w http.ResponseWriter, r *http.Request) {
		var d dashboards.Dashboard
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&d); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		d.ID = r.PathValue("id")
		if err := st.Save(d); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, 200, d)
	})
	s.mux.HandleFunc("DELETE /api/dashboards/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := st.Delete(r.PathValue("id")); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, 200, map[string]string{"deleted": r.PathValue("id")})
	})
}
