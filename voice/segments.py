"""Ships each live call's recording to S3 as it goes (``switchboard/recording_segments.py``).

The recorder hands over a finished segment (a few seconds of decoded audio) about every
``SEGMENT_MS``; the hand-over only queues it for a small thread pool, so the event loop never
waits on S3 and nothing is added per media frame. The upload is encrypted with the recordings' KMS
key, as the archive is; the call's segment prefix is noted under the caller's scope in the people
table before the first segment is stored, so an erasure finds it. ``drain(call_id)`` waits until
everything queued for a call is stored: the conversation calls it before it returns, so the
archive (perhaps on another host) sees all of it. A crash loses what was not yet shipped: at most
a segment and the upload in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from switchboard import aws
from switchboard.config import Settings
from switchboard.people import scope_of
from switchboard.recording_segments import segment_key, segment_prefix, to_wav
from switchboard.temporal import person_keys

log = logging.getLogger(__name__)
SEGMENT_MS = 5000
ATTEMPTS = 4


class SegmentShipper:
    """One per voice worker. ``on_shipped(bytes)`` hears of each stored segment (the metrics)."""

    def __init__(
        self, settings: Settings, *, threads: int = 4, on_shipped: Callable[[int], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_shipped = on_shipped
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="segments")
        self._s3: Any = None
        self._pending: dict[str, set[Future[None]]] = {}
        self._noted: set[str] = set()
        self.failed = 0

    def sink(self, call_id: str) -> Callable[[int, bytes], None]:
        """The recorder's ``on_segment`` for one call: ``(call_ms, pcm)`` → queued for upload."""
        return lambda start_ms, pcm: self.ship(call_id, start_ms, pcm)

    def ship(self, call_id: str, start_ms: int, pcm: bytes) -> None:
        future = self._pool.submit(self._store, call_id, start_ms, pcm)
        pending = self._pending.setdefault(call_id, set())
        pending.add(future)
        future.add_done_callback(pending.discard)

    async def drain(self, call_id: str, timeout_s: float = 30.0) -> None:
        """Wait for the call's queued segments to be stored (or to have failed for good)."""
        pending = self._pending.pop(call_id, set())
        if pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in pending], timeout=timeout_s)
        self._noted.discard(call_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- on the pool's threads -------------------------------------------------------------------

    def _client(self) -> Any:
        if self._s3 is None:  # boto3 clients are thread-safe once made; making one is not
            self._s3 = aws.client("s3", self.settings)
        return self._s3

    def _store(self, call_id: str, start_ms: int, pcm: bytes) -> None:
        s = self.settings
        body = to_wav(pcm)
        for attempt in range(ATTEMPTS):
            try:
                if call_id not in self._noted and s.people_table:
                    person_keys(s).add_recording(scope_of(call_id), segment_prefix(call_id))
                    self._noted.add(call_id)
                self._client().put_object(
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
                    self.failed += 1
                    log.warning("a recording segment was not shipped (%s)", type(exc).__name__)
                    return
                time.sleep(0.2 * 2**attempt)
            else:
                if self.on_shipped is not None:
                    self.on_shipped(len(body))
                return
