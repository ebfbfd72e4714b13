#!/usr/bin/env bash
# axe-core (the accessibility engine the dashboard's browser tests inject) from npm into .local/node.
# Idempotent; needs npm (Debian's `npm` package). Nothing of it is served by the dashboard.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$root/.local/node/node_modules/axe-core/axe.min.js" ]; then
  exit 0
fi
bash "$root/scripts/apt-install.sh" npm npm
npm install --no-save --no-audit --no-fund --prefix "$root/.local/node" axe-core@4.14.1
