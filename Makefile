# The two commands a newcomer needs: `make run` (start everything on the
# embedded default) and `make test` (the whole suite). See README.md.

# The distribution's Python 3.11 first: Debian builds it with profile-guided and link-time optimisation, as the
# image's python:3.11 is built, where a source build's default (pyenv's) has neither and spends more CPU on the
# same code: the whole system about a tenth, plain Python up to a quarter (bench/results.md, issue 16's seventh
# session). One without ensurepip (Debian's python3.11-venv not installed) cannot make a venv and is passed over.
# PYTHON=... overrides it.
PYTHON ?= $(shell for p in /usr/bin/python3.11 python3.11 python3; do \
	$$p -c 'import ensurepip' 2>/dev/null && command -v $$p && break; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Debian packages of deploy/debian-packages*.txt (the certificate's font and colour profile; poppler and
# SoftHSM for the tests), installed when missing (as root), else named.
DEBIAN_STAMP := $(VENV)/.installed-debian
DEBIAN_LISTS := deploy/debian-packages.txt deploy/debian-packages-test.txt
# Every dependency, transitive ones included, pinned with hashes from pyproject.toml by `make lock`:
# requirements.lock what the image runs, requirements-test.lock that and the `test` extra (make install),
# requirements-dev.lock that and the `fuzz` and `bench` extras (make fuzz, make bench). Each lock is
# resolved within the one before it, so a package has the same version in all three.
LOCK      := requirements.lock
TEST_LOCK := requirements-test.lock
DEV_LOCK  := requirements-dev.lock
UV_VERSION := 0.13.8
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install lock run scenario test test-real test-scale lint-bpmn lint typecheck bench bench-quick fuzz clean

$(STAMP): $(TEST_LOCK) pyproject.toml package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# the console's browser libraries (bpmn-js, Swagger UI) and pdf.js for the certificate test, as package-lock.json pins them
	npm ci --no-audit --no-fund --silent --ignore-scripts
	$(BIN)/python -m services.console.assets
	touch $(STAMP)

$(DEBIAN_STAMP): $(DEBIAN_LISTS) $(STAMP)
	deploy/install-debian-packages $(DEBIAN_LISTS)
	touch $(DEBIAN_STAMP)

install: $(STAMP) $(DEBIAN_STAMP)

## Regenerate the lock files from pyproject.toml after changing a pin there; versions already locked
## are kept unless a pin moved them (LOCK_ARGS=--upgrade takes the newest that the pins allow).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile $(LOCK_FLAGS) pyproject.toml -o $(LOCK)
	$(BIN)/uv pip compile $(LOCK_FLAGS) pyproject.toml --extra test -c $(LOCK) -o $(TEST_LOCK)
	$(BIN)/uv pip compile $(LOCK_FLAGS) pyproject.toml --extra test --extra fuzz --extra bench -c $(TEST_LOCK) -o $(DEV_LOCK)

# Linux and any other platform alike (markers where they differ), Python 3.11 as pyproject.toml requires.
LOCK_FLAGS = --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' $(LOCK_ARGS)

## Start the five services, consumers, relays, scheduler, dev issuer, dev TSA and web console (Ctrl-C stops all).
run: $(STAMP) $(DEBIAN_STAMP)
	$(BIN)/titles run

## Carry one declaration to a certificate against the running system.
scenario: $(STAMP)
	$(BIN)/titles scenario

## The whole suite; set TEST_POSTGRES_URL and TEST_BROKER_URL to run it on real servers.
test: $(STAMP) $(DEBIAN_STAMP)
	$(BIN)/pytest

## The suite on the local PostgreSQL and RabbitMQ.
test-real: $(STAMP) $(DEBIAN_STAMP)
	TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
	TEST_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// $(BIN)/pytest

## Several review workers on a three-node RabbitMQ cluster of its own (the machine's RabbitMQ untouched) and
## PostgreSQL, 100 lifecycles by 8 clients while a node stops and a worker and a scheduler are killed
## (tests/scale/run.py; SCALE_ARGS passes options). Not part of `make test`; .ci/run runs it last.
test-scale: $(STAMP) $(DEBIAN_STAMP)
	$(BIN)/python tests/scale/run.py $(SCALE_ARGS)

## bpmnlint (from package-lock.json) on every diagram: no error allowed; then the layout check
## (no flow through a shape, no label over another, names that fit, left to right).
lint-bpmn: $(STAMP)
	npm ci --no-audit --no-fund --silent
	npx bpmnlint bpmn/*.bpmn
	$(BIN)/titles-bpmn layout --check bpmn/*.bpmn

## mypy on shared/, titles/ and services/ (strict for shared/, titles/ and the review engine; see
## [tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

## ruff: the lint rules and the formatting of every Python file ([tool.ruff] in pyproject.toml);
## `$(BIN)/ruff format .` and `$(BIN)/ruff check --fix .` repair most of what it reports.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# make fuzz and make bench: the test venv and the fuzz and bench extras.
$(DEV_STAMP): $(DEV_LOCK) $(STAMP)
	$(BIN)/python -m pip install --quiet -r $(DEV_LOCK)
	touch $(DEV_STAMP)

## The whole system's throughput, latency, event lag, growth and profile, beside the raw engine
## (bench/README.md); writes bench/results.md and bench/results.json. BENCH_ARGS passes options.
bench: $(DEV_STAMP) $(DEBIAN_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## The same with small sizes (a couple of minutes), written to /tmp/titles-bench-quick.
bench-quick: $(DEV_STAMP) $(DEBIAN_STAMP)
	$(BIN)/python bench/run.py --quick --out /tmp/titles-bench-quick $(BENCH_ARGS)

## schemathesis with every default check on each service, as each demonstration role, against a
## system it starts itself (fuzz/run.py; FUZZ_ARGS passes options, e.g. --examples 20).
fuzz: $(DEV_STAMP)
	$(BIN)/python fuzz/run.py $(FUZZ_ARGS)

clean:
	rm -rf data .pytest_cache
