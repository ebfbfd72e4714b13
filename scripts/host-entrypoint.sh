#!/bin/sh
# The host image's entrypoint. A voice worker's task queue is voice-<SWITCHBOARD_HOST>, so each task
# needs a name of its own: unless one is given, it is the task's hostname (unique per Fargate task).
export SWITCHBOARD_HOST="${SWITCHBOARD_HOST:-$(hostname)}"
exec "$@"
