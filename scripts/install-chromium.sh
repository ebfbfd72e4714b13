#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser tests (driven by Playwright via executable_path).
exec "$(dirname "$0")/apt-install.sh" /usr/bin/chromium chromium fonts-dejavu-core
