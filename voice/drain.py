"""Deploy, never cut: a voice worker given SIGTERM drains before it exits.

1. ``/healthz`` answers 503 at once, so the load balancer (haproxy locally, the ALB's target group
   in AWS) gives it no new stream; the streams it holds stay where they are.
2. Its live conversations go on to their natural end, and the recordings they leave here are
   archived (or deleted without consent) by the activities its Temporal worker still runs.
3. At the drain timeout (default: the longest profile's maximum call length plus a minute) the
   conversations still live are cancelled: each closes its stream, Twilio runs the ``<Redirect>``
   after ``</Connect>``, and the call resumes on another worker (``workflows/resume.py``).
4. The Temporal worker shuts down gracefully (no task left running on a stopped host), and the
   process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from switchboard.config import Settings
from switchboard.models import Guardrails
from switchboard.profiles import profile_names, read_profile

__all__ = ["ARCHIVE_WAIT_S", "Drain", "drain_timeout_s"]

log = logging.getLogger(__name__)
MARGIN_S = 60.0
ARCHIVE_WAIT_S = 120.0  # after the last call: at most this for its recording (ECS StopTimeout's cap)


def drain_timeout_s(settings: Settings) -> float:
    """The configured drain timeout, else the longest profile's maximum call length plus a minute."""
    if settings.voice_drain_timeout_s is not None:
        return settings.voice_drain_timeout_s
    default = Guardrails.model_fields["max_call_seconds"].default
    longest = max(
        int(read_profile(name).settings.get("guardrails", {}).get("max_call_seconds", default))
        for name in profile_names()
    )
    return longest + MARGIN_S


class Drain:
    """The worker's state while it drains; ``draining`` is what ``/healthz`` reads."""

    def __init__(self, live_calls: Callable[[], int], recordings: Callable[[], set[str]]) -> None:
        self.live_calls = live_calls
        self.recordings = recordings  # the files of calls that ended here, until archived or deleted
        self.draining = False
        self.started = 0.0

    def begin(self) -> None:
        if not self.draining:
            self.draining, self.started = True, time.monotonic()
            log.info("draining: %d live calls", self.live_calls())

    async def wait(self, timeout_s: float, *, poll_s: float = 0.25) -> bool:
        """Until no call is live and their recordings are gone from this disk (archived), or the
        timeout. True when everything ended in time."""
        deadline = self.started + timeout_s
        await _until(lambda: self.live_calls() == 0, deadline, poll_s)
        if self.live_calls() > 0:
            log.warning("drain timeout: %d calls still live go on elsewhere", self.live_calls())
            return False
        archive_by = min(deadline, time.monotonic() + ARCHIVE_WAIT_S)
        await _until(lambda: not self._unarchived(), archive_by, poll_s)
        left = self._unarchived()
        if left:
            log.warning("drained with %d recordings not yet archived", len(left))
        return not left

    def _unarchived(self) -> list[str]:
        found: list[str] = []
        for path in self.recordings():
            with contextlib.suppress(OSError):
                if Path(path).exists():
                    found.append(path)
        return found


async def _until(done: Callable[[], bool], deadline: float, poll_s: float) -> None:
    """Look every ``poll_s`` (counts and files have no event to wait on) until ``done()`` or the deadline."""
    while True:
        if done() or time.monotonic() >= deadline:
            return
        await asyncio.sleep(poll_s)
