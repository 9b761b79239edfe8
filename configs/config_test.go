package configs

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExampleLoads(t *testing.T) {
	cfg := Default()
	if err := Parse(Example, &cfg); err != nil {
		t.Fatalf("the example config must load: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("the example documents the defaults; got %+v", cfg)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"logs:\n  udp: 127.0.0.1:7777\n  retension: 7d\n", "line 3: unknown key retension"},
		{"http: 127.0.0.1:8000\nlogs:\n  retention: 7 days\n", `line 3: bad duration "7 days"`},
		{"http: localhost\n", `line 1: http: want host:port, got "localhost"`},
		{"logs:\n  queue_size: -1\n", "line 2: logs.queue_size: must not be negative"},
		{"data: [1, 2]\n", "line 1: cannot unmarshal"},
	} {
		cfg := Default()
		err := Parse([]byte(c.yaml), &cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	os.Setenv("OBS_TEST_PORT", "9123")
	cfg := Default()
	if err := Parse([]byte("http: 127.0.0.1:${OBS_TEST_PORT}\ndata: ${OBS_TEST_UNSET:-/tmp/x}\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:9123" || cfg.Data != "/tmp/x" {
		t.Fatalf("%+v", cfg)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "90s": 90 * time.Second, "1.5h": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "7x", "d", "-1d", "7 d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(Example)
	f.Add([]byte("logs: {udp: 1}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := Default()
		Parse(b, &cfg) // must not panic
	})
}

func TestAlertingErrorsNameKeyAndLine(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"users:\n  - {name: alice, phone: \"555\"}\n", `line 2: users[0].phone: "555" is not an E.164 number`},
		{"services:\n  - name: web\n    checks:\n      - {name: c1, type: htp}\n", `line 4: services[0].checks[0].type: "htp" is not one of http, metric, log, tcp`},
		{"services:\n  - name: web\n    checks:\n      - {name: c1, type: metric, check_type: \">\", value: 1}\n", `services[0].checks[0].target: a metric check needs exactly one of target`},
		{"services:\n  - name: web\n    notify: [zed]\n", `line 3: services[0].notify[0]: no user named "zed"`},
		{"services:\n  - name: web\n    checks:\n      - {name: c1, type: http, endpoint: \"http://x\", status_code: \"300-200\"}\n", `bad status range`},
		{"rotation: {users: [bob], period: 0s}\n", `rotation.users[0]: no user named "bob"`},
	} {
		cfg := Default()
		err := Parse([]byte(c.yaml), &cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.yaml, err, c.want)
		}
	}
}
