# Switchboard: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACKAGES := switchboard workflows activities voice functions infra evals bench dashboard tests
# The local stack dials at any hour so the demo works whenever it runs; production's default is the
# Australian telemarketing standard (weekdays 9–20, Saturday 9–17). Override: make demo SWITCHBOARD_CALLING_HOURS=au_telemarketing
export SWITCHBOARD_CALLING_HOURS ?= always

.PHONY: install chromium test lint typecheck cfn-lint unit up down status demo evals bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Re-installs only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[local,dev]'
	@touch $@

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy $(PACKAGES)

cfn-lint: install
	$(VENV)/bin/cfn-lint template.yaml

# Debian's chromium for the dashboard's browser tests (apt, only when /usr/bin/chromium is missing).
chromium:
	bash scripts/install-chromium.sh

unit: install chromium
	$(VENV)/bin/pytest -q -m "not slow"

test: lint typecheck cfn-lint unit

up: install
	$(VENV)/bin/switchboard up

down:
	@if [ -x $(VENV)/bin/switchboard ]; then $(VENV)/bin/switchboard down; else echo "nothing installed, nothing running"; fi

status: install
	$(VENV)/bin/switchboard status

demo: install
	$(VENV)/bin/switchboard demo

# The whole eval bank through the real path (~15 min on 2 cores; scorecard in evals/out/), and the
# whole-call tests that `make test` leaves out.
evals: install chromium
	$(VENV)/bin/switchboard evals run --concurrency 3
	$(VENV)/bin/pytest -q -m slow

bench: install
	$(VENV)/bin/python -m bench.bench_workflow
	$(VENV)/bin/python -m bench.bench_bridge
	$(VENV)/bin/python -m bench.bench_bridge --tls
	$(VENV)/bin/python -m bench.bench_engine

clean: down
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
