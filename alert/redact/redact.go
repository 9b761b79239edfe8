// Package redact keeps secrets that live inside configured values (a
// webhook URL's query string, a basic-auth password in a URL) out of what
// obs shows: API answers, logs and error messages.
package redact

import (
	"net/url"
	"strings"
)

// Mask stands in for a secret that was removed.
const Mask = "REDACTED"

// URL returns s with its query string, fragment and password replaced by
// Mask: Slack-style and many other webhooks carry their key there.
func URL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: keep what comes before anything that may be secret.
		if i := strings.IndexAny(s, "?#@"); i >= 0 {
			return s[:i] + "?" + Mask
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = Mask, false
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = Mask, ""
	}
	return u.String()
}

// Secret shows whether a secret is set without showing it.
func Secret(s string) string {
	if s == "" {
		return ""
	}
	return Mask
}

// String removes from msg every secret part of each URL (its query
// string, its password, the whole URL as written) and each other secret,
// as an error from an HTTP client repeats the URL it failed to reach.
func String(msg string, urls []string, secrets ...string) string {
	for _, raw := range urls {
		if raw == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, raw, URL(raw))
		if u, err := url.Parse(raw); err == nil {
			if u.RawQuery != "" {
				msg = strings.ReplaceAll(msg, "?"+u.RawQuery, "?"+Mask)
			}
			if p, ok := u.User.Password(); ok && p != "" {
				secrets = append(secrets, p, url.QueryEscape(p))
			}
		}
	}
	for _, s := range secrets {
		if len(s) >= 3 { // shorter strings would mangle ordinary text
			msg = strings.ReplaceAll(msg, s, Mask)
		}
	}
	return msg
}

// Origin keeps only a URL's scheme and host, for addresses whose path is
// the secret (a calendar's private feed address).
func Origin(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Mask
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/" + Mask
	}
	return out
}
