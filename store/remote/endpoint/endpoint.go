// Package endpoint is how obs talks HTTP to a remote engine: the URL, its
// credentials (basic auth, a bearer token, extra headers such as a tenant
// id) and a name that is safe to show. Credentials are taken out of the URL
// when it carries them, so that no error, log line or API answer that names
// the engine can show them.
package endpoint

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is one engine endpoint as the config file gives it.
type Config struct {
	URL         string
	Username    string
	Password    string
	BearerToken string
	Headers     map[string]string
	Timeout     time.Duration
}

// Endpoint is a parsed Config.
type Endpoint struct {
	base    *url.URL // without user info
	user    string
	pass    string
	bearer  string
	headers map[string]string
	Client  *http.Client
}

// New parses c. user:password@ in the URL becomes basic auth.
func New(c Config) (*Endpoint, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold a password: name only its shape.
		return nil, errors.New("want an http(s) URL such as http://engine:9090/path")
	}
	e := &Endpoint{user: c.Username, pass: c.Password, bearer: c.BearerToken, headers: c.Headers}
	if u.User != nil {
		if e.user == "" {
			e.user = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && e.pass == "" {
			e.pass = p
		}
		u.User = nil
	}
	e.base = u
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	e.Client = &http.Client{Timeout: timeout, Transport: tr,
		// A redirect would carry the credentials to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e, nil
}

// URL is the base URL joined with path (with its credentials left out;
// Authorize adds them to a request).
func (e *Endpoint) URL(path string) *url.URL {
	u := *e.base
	if path != "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(path, "/")
		u.RawPath = ""
	}
	return &u
}

// Authorize sets the credentials and headers on req.
func (e *Endpoint) Authorize(req *http.Request) {
	for k, v := range e.headers {
		req.Header.Set(k, v)
	}
	if e.user != "" || e.pass != "" {
		req.SetBasicAuth(e.user, e.pass)
	}
	if e.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+e.bearer)
	}
}

// String is scheme://host/path: no credentials, no query (which may carry
// an API key).
func (e *Endpoint) String() string {
	return e.base.Scheme + "://" + e.base.Host + e.base.Path
}

// Redact replaces every credential of e that occurs in s, for error text
// that came from elsewhere (an engine echoing a header back).
func (e *Endpoint) Redact(s string) string {
	for _, secret := range []string{e.pass, e.bearer} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "<secret>")
		}
	}
	for _, v := range e.headers {
		if len(v) >= 8 {
			s = strings.ReplaceAll(s, v, "<secret>")
		}
	}
	if e.base.RawQuery != "" {
		s = strings.ReplaceAll(s, e.base.RawQuery, "<query>")
	}
	return s
}

// Errorf wraps err with what was being done, redacted.
func (e *Endpoint) Errorf(what string, err error) error {
	return &redactedError{msg: e.Redact(fmt.Sprintf("%s %s: %v", what, e, err)), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }
