#!/bin/sh
# The hosts' Python environment (the voice and workflow workers), in two steps the Dockerfile runs as
# two layers: `deps`, deploy/host.lock (the project's own dependencies without [local] or [dev], every
# file hash-checked) into a new venv; then `project`, the project itself, resolving nothing.
# tests/deploy/test_host_install.py runs both, in a fresh venv, on a copy of what the Dockerfile copies.
#
# Usage (from the project's root): sh scripts/install-host.sh VENV [deps|project|all]
set -eu
venv="$1"
step="${2:-all}"
pip="$venv/bin/python -m pip --disable-pip-version-check"
case "$step" in
  deps|all)
    python3 -m venv "$venv"
    $pip install --quiet --require-hashes -r deploy/host.lock ;;
esac
case "$step" in
  project|all) $pip install --quiet --no-deps . ;;
esac
