# Switchboard: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACKAGES := switchboard workflows activities voice functions infra evals bench dashboard cli deploy tests
# Build tools, each in a venv of its own under .local/tools so their pins never meet the project's.
TOOLS := .local/tools
UV_VERSION := 0.13.9
SAM_VERSION := 1.170.0
UV := $(TOOLS)/uv/bin/uv
SAM := $(TOOLS)/sam/bin/sam
LAMBDA_FUNCTIONS := FormSubmittedFunction CallStatusFunction InboundCallFunction SmsReceivedFunction
# sam build runs again only when the template or the functions' lock changed (make test calls it).
LAMBDA_STAMP = .local/lambda/sam-build-$(shell cat template.yaml deploy/lambda.lock | sha256sum | cut -c1-16).stamp
# sam validate needs a region and credentials to exist, never to work: it does not reach AWS.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
# The local stack dials at any hour so the demo works whenever it runs; production's default is the
# Australian telemarketing standard (weekdays 9–20, Saturday 9–17). Override: make demo SWITCHBOARD_CALLING_HOURS=au_telemarketing
export SWITCHBOARD_CALLING_HOURS ?= always

.PHONY: install lock chromium axe prometheus haproxy test lint typecheck cfn-lint unit gate up down status demo evals bench clean \
	sam-build sam-validate lambda-artifacts $(addprefix build-,$(LAMBDA_FUNCTIONS))

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Installs requirements.lock (every file hash-checked: the same versions everywhere), then the
# project itself without resolving anything. Again only when pyproject.toml or the lock changed.
$(STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

install: $(STAMP)

$(UV):
	python3 -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install -q uv==$(UV_VERSION)

$(SAM):
	python3 -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install -q aws-sam-cli==$(SAM_VERSION)

# After editing pyproject.toml's dependencies or deploy/lambda.in: every lock afresh from PyPI (uv).
lock: $(UV)
	python3 -m deploy.lock compile --uv $(UV)

# The functions' artifacts (.aws-sam/build/<Function>/), each checked against the size budget.
# sam's makefile builder runs the build-<Function> targets below in this directory (samconfig.toml:
# build_in_source), so the artifacts come from deploy/artifact.py and deploy/lambda.lock.
sam-build: install $(SAM)
	$(SAM_ENV) $(SAM) build
	$(PY) -m deploy.artifact sizes $(addprefix .aws-sam/build/,$(LAMBDA_FUNCTIONS))

sam-validate: $(SAM)
	$(SAM_ENV) $(SAM) validate --lint

$(addprefix build-,$(LAMBDA_FUNCTIONS)):
	@test -n "$(ARTIFACTS_DIR)" || { echo "$@ is sam build's target: run make sam-build"; exit 1; }
	$(PY) -m deploy.artifact lambda --into "$(ARTIFACTS_DIR)"

lambda-artifacts: $(LAMBDA_STAMP)

$(LAMBDA_STAMP):
	$(MAKE) sam-validate sam-build
	@rm -f .local/lambda/sam-build-*.stamp && touch $@

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

# axe-core from npm into .local/node, for the dashboard's accessibility checks (without it the
# browser tests still assert their own checklist: names, keyboard, contrast).
axe:
	bash scripts/install-axe.sh || echo "axe-core not installed: the browser tests use their checklist alone"

# Debian's prometheus and promtool (apt, only when /usr/bin/prometheus is missing): the stack's
# Prometheus (make up) and the alert rules' tests (promtool test rules, in make unit).
prometheus:
	bash scripts/install-prometheus.sh

# Debian's haproxy (apt, only when /usr/sbin/haproxy is missing): the voice workers' load balancer
# in make up (SWITCHBOARD_VOICE_WORKERS, default 2) and in the resume tests and benchmark.
haproxy:
	bash scripts/install-haproxy.sh

unit: install chromium axe prometheus haproxy
	$(VENV)/bin/pytest -q -m "not slow"

# The eval gate (evals/gate.py): the bank's cases a change since REV can break (profiles, tools,
# the workflow, the bridge, the engine; else a smoke set), run against evals/baseline.json. make
# test runs a sample of 3 cases (~1.5 min on 2 cores) and prints what it left out. REV: the merge
# base with origin/main on a branch, HEAD~1 on main, none in a one-commit clone (the smoke set).
gate: install
	$(VENV)/bin/switchboard evals gate --sample 3 --concurrency 3

test: lint typecheck cfn-lint lambda-artifacts unit gate

up: install prometheus haproxy
	$(VENV)/bin/switchboard up

down:
	@if [ -x $(VENV)/bin/switchboard ]; then $(VENV)/bin/switchboard down; else echo "nothing installed, nothing running"; fi

status: install
	$(VENV)/bin/switchboard status

demo: install
	$(VENV)/bin/switchboard demo

# The whole eval bank through the real path (~15 min on 2 cores; scorecard in evals/out/) against
# the baseline (fails on a regression only), and the whole-call tests that `make test` leaves out.
# After a change that fixes or flakes cases on purpose, remake the baseline (~40 min):
#   switchboard evals run --concurrency 3 --repeat 3 --write-baseline
evals: install chromium axe haproxy
	$(VENV)/bin/switchboard evals run --concurrency 3 --baseline
	$(VENV)/bin/pytest -q -m slow

bench: install haproxy
	$(VENV)/bin/python -m bench.bench_workflow
	$(VENV)/bin/python -m bench.bench_bridge
	$(VENV)/bin/python -m bench.bench_bridge --tls
	$(VENV)/bin/python -m bench.bench_engine
	$(VENV)/bin/python -m bench.bench_cold_start
	$(VENV)/bin/python -m bench.bench_codec
	$(VENV)/bin/python -m bench.bench_codec_updates
	$(VENV)/bin/python -m bench.bench_reconnect
	$(VENV)/bin/python -m bench.bench_observability
	$(VENV)/bin/python -m bench.bench_overview
	$(VENV)/bin/python -m bench.bench_resume
	$(VENV)/bin/python -m bench.bench_commands
	$(VENV)/bin/python -m bench.bench_hearing

clean: down
	rm -rf .local .aws-sam .pytest_cache .mypy_cache .ruff_cache
