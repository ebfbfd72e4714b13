#!/bin/sh
# The hosts' Python environment (the voice and workflow workers): deploy/host.lock, the project's own
# dependencies without [local] or [dev], every file hash-checked; then the project itself, resolving
# nothing. The Dockerfile runs this; so does tests/deploy/test_host_install.py, in a fresh venv.
#
# Usage (from the project's root): sh scripts/install-host.sh VENV
set -eu
venv="$1"
python3 -m venv "$venv"
pip="$venv/bin/python -m pip --disable-pip-version-check"
$pip install --quiet --require-hashes -r deploy/host.lock
$pip install --quiet --no-deps .
