package redact

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example/obs?key=s3cret&x=1": "https://hooks.example/obs?REDACTED",
		"https://user:pw@graphite.example/render":  "https://user:REDACTED@graphite.example/render",
		"https://cal.example/private.ics#tok":      "https://cal.example/private.ics#REDACTED",
		"http://127.0.0.1:8000/services/web-api":   "http://127.0.0.1:8000/services/web-api",
		"http://bad host/%zz?key=s3cret":           "http://bad host/%zz?REDACTED",
		"":                                         "",
	} {
		if got := URL(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestStringScrubsClientErrors(t *testing.T) {
	raw := "http://user:pa55word@127.0.0.1:1/hook?key=s3cret"
	_, err := http.Post(raw, "application/json", strings.NewReader("{}"))
	if err == nil {
		t.Fatal("want an error")
	}
	msg := String(err.Error(), []string{raw}, "tok3n")
	if strings.Contains(msg, "s3cret") || strings.Contains(msg, "pa55word") || !strings.Contains(msg, "127.0.0.1:1/hook") {
		t.Fatalf("%q", msg)
	}
	if got := String(errors.New("auth tok3n refused").Error(), nil, "tok3n"); got != "auth REDACTED refused" {
		t.Fatal(got)
	}
}
