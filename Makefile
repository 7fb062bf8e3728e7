# Mahavishnu Incident Response. `make run` starts everything on one machine; `make test`
# runs the whole test suite (needs PostgreSQL on 127.0.0.1:5432, see README).
GO        ?= go
BIN       := bin/mahavishnu
# The embedded Temporal server makes the binary large; strip symbols for run builds.
LDFLAGS   := -s -w
PKGS      := ./...
# How long `make test` fuzzes each ingest decoder.
FUZZTIME  ?= 10s
# How long each stream of the storm benchmark runs.
BENCH_DURATION ?= 10s

.PHONY: run build test test-unit fuzz bench bench-storm lint histories tidy clean procedures

build:
	$(GO) build -ldflags="$(LDFLAGS)" -o $(BIN) ./cmd/mahavishnu

## run: the embedded Temporal server + Web UI, worker, detector and HTTP API, in the foreground
run: build
	./$(BIN) incidents start

## test: every test, including PostgreSQL, the real embedded Temporal server and replay,
## then a brief fuzz of each ingest decoder
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEvents$$' -fuzztime $(FUZZTIME) ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAlertmanager$$' -fuzztime $(FUZZTIME) ./schemas/

## fuzz: fuzz the ingest decoders for longer, e.g. make fuzz FUZZTIME=5m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEvents$$' -fuzztime $(FUZZTIME) ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAlertmanager$$' -fuzztime $(FUZZTIME) ./schemas/

## bench: benchmarks, results go in docs/benchmarks.md by hand with the machine. The
## storm benchmark (issue 8) runs each stream for BENCH_DURATION against the built binary
## and Prometheus Alertmanager, which scripts/bench-setup.sh installs when missing.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./detector/ ./store/
	$(GO) test -run '^$$' -bench BenchmarkIngestHTTP -benchtime 1000x ./integration/
	$(MAKE) bench-storm

## bench-storm: only the storm benchmark, e.g. make bench-storm BENCH_DURATION=3s
bench-storm:
	./scripts/bench-setup.sh
	MAHAVISHNU_BENCH_DURATION=$(BENCH_DURATION) $(GO) test -run '^$$' -bench '^BenchmarkStorm$$' -benchtime 1x -timeout 60m ./integration/

## lint: formatting, vet, tidy
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

## procedures: the example response procedures (docs/procedures.md) through the built binary,
## with a JUnit report; `make test` runs them too (TestProcedureExamples)
procedures: build
	./$(BIN) --config settings/mahavishnu.yaml procedures test procedures/examples --junit bin/procedures-report.xml

## histories: record workflow histories from real runs on the embedded server into testdata/histories
histories:
	MAHAVISHNU_RECORD_HISTORIES=$(CURDIR)/testdata/histories $(GO) test -count=1 -run 'TestEndToEnd|TestScenarioPaths' ./integration/

clean:
	rm -rf bin data
