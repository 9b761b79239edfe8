package web

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/obs-dev/obs/dashboards"
)

//go:embed ui
var uiFiles embed.FS

// uiRoutes serves the single-page UI and the dashboards API.
func (s *Server) uiRoutes() {
	sub, _ := fs.Sub(uiFiles, "ui")
	files := http.FileServer(http.FS(sub))
	s.mux.Handle("GET /ui/", http.StripPrefix("/ui/", files))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := uiFiles.ReadFile("ui/index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	})
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

// requireToken guards every route with the auth token: a bearer header, the
// obs_token cookie, or ?token= (which sets the cookie, so a link can log in).
func requireToken(token string, next http.Handler) http.Handler {
	ok := func(v string) bool { return subtle.ConstantTimeCompare([]byte(v), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			next.ServeHTTP(w, r)
			return
		}
		if t := r.URL.Query().Get("token"); t != "" && ok(t) {
			http.SetCookie(w, &http.Cookie{Name: "obs_token", Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie("obs_token"); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") && ok(strings.TrimPrefix(a, "Bearer ")) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="obs"`)
		writeErr(w, http.StatusUnauthorized, errors.New("this obs needs its auth token: Authorization: Bearer <token>, or open /?token=<token>"))
	})
}
