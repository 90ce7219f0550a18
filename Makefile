# dealcycle developer entry points. `make run` starts everything locally; `make test` runs
# the whole suite. Both install what they need on first use and are quick after that.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
# Extra arguments: make test PYTEST_ARGS='-k sqlite -x'; make run RUN_ARGS='...'
PYTEST_ARGS ?=
# make test spreads the test files over this many processes (pytest-xdist; `auto`: one more
# than the CPUs, at least three, since much of the suite waits on servers and real clocks: on
# 2 cores two processes kept 1.1 of them busy and took 322-357 s of pytest, three 1.6 and
# 281 s). Each file's tests stay in one process (--dist loadfile): a module shares one time-skipping test server,
# whose clock is global; --no-loadscope-reorder hands the files out in collection order
# (tests/conftest.py puts the real-clock ones first, then the longest: tests/support/order.py)
# instead of most tests first.
# PYTEST_WORKERS=0 (or PYTEST_ARGS='-n0') runs all in one process. A test process that dies
# (a segfault) ends the run with its test named, not a replacement: xdist 3.8's --dist loadfile
# can wait for ever after replacing a crashed process (pytest-xdist#1378; seen here once).
PYTEST_WORKERS ?= auto
RUN_ARGS ?=
BENCH_ARGS ?=
CHAOS_ARGS ?=
LOCK_ARGS ?=
# Type-checked code; worker.py only once it exists, so a partial checkout still lints.
MYPY_TARGETS := schemas workflows activities starter dealcycle tools bench $(wildcard worker.py)

# `auto` is the CPU count plus one, but never under three.
test_workers = $(if $(filter auto,$(PYTEST_WORKERS)),$(shell n=$$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2); [ "$$n" -lt 2 ] && n=2; echo $$((n + 1))),$(PYTEST_WORKERS))

.PHONY: help bootstrap lock run test lint bench chaos clean temporal-cli test-server postgres chromium

help:
	@echo "make run     start the Temporal dev server, the fakes, the worker and the demo"
	@echo "make test    run the tests (PYTEST_ARGS='...' passes arguments to pytest)"
	@echo "make lint    ruff and mypy"
	@echo "make lock    rewrite the dependency lock (LOCK_ARGS=--upgrade for newer versions)"
	@echo "make bench   run the benchmarks (bench/)"
	@echo "make chaos   the chaos suite: worker kills and injected faults under load (minutes)"
	@echo "make clean   remove .dealcycle (local state, tools, databases) and .venv"

bootstrap:
	@scripts/bootstrap

# Rewrite uv.lock and the hash-pinned requirements*.lock after a dependency change (README).
lock:
	@scripts/lock $(LOCK_ARGS)

temporal-cli:
	@scripts/ensure-temporal-cli

test-server:
	@scripts/install-test-server

postgres:
	@scripts/ensure-postgres

# Debian's chromium, for the real-browser test of the sandbox Slack page (Playwright drives it;
# no browser is downloaded).
chromium:
	@scripts/ensure-chromium

run: bootstrap temporal-cli
	$(VENV)/bin/dealcycle run $(RUN_ARGS)

test: bootstrap temporal-cli test-server postgres chromium
	$(VENV)/bin/pytest -n $(call test_workers) --dist loadfile --no-loadscope-reorder --max-worker-restart=0 $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(MYPY_TARGETS)

bench: bootstrap
	@if [ -f bench/__main__.py ]; then \
	  $(PYTHON) -m bench $(BENCH_ARGS); \
	elif [ -f bench/run.py ]; then \
	  $(PYTHON) bench/run.py $(BENCH_ARGS); \
	else \
	  echo "no benchmarks yet (bench/__main__.py or bench/run.py)"; \
	fi

chaos: bootstrap temporal-cli postgres
	$(PYTHON) -m tools.chaos $(CHAOS_ARGS)

clean:
	@echo "removing .dealcycle (local server state, installed tools, test databases) and .venv"
	@scripts/stop-local-services
	rm -rf .dealcycle $(VENV)
