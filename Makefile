# nuisance — see README.md. Every target installs what it needs.
SHELL := /bin/bash
GO ?= go
export GOFLAGS ?= -buildvcs=false
# The tests' private PostgreSQL, one per checkout: two checkouts' runs
# would otherwise share one cluster, and the first to finish stops it.
NUISANCE_TEST_PG_DIR ?= /tmp/nuisance-test-pg-$(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
export NUISANCE_TEST_PG_DIR

.PHONY: run test deps test-deps build vet fuzz bench clean distclean

deps:
	@bash scripts/install-deps.sh

# The browser tests need Chromium, the alert rules' tests promtool and the
# Alertmanager configuration's amtool; make test installs them and
# requires them.
test-deps:
	@bash scripts/install-deps.sh --chromium --promtool --amtool

build:
	$(GO) build -o bin/ ./cmd/...

# Built, then run (not `go run`, which turns Ctrl-C's clean stop into an
# error exit).
run: deps
	$(GO) build -o bin/nuisance ./cmd/nuisance
	./bin/nuisance up --demo

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The whole suite against real PostgreSQL (TEST_DATABASE_URL, or a private
# cluster) and real NATS servers started by the tests themselves.
test: test-deps vet
	@set -o pipefail; status=0; export CHROMIUM_REQUIRED=1 PROMTOOL_REQUIRED=1 AMTOOL_REQUIRED=1; \
	$(GO) test -count=1 -timeout 20m ./... || status=$$?; \
	$(GO) test -count=1 -run '^$$' -fuzz FuzzIntakeDecode -fuzztime 400000x -fuzzminimizetime 2s ./services/intake/workorder || status=$$?; \
	$(GO) run ./internal/pgtest/cmd/pgtest-stop >/dev/null 2>&1 || true; \
	exit $$status

# Each new interesting input is minimised for at most 2 s: with the
# default 60 s a run spends most of its time minimising, not fuzzing.
# Fuzzing runs for a number of executions, not a time: Go 1.26's fuzzer
# can report a spurious "context deadline exceeded" when -fuzztime ends
# while a worker is busy (go.dev/issue/75804, fixed in Go 1.27).
# 400,000 executions take 10-15 s here, 10,000,000 about five minutes.
fuzz: deps
	$(GO) test -run '^$$' -fuzz FuzzIntakeDecode -fuzztime 10000000x -fuzzminimizetime 2s ./services/intake/workorder

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
	@mkdir -p $(dir $(PIPEBENCH_OUT))
	$(GO) run ./cmd/pipebench -n $(PIPEBENCH_N) -o $(PIPEBENCH_OUT)

# clean keeps ./var, make run's database, secret and NATS data;
# distclean removes it too.
clean:
	rm -rf bin

distclean: clean
	rm -rf var

# The distributed topology on loopback, without Docker: three clustered
# nats-server processes (the version go.mod pins), PostgreSQL
# (DATABASE_URL, or the private cluster under ./var) and every service as
# its own process. Ctrl-C stops it. e2e/cluster tests the same topology.
.PHONY: cluster cluster-test
cluster: deps
	$(GO) run ./cmd/devcluster

cluster-test: deps
	$(GO) test -count=1 -v -timeout 10m ./e2e/cluster ./deploy/...

# Faults and load of the whole pipeline. chaos is the bounded chaos test
# (also part of make test): kill -9 of every service, a NATS node restart,
# PostgreSQL restarted in immediate mode, NATS stopped for 20 s, then the
# invariants and a search for callers' phones. pipebench replays
# PIPEBENCH_N complaints through the all-in-one and the multi-process
# cluster and writes the markdown table for BENCHMARKS.md to PIPEBENCH_OUT.
PIPEBENCH_N ?= 50000
PIPEBENCH_OUT ?= var/pipebench.md
.PHONY: chaos pipebench
chaos: deps
	$(GO) test -count=1 -v -timeout 10m ./e2e/chaos

pipebench: deps
	@mkdir -p $(dir $(PIPEBENCH_OUT))
	$(GO) run ./cmd/pipebench -n $(PIPEBENCH_N) -o $(PIPEBENCH_OUT)
