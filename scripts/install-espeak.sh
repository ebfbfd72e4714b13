#!/usr/bin/env bash
# Debian's espeak-ng, used only to render the eval bank's extra caller voices (evals/voices.py).
exec "$(dirname "$0")/apt-install.sh" espeak-ng espeak-ng
