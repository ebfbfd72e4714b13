"""How a workflow logs an activity's failure: what kind it was, never what it said.

A failure's message can quote the call (a tool's error names the caller, a delivery error the
recipient); the history keeps it encrypted, and a log line is plain text that goes wherever the
logs go. So a log line carries the kind, and ``workflow.logger`` adds the workflow and run ids.
"""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError


def failure_kind(err: ActivityError) -> str:
    """The cause's kind: an ApplicationError's type, a timeout's type, or the exception's class."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError"
    if isinstance(cause, TimeoutError):
        return f"timeout ({cause.type.name if cause.type else 'unknown'})"
    return type(cause or err).__name__
