#!/usr/bin/env bash
# Debian's haproxy: the local stack's websocket load balancer in front of the voice workers (it
# stands in for the ALB). Where systemd runs, the package starts its own haproxy.service with
# Debian's config: stop and disable that one (the stack runs its own, with its own config).
set -euo pipefail
"$(dirname "$0")/apt-install.sh" /usr/sbin/haproxy haproxy
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet haproxy 2>/dev/null; then
  echo "stopping Debian's haproxy.service: the stack starts its own"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO systemctl disable --now haproxy
fi
