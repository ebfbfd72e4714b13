#!/usr/bin/env bash
# Install Debian packages unless a program they provide is already there.
# Usage: apt-install.sh PROGRAM PACKAGE...   (PROGRAM: a command name or an executable's path)
# Idempotent: does nothing when PROGRAM is found. Needs root (or sudo).
set -euo pipefail

program="$1"
shift

if command -v "$program" >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "$@"
"$program" --version 2>/dev/null || "$program" -v  # haproxy knows only -v
