#!/usr/bin/env bash
# Debian's prometheus (and its promtool) for the local stack's metrics and the alert rules' tests.
# Where systemd runs, the package starts its own prometheus.service on 9090, the port the stack's
# Prometheus takes: stop and disable that one (the stack runs its own, with its own config).
set -euo pipefail
"$(dirname "$0")/apt-install.sh" /usr/bin/prometheus prometheus
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  echo "stopping Debian's prometheus.service: the stack starts its own on 127.0.0.1:9090"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO systemctl disable --now prometheus
fi
