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
	f.Add([]byte(`{"name": "s", "checks": [{"name": "c", "type": "http", "endpoint": "http://x/", "status_code": ["200-299", 204, ""]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := Default()
		Parse(b, &cfg) // must not panic
		// The API's definitions go through the same decoder and rules.
		ParseService(b, &cfg, NewServiceNames())
		ParseCheck(b, &cfg, NewServiceNames())
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

func TestAlertingKeysOfCabot(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"users: [{name: a}]\nrotation: {users: [a], period: 1h}\ncalendar: {ical_url: \"https://cal.example/x.ics\"}\n", "calendar.ical_url: set either rotation or calendar.ical_url, not both"},
		{"calendar: {ical_url: \"webcal://x\"}\n", "line 1: calendar.ical_url: want an http(s) URL"},
		{"public_url: obs.example.com\n", "line 1: public_url: want an http(s) URL"},
		{"services:\n  - name: s\n    checks:\n      - {name: p, type: icmp}\n", "line 4: services[0].checks[0].host: an icmp check needs a host"},
		{"services:\n  - name: s\n    checks:\n      - {name: m, type: metric, target: x, check_type: \">\", value: 1, source: graphite}\n", "services[0].checks[0].source: source graphite needs graphite_api"},
		{"services:\n  - name: s\n    checks:\n      - {name: m, type: metric, target: x, check_type: \">\", value: .nan}\n", "value: must be a number, not NaN"},
		{"services:\n  - name: \"a/b\"\n", "needs a name of letters"},
	} {
		cfg := Default()
		err := Parse([]byte(c.yaml), &cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.yaml, err, c.want)
		}
	}
	cfg := Default()
	ok := "users: [{name: Alice}]\ncalendar: {ical_url: \"https://cal.example/x.ics\"}\nfallback: alice\n" +
		"services:\n  - name: s\n    notify: [ALICE]\n    checks:\n      - {name: h, type: http, endpoint: \"http://127.0.0.1:1/\", status_code: \"\"}\n" +
		"      - {name: p, type: icmp, host: 127.0.0.1}\n"
	if err := Parse([]byte(ok), &cfg); err != nil {
		t.Fatal(err)
	}
	if r, _ := ParseStatusCodes(""); len(r) != 1 || r[0] != AnyStatus {
		t.Fatalf("blank status code: %v", r)
	}
}

func TestParseServiceForTheAPI(t *testing.T) {
	cfg := Default()
	cfg.Users = []UserConfig{{Name: "alice"}}
	t.Setenv("OBS_SECRET_FOR_TEST", "leak")
	s, err := ParseService([]byte(`{"name": "x", "url": "${OBS_SECRET_FOR_TEST}", "checks": [{"name": "c", "type": "tcp", "address": "127.0.0.1:1"}]}`), &cfg, NewServiceNames())
	if err != nil || s.URL != "${OBS_SECRET_FOR_TEST}" {
		t.Fatalf("a request must not expand the environment: %+v %v", s, err)
	}
	_, err = ParseService([]byte("name: x\nbogus: 1\n"), &cfg, NewServiceNames())
	if err == nil || !strings.Contains(err.Error(), "line 2: unknown key bogus") {
		t.Fatal(err)
	}
	names := NewServiceNames()
	names.Checks["c"] = true
	if _, err := ParseCheck([]byte(`{"name": "c", "type": "tcp", "address": "127.0.0.1:1"}`), &cfg, names); err == nil || !strings.Contains(err.Error(), `check "c" is defined twice`) {
		t.Fatal(err)
	}
}

func TestValidateStorage(t *testing.T) {
	ok := RemoteConfig{WriteURL: "http://u:pw-secret@vm:8428/api/v1/write", QueryURL: "http://vm:8428"}
	for _, c := range []struct {
		storage string
		r       RemoteConfig
		want    string // "" = valid
	}{
		{"", RemoteConfig{}, ""},
		{"embedded", RemoteConfig{}, ""},
		{"remote", ok, ""},
		{"both", RemoteConfig{WriteURL: ok.WriteURL, QueryURL: ok.QueryURL, Read: "embedded"}, ""},
		{"remote", RemoteConfig{WriteURL: ok.WriteURL, QueryURL: ok.QueryURL, Read: "embedded"}, "remote.read"},
		{"remote", RemoteConfig{WriteURL: "ftp://u:pw-secret@x/"}, "remote.write_url"},
		{"remote", RemoteConfig{WriteURL: ok.WriteURL}, "remote.query_url"},
		{"cloud", ok, "metrics.storage"},
		{"both", RemoteConfig{WriteURL: ok.WriteURL, QueryURL: ok.QueryURL, QueueMaxSize: 10}, "queue_max_size"},
	} {
		err := ValidateStorage("metrics", c.storage, c.r)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %+v: %v", c.storage, c.r, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %+v: got %v, want an error about %s", c.storage, c.r, err, c.want)
		case err != nil && strings.Contains(err.Error(), "pw-secret"):
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// The traces half of scale-out: zipkin.storage and zipkin.remote take the
// metrics rules, and errors name the traces keys.
func TestTracesStorageKeys(t *testing.T) {
	checkParse(t, []struct{ yaml, want string }{
		{"zipkin: {storage: remote, remote: {write_url: \"http://j:9411/api/v2/spans\", query_url: \"http://j:16686\"}}\n", ""},
		{"zipkin: {storage: jaeger}\n", `zipkin.storage: "jaeger" is not embedded, remote or both`},
		{"zipkin: {storage: remote, remote: {write_url: \"http://j:9411/api/v2/spans\"}}\n", "zipkin.remote.query_url"},
		{"zipkin: {storage: remote, remote: {write_url: \"http://j:9411/api/v2/spans\", query_url: \"http://j:16686\", read: embedded}}\n", "zipkin.remote.read"},
	})
}

// otlp.http and otlp.grpc are addresses or "off"; a bad one is named with
// its key and line, an unknown key under otlp too.
func TestOTLPKeys(t *testing.T) {
	cfg := Default()
	if err := Parse([]byte("otlp: {http: \"0.0.0.0:4318\", grpc: \"off\"}\n"), &cfg); err != nil || cfg.OTLP.HTTP != "0.0.0.0:4318" || cfg.OTLP.GRPC != Off {
		t.Fatalf("%v %+v", err, cfg.OTLP)
	}
	if d := Default(); d.OTLP.HTTP != "127.0.0.1:4318" || d.OTLP.GRPC != "127.0.0.1:4317" {
		t.Errorf("defaults %+v", d.OTLP)
	}
	for _, c := range []struct{ yaml, want string }{
		{"otlp:\n  http: 4318\n", `line 2: otlp.http: want host:port or "off", got "4318"`},
		{"otlp:\n  grpc: \"\"\n", `otlp.grpc: want host:port or "off", got ""`},
		{"otlp:\n  htp: 1\n", "unknown key htp"},
	} {
		cfg := Default()
		if err := Parse([]byte(c.yaml), &cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.yaml, err, c.want)
		}
	}
}

// logs.remote.query_kind picks the reader of logs.remote.query_url; a
// wrong kind, a bad index pattern or a kind on another signal is named
// by its key.
func TestLogsQueryKind(t *testing.T) {
	const both = "logs: {storage: both, remote: {write_url: \"http://es:9200/_bulk\", query_url: \"http://es:9200\""
	checkParse(t, []struct{ yaml, want string }{
		{both + "}}\n", ""},
		{both + ", query_kind: victorialogs}}\n", ""},
		{both + ", query_kind: elasticsearch, query_index: \"nodejs-*,old-*\"}}\n", ""},
		{both + ", query_kind: opensearch}}\n", `logs.remote.query_kind: "opensearch" is not victorialogs or elasticsearch`},
		{both + ", query_kind: elasticsearch, query_index: \"nodejs-*/x\"}}\n", "logs.remote.query_index"},
		{"metrics: {storage: remote, remote: {write_url: \"http://vm:8428/api/v1/write\", query_url: \"http://vm:8428\", query_kind: elasticsearch}}\n", "metrics.remote.query_kind"},
	})
}

// checkParse parses each yaml: want "" is no error, else a part of it.
func checkParse(t *testing.T, cases []struct{ yaml, want string }) {
	t.Helper()
	for _, c := range cases {
		cfg := Default()
		err := Parse([]byte(c.yaml), &cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q:\n got %v\nwant %q", c.yaml, err, c.want)
		}
	}
}
