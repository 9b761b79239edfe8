# The README's two commands are `make run` and `make test`.
GO ?= go
FUZZTIME ?= 30s
BENCHTIME ?= 1x

.PHONY: build run test test-go e2e-deps e2e-engines bench bench-graphite bench-remote fuzz soak clean

build:
	$(GO) build -o bin/obs ./cmd/obs

run:
	$(GO) run ./cmd/obs serve

# The npm clients (log4js, winston, pino...) the end-to-end tests drive.
e2e-deps:
	npm ci --prefix e2e/testdata/node --no-audit --no-fund --loglevel=error

# The engines the scale-out tests run (Thanos, VictoriaMetrics), built from
# the Go module proxy once per machine into ~/.cache/obs-e2e (the first
# build of Thanos takes 15-40 minutes on two cores; later runs find it).
e2e-engines:
	$(GO) test -count=1 -timeout 90m -run '^TestEngineBuilds$$' ./e2e

test: e2e-deps e2e-engines
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	# The logs intake and store under the race detector (short sizes).
	$(GO) test -race -short -count=1 ./store/logs/... ./ingest/logudp ./ingest/framing ./store/remote/...

# Benchmarks behind the BENCHMARKS.md numbers. Long: the logs ingest run
# alone sustains load for 60 s.
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m ./store/... ./ingest/... ./query/... ./bench/...

# /render time, obs beside graphite-web, for BENCHMARKS.md (needs the
# graphite packages .ci/run installs).
bench-graphite: e2e-deps
	OBS_BENCH_GRAPHITE=1 $(GO) test -count=1 -v -timeout 30m -run '^TestRenderTimeVsGraphite$$' ./e2e | grep -E 'series x|^(---|ok|FAIL)'

# Samples/s forwarded to a remote engine beside the embedded TSDB's, in one
# run, for BENCHMARKS.md (builds the engines on first use).
bench-remote:
	OBS_BENCH_REMOTE=1 $(GO) test -count=1 -v -timeout 30m -run '^TestRemoteWriteThroughput$$' ./e2e | grep -E 'figures|^(---|ok|FAIL)'

# Every parser's fuzz target, FUZZTIME each.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./query/kql
	$(GO) test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME) ./ingest/logudp
	$(GO) test -run '^$$' -fuzz '^FuzzReadLines$$' -fuzztime $(FUZZTIME) ./ingest/framing
	$(GO) test -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME) ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzParseCarbon$$' -fuzztime $(FUZZTIME) ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzFlatten$$' -fuzztime $(FUZZTIME) ./store/logs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBlockIndex$$' -fuzztime $(FUZZTIME) ./store/logs
	$(GO) test -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime $(FUZZTIME) ./configs
	$(GO) test -run '^$$' -fuzz '^FuzzCalendar$$' -fuzztime $(FUZZTIME) ./alert/oncall
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./query/graphite
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV2$$' -fuzztime $(FUZZTIME) ./ingest/zipkin
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV1$$' -fuzztime $(FUZZTIME) ./ingest/zipkin
	$(GO) test -run '^$$' -fuzz '^FuzzAnnotationQuery$$' -fuzztime $(FUZZTIME) ./store/traces
	$(GO) test -run '^$$' -fuzz '^FuzzReadRecord$$' -fuzztime $(FUZZTIME) ./store/remote/queue

# The reliability suite at full size (RELIABILITY.md); CI runs it small.
# The disk-full test needs root (it mounts a tmpfs).
soak: e2e-deps
	OBS_SOAK=1 $(GO) test -count=1 -v -timeout 30m -run 'Reliability' ./e2e | grep -E '^(---|ok|FAIL)|figures'

clean:
	rm -rf bin obs-data
