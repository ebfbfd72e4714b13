#!/usr/bin/env bash
# Debian's espeak-ng, used only to render the eval bank's extra caller voices (evals/voices.py).
# Idempotent: does nothing when espeak-ng is already installed. Needs root (or sudo).
set -euo pipefail

if command -v espeak-ng >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends espeak-ng
espeak-ng --version
