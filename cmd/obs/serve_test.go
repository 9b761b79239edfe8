package main

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/configs"
	"github.com/obs-dev/obs/store/remote/esread"
	"github.com/obs-dev/obs/store/remote/vlogs"
)

func TestCheckExposure(t *testing.T) {
	for addr, wantErr := range map[string]bool{"127.0.0.1:8000": false, "localhost:8000": false, "[::1]:8000": false,
		"0.0.0.0:8000": true, "192.0.2.10:8000": true, ":8000": true} {
		if err := checkExposure("--http", addr, ""); (err != nil) != wantErr {
			t.Errorf("%s without token: %v", addr, err)
		}
		if err := checkExposure("--http", addr, "tok"); err != nil {
			t.Errorf("%s with token: %v", addr, err)
		}
	}
}

// The --traces-* flags set zipkin.storage and zipkin.remote, and a
// missing URL is an error naming its key.
func TestTracesStorageFlags(t *testing.T) {
	run := func(args ...string) (configs.Config, error) { return loadArgs(t, args...) }
	cfg, err := run("--traces-storage", "remote", "--traces-remote-write", "http://j:9411/api/v2/spans",
		"--traces-remote-query", "http://j:16686")
	if err != nil || cfg.Zipkin.Storage != "remote" || cfg.Zipkin.Remote.WriteURL != "http://j:9411/api/v2/spans" ||
		cfg.Zipkin.Remote.QueryURL != "http://j:16686" {
		t.Errorf("flags: %v %+v", err, cfg.Zipkin)
	}
	if _, err := run("--traces-storage", "remote"); err == nil || !strings.Contains(err.Error(), "zipkin.remote.write_url") {
		t.Errorf("remote without URLs: %v", err)
	}
	if _, err := run("--traces-storage", "cloud"); err == nil || !strings.Contains(err.Error(), "zipkin.storage") {
		t.Errorf("unknown storage: %v", err)
	}
}

// --otlp-http and --otlp-grpc set otlp.http and otlp.grpc; "off" turns
// one off; off loopback either needs the token, as the other listeners do.
func TestOTLPFlags(t *testing.T) {
	run := func(args ...string) (configs.Config, error) { return loadArgs(t, args...) }
	cfg, err := run()
	if err != nil || cfg.OTLP.HTTP != "127.0.0.1:4318" || cfg.OTLP.GRPC != "127.0.0.1:4317" {
		t.Errorf("defaults: %v %+v", err, cfg.OTLP)
	}
	t.Setenv("OBS_OTLP_GRPC", "off")
	cfg, err = run("--otlp-http", "127.0.0.1:14318")
	if err != nil || cfg.OTLP.HTTP != "127.0.0.1:14318" || cfg.OTLP.GRPC != "off" {
		t.Errorf("flag and env: %v %+v", err, cfg.OTLP)
	}
	if _, err := run("--otlp-http", "0.0.0.0:4318"); err == nil || !strings.Contains(err.Error(), "--otlp-http 0.0.0.0:4318 is reachable from other machines") {
		t.Errorf("non-loopback without a token: %v", err)
	}
	if _, err := run("--otlp-grpc", "0.0.0.0:4317", "--auth-token", "t"); err != nil {
		t.Errorf("non-loopback with a token: %v", err)
	}
}

// loadArgs is the config obs serve would run with these arguments.
func loadArgs(t *testing.T, args ...string) (configs.Config, error) {
	t.Helper()
	var cfg configs.Config
	var lerr error
	cmd := serveCommand()
	cmd.Action = func(c *cli.Context) error { cfg, lerr = loadConfig(c); return nil }
	app := &cli.App{Commands: []*cli.Command{cmd}}
	if err := app.Run(append([]string{"obs", "serve"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, lerr
}

// --logs-remote-query-kind elasticsearch makes searches read
// Elasticsearch/OpenSearch over logs.index's pattern; a wrong kind names
// its key; without it VictoriaLogs is read, as before.
func TestLogsQueryKindFlag(t *testing.T) {
	base := []string{"--logs-storage", "both", "--logs-remote-write", "http://es:9200/_bulk", "--logs-remote-query", "http://es:9200"}
	cfg, err := loadArgs(t, append(base, "--logs-remote-query-kind", "elasticsearch")...)
	if err != nil || cfg.Logs.Remote.QueryKind != configs.QueryElasticsearch {
		t.Fatalf("%v %q", err, cfg.Logs.Remote.QueryKind)
	}
	rd, err := openLogsReader(cfg, nil, slog.New(slog.DiscardHandler))
	if es, ok := rd.(*esread.Reader); err != nil || !ok || es.String() != "http://es:9200 index nodejs-*" {
		t.Errorf("reader %T %v %v", rd, rd, err)
	}
	cfg, _ = loadArgs(t, base...)
	if rd, err := openLogsReader(cfg, nil, slog.New(slog.DiscardHandler)); err != nil {
		t.Error(err)
	} else if _, ok := rd.(*vlogs.Reader); !ok {
		t.Errorf("default kind reads %T", rd)
	}
	if _, err := loadArgs(t, append(base, "--logs-remote-query-kind", "splunk")...); err == nil || !strings.Contains(err.Error(), "logs.remote.query_kind") {
		t.Errorf("bad kind: %v", err)
	}
}

// A listener that cannot start (its port is taken) ends obs serve with
// an error naming it, after the servers started before it stop; it used
// to hang there, waiting for the Zipkin server to end on a signal.
func TestServeExitsWhenAListenerCannotStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	app := &cli.App{Commands: []*cli.Command{serveCommand()}}
	done := make(chan error, 1)
	go func() {
		done <- app.Run([]string{"obs", "serve", "--data", t.TempDir(), "--http", "127.0.0.1:0",
			"--logs-udp", "127.0.0.1:0", "--statsd", "127.0.0.1:0", "--carbon", "127.0.0.1:0",
			"--zipkin", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", busy.Addr().String()})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "listen otlp http "+busy.Addr().String()) {
			t.Fatalf("want the OTLP listen error, got %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("obs serve still running 60 s after its OTLP port was found taken")
	}
}
