"""Ships each live call's recording to S3 as it goes (``switchboard/recording_segments.py``).

The recorder hands over a finished segment (a few seconds of decoded audio) about every
``SEGMENT_MS``; the hand-over only queues it for an uploader process, so the event loop never
waits on S3, nothing is added per media frame, and the upload's own CPU (~2 ms a segment, most of
it botocore) does not compete for the voice worker's GIL. The upload is encrypted with the
recordings' KMS key, as the archive is; the call's segment prefix is noted under the caller's
scope in the people table before its first segment is stored, so an erasure finds it.
``drain(call_id)`` waits until everything queued for a call is stored: the conversation calls it
before it returns, so the archive (perhaps on another host) sees all of it. A crash loses what was
not yet shipped: at most a segment and the upload in flight.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from switchboard import aws
from switchboard.config import Settings
from switchboard.people import scope_of
from switchboard.recording_segments import segment_key, segment_prefix, to_wav
from switchboard.temporal import person_keys

log = logging.getLogger(__name__)
SEGMENT_MS = 5000
ATTEMPTS = 4
NOTED_KEPT = 10_000


class SegmentShipper:
    """One per voice worker: ``processes`` uploader processes (S3's latency, not CPU, needs more
    than one), on the ``cpus`` given (default: the worker's own). ``on_shipped(bytes)`` hears of
    each stored segment (the metrics)."""

    def __init__(
        self,
        settings: Settings,
        *,
        processes: int = 2,
        on_shipped: Callable[[int], None] | None = None,
        cpus: set[int] | None = None,
    ) -> None:
        self.on_shipped = on_shipped
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(settings, cpus),
        )
        self._pending: dict[str, set[Future[int]]] = {}
        self.failed = 0

    def sink(self, call_id: str) -> Callable[[int, bytes], None]:
        """The recorder's ``on_segment`` for one call: ``(call_ms, pcm)`` → queued for upload."""
        return lambda start_ms, pcm: self.ship(call_id, start_ms, pcm)

    def ship(self, call_id: str, start_ms: int, pcm: bytes) -> None:
        future = self._pool.submit(_store, call_id, start_ms, pcm)
        pending = self._pending.setdefault(call_id, set())
        pending.add(future)
        future.add_done_callback(pending.discard)
        future.add_done_callback(self._stored)

    async def drain(self, call_id: str, timeout_s: float = 30.0) -> None:
        """Wait for the call's queued segments to be stored (or to have failed for good)."""
        pending = self._pending.pop(call_id, set())
        if pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in pending], timeout=timeout_s)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _stored(self, future: Future[int]) -> None:
        size = 0 if future.cancelled() or future.exception() is not None else future.result()
        if not size:
            self.failed += 1
        elif self.on_shipped is not None:
            self.on_shipped(size)


# -- in an uploader process -------------------------------------------------------------------

_state: dict[str, Any] = {}


def _start(settings: Settings, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    _state.update(settings=settings, s3=aws.client("s3", settings), people=None, noted=set())
    if settings.people_table:
        _state["people"] = person_keys(settings)


def _store(call_id: str, start_ms: int, pcm: bytes) -> int:
    """Store one segment; its size, or 0 when it could not be stored."""
    s: Settings = _state["settings"]
    noted: set[str] = _state["noted"]
    body = to_wav(pcm)
    for attempt in range(ATTEMPTS):
        try:
            if call_id not in noted and _state["people"] is not None:
                _state["people"].add_recording(scope_of(call_id), segment_prefix(call_id))
                if len(noted) > NOTED_KEPT:
                    noted.clear()
                noted.add(call_id)
            _state["s3"].put_object(
                Bucket=s.recordings_bucket,
                Key=segment_key(call_id, start_ms, s.host),
                Body=body,
                ContentType="audio/wav",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=s.recordings_kms_alias,
                Metadata={"call-id": call_id, "start-ms": str(start_ms), "host": s.host},
            )
        except Exception as exc:  # any failure: try again, then count it
            if attempt == ATTEMPTS - 1:
                log.warning("a recording segment was not shipped (%s)", type(exc).__name__)
                return 0
            time.sleep(0.2 * 2**attempt)
        else:
            return len(body)
    return 0
