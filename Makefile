# Kala Server: build / dev / test entry points. `make help` lists targets.
#
# Without DATABASE_URL / KALA_TEST_DATABASE_URL, `run`, `test`, `bench` and
# `fuzz` use a private PostgreSQL cluster in .data/ (scripts/pg.sh), reachable
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

.PHONY: help build generate check-generated vet fmt-check lint db db-stop test-db \
        run test test-go bench fuzz clean

help: ## list targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
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

fmt-check: ## fail if any Go file outside gen/ is not gofmt'ed
	@files=$$(find . \( -path ./gen -o -path ./.git -o -path ./.data -o -name node_modules \) -prune \
	  -o -name '*.go' -print | xargs -r gofmt -l); \
	if [ -n "$$files" ]; then echo "ERROR: not gofmt'ed (run gofmt -w):" >&2; echo "$$files" >&2; exit 1; fi

lint: fmt-check vet ## gofmt check + go vet

db: ## start the private cluster and create db `kala` (no-op if DATABASE_URL is set)
	@if [ -z "$${DATABASE_URL:-}" ]; then \
	  $(PG) start && $(PG) createdb kala && echo "DATABASE_URL=$$($(PG) url kala)"; \
	fi

db-stop: ## stop the private cluster
	$(PG) stop

test-db: ## start the private cluster with db `kala_test` (no-op if KALA_TEST_DATABASE_URL is set)
	@if [ -z "$${KALA_TEST_DATABASE_URL:-}" ]; then $(PG) start && $(PG) createdb kala_test; fi

run: build db ## build and serve (migrates at start); flags via ARGS=..., config via KALA_* env
	@export DATABASE_URL="$${DATABASE_URL:-$$($(PG) url kala)}"; exec bin/kala serve $(ARGS)

# Full suite. Add further suites as prerequisites, e.g.
#   test: test-e2e
#   test-e2e: build test-db
#   	$(TEST_DB_ENV) npm test
test: test-go ## everything CI runs

test-go: check-generated fmt-check vet test-db ## Go tests
	$(TEST_DB_ENV) $(GO) test -count=1 -timeout 9m ./...

bench: test-db ## benchmarks (BENCH=regexp)
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
