package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Security is the one rule set every obs listener applies (SECURITY.md).
// obs runs next to the developer's browser, so any web page they visit is
// an attacker that can send requests to 127.0.0.1:
//   - Host must name this machine (an IP literal, localhost, or a name in
//     AllowedHosts): a DNS-rebinding page gets nothing.
//   - Control routes (acks, check runs, test alerts, dashboards saved: any
//     method but GET/HEAD on a route that is not intake) take same-origin
//     JSON only: a cross-site form or fetch is refused.
//   - Telemetry intake (IntakePaths) is open to cross-origin POSTs only
//     where the protocol's browser clients need it (CORS), and on a
//     loopback listener needs no token.
//   - Reads are never served cross-origin unless ReadOrigins allows it.
//   - With a Token, every other route needs it; /health never does.
type Security struct {
	Token string
	// Loopback says the listener is bound to a loopback address: intake
	// POSTs from local apps need no token there.
	Loopback bool
	// AllowedHosts are extra Host names (a reverse proxy's, a LAN name).
	AllowedHosts []string
	// Intake maps POST paths of telemetry intake to whether browsers may
	// post cross-origin (the Zipkin collector: yes, as Zipkin's default).
	Intake map[string]bool
	// ReadOrigins may read GET answers cross-origin ("*" for any).
	ReadOrigins []string
}

// csp forbids what a slip in the UI could use to run an attacker's script:
// no inline script, no other origin, no framing, no plugins.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Wrap applies the rules in front of next.
func (sec Security) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Security-Policy", csp)
		if !sec.hostOK(r.Host) {
			writeErr(w, http.StatusForbidden, fmt.Errorf("host %q is not this obs: open it by its address or localhost, or add the name to allowed_hosts", r.Host))
			return
		}
		cors, intake := sec.Intake[r.URL.Path]
		intake = intake && (r.Method == http.MethodPost || r.Method == http.MethodOptions)
		origin := r.Header.Get("Origin")
		if r.Method == http.MethodOptions {
			sec.preflight(w, r, intake && cors)
			return
		}
		if !(intake && sec.Loopback) && r.URL.Path != "/health" && !sec.tokenOK(w, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="obs"`)
			writeErr(w, http.StatusUnauthorized, errors.New("this obs needs its auth token: Authorization: Bearer <token>, or open /?token=<token>"))
			return
		}
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case intake && cors:
			if origin != "" {
				hdr.Set("Access-Control-Allow-Origin", "*")
			}
		case !safe:
			if err := sameOrigin(r); err != nil {
				writeErr(w, http.StatusForbidden, err)
				return
			}
			if !intake && r.Method != http.MethodDelete && !isJSON(r.Header.Get("Content-Type")) {
				writeErr(w, http.StatusUnsupportedMediaType, errors.New("control requests take Content-Type: application/json"))
				return
			}
		case origin != "" && sec.readOrigin(origin):
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

// hostOK refuses Host names that are not this machine's: a page on
// evil.example whose DNS later points at 127.0.0.1 sends Host: evil.example.
func (sec Security) hostOK(host string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if net.ParseIP(name) != nil || strings.EqualFold(name, "localhost") || strings.HasSuffix(strings.ToLower(name), ".localhost") {
		return true
	}
	for _, a := range sec.AllowedHosts {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// tokenOK accepts the token as a bearer header, the obs_token cookie, or
// ?token= (which sets the cookie, so that a link can log a browser in).
func (sec Security) tokenOK(w http.ResponseWriter, r *http.Request) bool {
	if sec.Token == "" {
		return true
	}
	ok := func(v string) bool { return subtle.ConstantTimeCompare([]byte(v), []byte(sec.Token)) == 1 }
	if t := r.URL.Query().Get("token"); t != "" && ok(t) {
		http.SetCookie(w, &http.Cookie{Name: "obs_token", Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		return true
	}
	if c, err := r.Cookie("obs_token"); err == nil && ok(c.Value) {
		return true
	}
	a := r.Header.Get("Authorization")
	return strings.HasPrefix(a, "Bearer ") && ok(strings.TrimPrefix(a, "Bearer "))
}

// sameOrigin refuses a request a browser sent on another site's behalf.
// Browsers send Origin on every cross-origin POST, PUT and DELETE and
// Sec-Fetch-Site on all of them; tools (the CLI, curl) send neither.
func sameOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("cross-site request refused (Sec-Fetch-Site: %s): obs takes changes from its own pages and tools only", site)
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || o == "null" || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("cross-origin request from %s refused: obs takes changes from its own pages and tools only", o)
	}
	return nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func (sec Security) readOrigin(o string) bool {
	return slices.Contains(sec.ReadOrigins, "*") || slices.Contains(sec.ReadOrigins, o)
}

// preflight answers CORS preflights: the collector's (any origin may POST
// spans, as Zipkin allows by default) and configured cross-origin reads.
func (sec Security) preflight(w http.ResponseWriter, r *http.Request, intakeCORS bool) {
	o := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	switch {
	case intakeCORS && method == http.MethodPost:
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, B3, X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled, X-B3-Flags")
		w.Header().Set("Access-Control-Max-Age", "86400")
	case o != "" && (method == http.MethodGet || method == http.MethodHead) && sec.readOrigin(o):
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Methods", "GET")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization")
		w.Header().Add("Vary", "Origin")
	default:
		writeErr(w, http.StatusForbidden, errors.New("cross-origin requests are not allowed here"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// IntakePaths are the telemetry POST routes and whether browsers may post
// to them cross-origin: Zipkin's collector allows any origin by default,
// for zipkin-js in a browser; log events have no browser client.
var IntakePaths = map[string]bool{
	"/api/v2/spans": true,
	"/api/v1/spans": true,
	"/api/logs":     false,
}

// OTLPIntakePaths are OTLP/HTTP's routes on the --otlp-http listener. The
// OpenTelemetry Collector allows no cross-origin POST unless configured,
// and neither does obs: a web page cannot feed it spans.
var OTLPIntakePaths = map[string]bool{
	"/v1/traces":  false,
	"/v1/metrics": false,
	"/v1/logs":    false,
}

// IsLoopback says whether a listen address only takes local connections.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
