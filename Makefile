# The two commands a newcomer needs: `make run` (start everything on the
# embedded default) and `make test` (the whole suite). See README.md.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install run scenario test test-real lint-bpmn bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start the five services, consumers, relays, scheduler and dev issuer (Ctrl-C stops all).
run: $(STAMP)
	$(BIN)/titles run

## Carry one declaration to a certificate against the running system.
scenario: $(STAMP)
	$(BIN)/titles scenario

## The whole suite; set TEST_POSTGRES_URL and TEST_BROKER_URL to run it on real servers.
test: $(STAMP)
	$(BIN)/pytest

## The suite on the local PostgreSQL and RabbitMQ.
test-real: $(STAMP)
	TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
	TEST_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// $(BIN)/pytest

## bpmnlint (from package-lock.json) on every diagram: no error allowed.
lint-bpmn:
	npm ci --no-audit --no-fund --silent
	npx bpmnlint bpmn/*.bpmn

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

## The whole system's throughput, latency, event lag, growth and profile, beside the raw engine
## (bench/README.md); writes bench/results.md and bench/results.json. BENCH_ARGS passes options.
bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## The same with small sizes (a couple of minutes), written to /tmp/titles-bench-quick.
bench-quick: $(BENCH_STAMP)
	$(BIN)/python bench/run.py --quick --out /tmp/titles-bench-quick $(BENCH_ARGS)

clean:
	rm -rf data .pytest_cache
