# Kala Server: build / dev / test entry points. `make help` lists targets.
#
# Without DATABASE_URL / KALA_TEST_DATABASE_URL, `run`, `test`, `bench`, `bench-go`
# and `fuzz` use a private PostgreSQL cluster in .data/ (scripts/pg.sh), reachable
# only through a unix socket. `make db-stop` stops it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Steps share the go build cache and gen/; keep them in the listed order.
.NOTPARALLEL:

GO       ?= go
PG       := scripts/pg.sh
FUZZTIME ?= 20s
BENCH    ?= .
ARGS     ?=

# Admin URL for tests: the caller's KALA_TEST_DATABASE_URL, else the private
# cluster's kala_test db. Prefix any command that needs it (see test-go).
TEST_DB_ENV = KALA_TEST_DATABASE_URL="$${KALA_TEST_DATABASE_URL:-$$($(PG) url kala_test)}"

.PHONY: help build generate check-generated vet fmt-check staticcheck lint db db-stop test-db \
        run test test-go bench bench-deps bench-go fuzz clean e2e-deps test-e2e lint-spec sdk-ts generators-deps \
        generate-clients test-generators

help: ## list targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk -F ':.*## ' '{ printf "  %-16s %s\n", $$1, $$2 }'

build: ## build bin/kala
	$(GO) build -o bin/kala ./cmd/kala

generate: ## regenerate gen/ from openapi.yaml
	$(GO) generate ./...

# Compares gen/ before and after regenerating (rather than against git), so it
# also works with uncommitted work; in a fresh CI clone it is the same check.
check-generated: ## fail if gen/ differs from `go generate` output
	@snap() { [ ! -d gen ] || find gen -type f -exec sha256sum {} + | sort -k2; }; \
	before=$$(snap); \
	$(GO) generate ./...; \
	if ! d=$$(diff <(echo "$$before") <(snap)); then \
	  echo "ERROR: gen/ is out of date with openapi.yaml; run 'make generate' and commit gen/." >&2; \
	  echo "$$d" | grep '^[<>]' | awk '{ print "  " $$3 }' | sort -u >&2; \
	  exit 1; \
	fi

vet: ## go vet
	$(GO) vet ./...

# Generated code (*.gen.go, and the clients `make generate-clients` writes) is left as
# its generator writes it; hand-written files in gen/ (example_test.go) are checked like
# any other.
fmt-check: ## fail if any hand-written Go file (not *.gen.go) is not gofmt'ed
	@files=$$(find . \( -path ./.git -o -path ./.data -o -name node_modules \
	  -o -path ./tools/generators/ogen/api \) -prune \
	  -o -name '*.go' ! -name '*.gen.go' -print | xargs -r gofmt -l); \
	if [ -n "$$files" ]; then echo "ERROR: not gofmt'ed (run gofmt -w):" >&2; echo "$$files" >&2; exit 1; fi

staticcheck: ## staticcheck (pinned in go.mod as a tool)
	$(GO) tool staticcheck ./...

lint: fmt-check vet staticcheck ## gofmt check, go vet, staticcheck

SPECTRAL := tools/lint/node_modules/.bin/spectral

# Spectral (version pinned in tools/lint/package-lock.json) against the rules in
# .spectral.yaml, then vacuum (pinned in tools/vacuum/go.mod, built from the Go
# module proxy by `go tool`) against .vacuum.yaml (its recommended rules, with a
# reason for each rule turned off); any error or warning of either fails.
# tools/lint/node_modules comes from the lock file when missing or older than it
# (install scripts off: Spectral needs none, and one of its dependencies would
# phone home). No skipping: without node and npm this fails.
lint-spec: ## lint openapi.yaml with Spectral (.spectral.yaml) and vacuum (.vacuum.yaml); fails on warnings too
	@command -v node >/dev/null || { echo "ERROR: node not found; lint-spec needs Node.js >= 20.19 with npm" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "ERROR: npm not found; lint-spec needs Node.js >= 20.19 with npm" >&2; exit 1; }
	@if [ ! -e tools/lint/node_modules/.package-lock.json ] || [ ! -x $(SPECTRAL) ] || \
	    [ tools/lint/package-lock.json -nt tools/lint/node_modules/.package-lock.json ]; then \
	  npm ci --prefix tools/lint --ignore-scripts --no-audit --no-fund; \
	fi
	$(SPECTRAL) lint openapi.yaml --ruleset .spectral.yaml --fail-severity=warn
	@echo "vacuum lint openapi.yaml --ruleset .vacuum.yaml --fail-severity warn"
	@vacuum() { $(GO) -C tools/vacuum tool vacuum lint -r ../../.vacuum.yaml -b -q --no-update-check \
	  --remote=false -n warn "$$@" ../../openapi.yaml; }; \
	vacuum -x || { vacuum -d -a --no-clip; exit 1; }

db: ## start the private cluster and create db `kala` (no-op if DATABASE_URL is set)
	@if [ -z "$${DATABASE_URL:-}" ]; then \
	  $(PG) start && $(PG) createdb kala && echo "DATABASE_URL=$$($(PG) url kala)"; \
	fi

db-stop: ## stop the private cluster
	$(PG) stop

test-db: ## start the private cluster with db `kala_test` (no-op if KALA_TEST_DATABASE_URL is set)
	@if [ -z "$${KALA_TEST_DATABASE_URL:-}" ]; then $(PG) start && $(PG) createdb kala_test; fi

# ARGS is a kala command line (`kala help`); without a command it serves, so flags
# alone (ARGS='-addr :9090') still mean serve.
run: build db ## build, then run bin/kala $(ARGS) on the private cluster (no command: serve)
	@export DATABASE_URL="$${DATABASE_URL:-$$($(PG) url kala)}"; exec bin/kala $(ARGS)

# Full suite. Add further suites as prerequisites.
test: lint-spec test-go test-e2e test-generators ## everything CI runs

# The bench harness is a module of its own (bench/): its parsing and CPU accounting tests
# need no server.
test-go: check-generated fmt-check vet staticcheck test-db ## Go tests
	$(TEST_DB_ENV) $(GO) test -count=1 -timeout 9m ./...
	$(GO) -C bench vet ./... && $(GO) -C bench test -count=1 ./...

# Browser (Swagger UI at /docs) and TypeScript client tests against a live server on a
# fresh database; see scripts/e2e.sh. Screenshots and the server log: e2e/out/.
test-e2e: build test-db sdk-ts e2e-deps ## e2e: Swagger UI in chromium, the built TypeScript client
	$(TEST_DB_ENV) scripts/e2e.sh

SDK_TS := sdk/typescript

# The TypeScript client package: its node_modules from the lock file when missing or
# older than it (install scripts off: its tools need none), its committed types checked
# against openapi.yaml, then the ESM build with declarations in dist/, which
# e2e/tests/sdk.test.ts imports by the package's name (a file: dependency of e2e/).
sdk-ts: ## build the TypeScript client in sdk/typescript; fail if its types are stale
	@command -v npm >/dev/null || { echo "ERROR: npm not found; sdk-ts needs Node.js >= 20 with npm" >&2; exit 1; }
	@if [ ! -e $(SDK_TS)/node_modules/.package-lock.json ] || \
	    [ $(SDK_TS)/package-lock.json -nt $(SDK_TS)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(SDK_TS) --ignore-scripts --no-audit --no-fund; \
	fi
	npm run --silent --prefix $(SDK_TS) check-schema
	npm run --silent --prefix $(SDK_TS) build

E2E_CHROMIUM := /usr/bin/chromium

# Debian's chromium (playwright's own browser download is not used), and
# e2e/node_modules from the lock file when missing or older than it (install
# scripts off: esbuild, under tsx, needs none). No skipping: if chromium cannot
# be installed this fails.
e2e-deps: ## install the e2e tests' chromium and npm packages
	@if [ ! -x $(E2E_CHROMIUM) ]; then \
	  echo "e2e-deps: $(E2E_CHROMIUM) not found; installing Debian's chromium package" >&2; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium </dev/null; \
	  [ -x $(E2E_CHROMIUM) ] || { echo "ERROR: $(E2E_CHROMIUM) still missing after apt-get install chromium" >&2; exit 1; }; \
	fi
	@command -v npm >/dev/null || { echo "ERROR: npm not found; the e2e tests need Node.js >= 20 with npm" >&2; exit 1; }
	@if [ ! -e e2e/node_modules/.package-lock.json ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then \
	  npm ci --prefix e2e --ignore-scripts --no-audit --no-fund; \
	fi

OGEN_DIR   := tools/generators/ogen
HEYAPI_DIR := tools/generators/ts

# tools/generators/ts/node_modules from its lock file when missing or older than it
# (install scripts off: none is needed).
generators-deps: ## install the pinned @hey-api/openapi-ts (tools/generators/ts)
	@command -v npm >/dev/null || { echo "ERROR: npm not found; test-generators needs Node.js >= 20.19 with npm" >&2; exit 1; }
	@if [ ! -e $(HEYAPI_DIR)/node_modules/.package-lock.json ] || \
	    [ $(HEYAPI_DIR)/package-lock.json -nt $(HEYAPI_DIR)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(HEYAPI_DIR) --ignore-scripts --no-audit --no-fund; \
	fi

# Clients that users generate themselves, from openapi.yaml as it is now, into
# git-ignored folders: ogen (pinned in tools/generators/ogen/go.mod) and
# @hey-api/openapi-ts (pinned in tools/generators/ts/package-lock.json), each
# compiled together with its flow test. oapi-codegen's client is gen/ (test-go:
# impl/kala/sdk_e2e_test.go, impl/kylin/sdk_e2e_test.go); openapi-typescript +
# openapi-fetch is sdk/typescript (test-e2e).
generate-clients: generators-deps ## generate and compile the ogen and @hey-api/openapi-ts clients
	@echo "ogen -> $(OGEN_DIR)/api"
	@log=$$(cd $(OGEN_DIR) && $(GO) tool ogen -clean -package api -target api ../../../openapi.yaml 2>&1) || \
	  { echo "$$log" >&2; exit 1; }
	cd $(OGEN_DIR) && $(GO) vet ./...
	npm run --silent --prefix $(HEYAPI_DIR) generate >/dev/null
	npm run --silent --prefix $(HEYAPI_DIR) typecheck

# The first-hour flow (log in, make a key, who-am-I by header and by query, a Kylin
# Basic query, a Kylin error in its typed shape) with each generated client,
# against a live bin/kala on a fresh database of its own (scripts/e2e.sh).
test-generators: build test-db generate-clients ## run the ogen and @hey-api/openapi-ts clients against a live server
	$(TEST_DB_ENV) KALA_E2E_DB=kala_generators scripts/e2e.sh \
	  bash -c 'cd $(OGEN_DIR) && $(GO) test -count=1 ./... && cd $(CURDIR) && npm test --prefix $(HEYAPI_DIR)'

# Debian's wrk when missing, as pg.sh installs PostgreSQL.
bench-deps: ## install the load generator wrk (Debian's package) when missing
	@if ! command -v wrk >/dev/null; then \
	  echo "bench-deps: wrk not found; installing Debian's wrk package" >&2; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk </dev/null; \
	  command -v wrk >/dev/null || { echo "ERROR: wrk still missing after apt-get install wrk" >&2; exit 1; }; \
	fi

# The harness (its own module in bench/, see docs/performance.md) serves bin/kala on a
# fresh database kala_bench of the test cluster beside a bare net/http baseline and
# PocketBase (built under .data/bench/), drives them with wrk in interleaved rounds, times
# logins during a query flood from its own process, runs the Go benchmarks that measure
# the rest of issue 12, and writes bench/results.md and bench/results.png. About 12
# minutes on 2 cores; BENCH_SECONDS (4) per call per round, BENCH_ROUNDS (5), BENCH_GO=off,
# BENCH_POCKETBASE=off|vX.Y.Z, BENCH_CALLS=regexp, BENCH_FLOOD=off, BENCH_FLOOD_ROUNDS (5),
# BENCH_STEADY=off, BENCH_STEADY_SECONDS (120), BENCH_STEADY_RATE (1500).
bench: build test-db bench-deps ## Kala vs bare net/http vs PocketBase, and issue 12's Go benchmarks -> bench/results.md
	$(TEST_DB_ENV) $(GO) -C bench run . -kala ../bin/kala

bench-go: test-db ## the Go benchmarks alone (BENCH=regexp), -count 5
	$(TEST_DB_ENV) $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 5 -timeout 30m ./...

# `go test -list` prints a package's matching names, then "ok <pkg> ...".
fuzz: test-db ## run every Fuzz* target for FUZZTIME (default 20s) each
	@export $(TEST_DB_ENV); \
	$(GO) test -list '^Fuzz' ./... | \
	  awk '/^Fuzz/ { f = f " " $$1 } /^ok / { if (f != "") print $$2 f; f = "" }' | \
	while read -r pkg targets; do \
	  for t in $$targets; do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "$$pkg" </dev/null; \
	  done; \
	done

clean: ## remove build output
	rm -rf bin/
