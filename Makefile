# The README's commands are `make run`, `make demo` and `make test`.
GO ?= go
FUZZTIME ?= 30s
BENCHTIME ?= 1x
# Extra flags for obs serve (make run) or obs demo (make demo).
ARGS ?=
# The binary make run and make demo start (a test points it at its own).
OBS ?= bin/obs

.PHONY: build run demo test test-go e2e-deps e2e-engines test-engines bench bench-graphite bench-remote bench-otlp fuzz soak clean

# What obs --version prints.
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS = -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# Everything the binary is built from (Go files, embedded UI, dashboards,
# example config): bin/obs is rebuilt only when one of them changes.
SRC := go.mod go.sum $(shell find . \( -name node_modules -o -name testdata -o -path ./e2e -o -path ./bench -o -path ./bin -o -path ./obs-data -o -path ./.git \) -prune -o \
	-type f \( -name '*.go' ! -name '*_test.go' -o -path './web/ui/*' -o -path './dashboards/builtin/*' -o -name obs.example.yaml \) -print)

build: bin/obs

bin/obs: $(SRC)
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/obs

# obs serve with the demo's services declared: `make demo` in a second
# terminal fills every page. Ctrl-C stops obs cleanly.
run: $(OBS)
	$(OBS) serve --demo $(ARGS)

# The seed's web-api and recipe-api, sending to the obs of `make run`.
demo: $(OBS)
	$(OBS) demo $(ARGS)

# The npm clients (log4js, winston, pino...) the end-to-end tests drive.
e2e-deps:
	npm ci --prefix e2e/testdata/node --no-audit --no-fund --loglevel=error

# The engines the scale-out tests run (Thanos, VictoriaMetrics, Jaeger), built from
# the Go module proxy once per machine into ~/.cache/obs-e2e (the first
# build of Thanos takes 15-40 minutes on two cores, Jaeger's 13; later runs
# find them).
e2e-engines:
	OBS_E2E_ENGINES=1 $(GO) test -count=1 -timeout 90m -run '^TestEngineBuilds$$' ./e2e

# The scale-out tests against the real engines alone (make test runs them
# with everything else).
test-engines: e2e-deps e2e-engines
	$(GO) test -count=1 -v -timeout 30m -run 'Remote' ./e2e | grep -E 'figures|^(---|ok|FAIL)'

# make test builds the engines first where this machine has not yet (the
# cache makes it once per machine), so the scale-out tests always run.
test: e2e-deps e2e-engines
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	# The logs intake and store under the race detector (short sizes).
	$(GO) test -race -short -count=1 ./store/logs/... ./ingest/logudp ./ingest/framing ./store/remote/...
	# The span store, the Zipkin collector and the OTLP receiver under the race detector.
	$(GO) test -race -short -count=1 ./store/traces ./ingest/zipkin ./ingest/otlp

# Benchmarks behind the BENCHMARKS.md numbers. Long: the logs ingest run
# alone sustains load for 60 s.
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m ./store/... ./ingest/... ./query/... ./bench/...

# /render time, obs beside graphite-web, for BENCHMARKS.md (needs the
# graphite packages .ci/run installs).
bench-graphite: e2e-deps
	OBS_BENCH_GRAPHITE=1 $(GO) test -count=1 -v -timeout 30m -run '^TestRenderTimeVsGraphite$$' ./e2e | grep -E 'series x|^(---|ok|FAIL)'

# Samples/s and spans/s forwarded to a remote engine beside the embedded stores', in one
# run, for BENCHMARKS.md (builds the engines on first use).
bench-remote:
	OBS_BENCH_REMOTE=1 $(GO) test -count=1 -v -timeout 30m -run '^(TestRemoteWriteThroughput|TestRemoteSpansThroughput|TestRemoteLogsThroughput)$$' ./e2e | grep -E 'figures|^(---|ok|FAIL)'

# OTLP spans/s and log records/s from telemetrygen into obs beside Jaeger v2
# and VictoriaLogs, with each server's CPU per item, for BENCHMARKS.md
# (builds the engines and telemetrygen first where this machine has not).
bench-otlp: e2e-engines
	OBS_BENCH_OTLP=1 $(GO) test -count=1 -v -timeout 30m -run '^TestOTLPThroughputVsPeers$$' ./e2e | grep -E 'figures|^(---|ok|FAIL)'

# Every parser's fuzz target, FUZZTIME each.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./query/kql
	$(GO) test -run '^$$' -fuzz '^FuzzESDSL$$' -fuzztime $(FUZZTIME) ./query/esdsl
	$(GO) test -run '^$$' -fuzz '^FuzzLogsQL$$' -fuzztime $(FUZZTIME) ./query/logsql
	$(GO) test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME) ./ingest/logudp
	$(GO) test -run '^$$' -fuzz '^FuzzReadLines$$' -fuzztime $(FUZZTIME) ./ingest/framing
	$(GO) test -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME) ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzParseCarbon$$' -fuzztime $(FUZZTIME) ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzFlatten$$' -fuzztime $(FUZZTIME) ./store/logs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBlockIndex$$' -fuzztime $(FUZZTIME) ./store/logs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBlock$$' -fuzztime $(FUZZTIME) ./store/logs
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime $(FUZZTIME) ./store/logs
	$(GO) test -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime $(FUZZTIME) ./configs
	$(GO) test -run '^$$' -fuzz '^FuzzCalendar$$' -fuzztime $(FUZZTIME) ./alert/oncall
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./query/graphite
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV2$$' -fuzztime $(FUZZTIME) ./ingest/zipkin
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV1$$' -fuzztime $(FUZZTIME) ./ingest/zipkin
	$(GO) test -run '^$$' -fuzz '^FuzzItems$$' -fuzztime $(FUZZTIME) ./store/remote/esbulk
	$(GO) test -run '^$$' -fuzz '^FuzzIndex$$' -fuzztime $(FUZZTIME) ./store/remote/esbulk
	$(GO) test -run '^$$' -fuzz '^FuzzRebuild$$' -fuzztime $(FUZZTIME) ./store/remote/vlogs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeProto$$' -fuzztime $(FUZZTIME) ./ingest/zipkin
	$(GO) test -run '^$$' -fuzz '^FuzzAnnotationQuery$$' -fuzztime $(FUZZTIME) ./store/traces
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBlock$$' -fuzztime $(FUZZTIME) ./store/traces
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeColumns$$' -fuzztime $(FUZZTIME) ./store/traces
	$(GO) test -run '^$$' -fuzz '^FuzzPairs$$' -fuzztime $(FUZZTIME) ./send
	$(GO) test -run '^$$' -fuzz '^FuzzReadRecord$$' -fuzztime $(FUZZTIME) ./store/remote/queue
	$(GO) test -run '^$$' -fuzz '^FuzzTrace$$' -fuzztime $(FUZZTIME) ./store/remote/jaegerapi
	$(GO) test -run '^$$' -fuzz '^FuzzTraces$$' -fuzztime $(FUZZTIME) ./ingest/otlp
	$(GO) test -run '^$$' -fuzz '^FuzzMetrics$$' -fuzztime $(FUZZTIME) ./ingest/otlp
	$(GO) test -run '^$$' -fuzz '^FuzzLogs$$' -fuzztime $(FUZZTIME) ./ingest/otlp

# The reliability suite at full size (RELIABILITY.md); CI runs it small.
# The disk-full test needs root (it mounts a tmpfs).
soak: e2e-deps
	OBS_SOAK=1 $(GO) test -count=1 -v -timeout 30m -run 'Reliability' ./e2e | grep -E '^(---|ok|FAIL)|figures'

clean:
	rm -rf bin obs-data
