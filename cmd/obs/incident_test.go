package main

import (
	"testing"
	"time"
)

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"web-api":            "web-api",
		"app:x":              "app:x",
		`app:"web-api" or x`: `'app:"web-api" or x'`,
		"it's":               `'it'\''s'`,
		"":                   "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * time.Minute:   "7m",
		150 * time.Minute: "150m",
		4 * time.Hour:     "5h",
		50 * time.Hour:    "3d",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestClipLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"first\nsecond", 10, "first"},
		{"déjà vu déjà vu", 8, "déjà vu…"},
		{"red \x1b[31mtext\x07", 40, "red \uFFFD[31mtext\uFFFD"},
	} {
		if got := clipLine(c.in, c.n); got != c.want {
			t.Errorf("clipLine(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
