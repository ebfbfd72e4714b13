"""Recording activities, run on the voice host that holds the file (its own task queue).

Upload to S3 with SSE-KMS and the call's metadata, verify the stored object, and only then
delete the local file. The key is noted under the caller's scope in the people table, so
``switchboard forget`` finds and deletes it. Without consent, delete the local file and record that it was deleted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from temporalio import activity

from switchboard import aws
from switchboard.config import Settings
from switchboard.messages import ArchiveInput, ArchiveResult
from switchboard.people import scope_of
from switchboard.temporal import person_keys


def recording_key(inp: ArchiveInput) -> str:
    return f"recordings/{inp.started_at:%Y/%m/%d}/{inp.call_id}.wav"


class RecordingActivities:
    """``on_shipped(bytes)`` hears of each verified upload (the voice worker's metrics)."""

    def __init__(self, settings: Settings, on_shipped: Callable[[int], None] | None = None) -> None:
        self.settings = settings
        self.on_shipped = on_shipped

    @activity.defn(name="archive_recording")
    async def archive_recording(self, inp: ArchiveInput) -> ArchiveResult:
        return await asyncio.to_thread(self._archive, inp)

    def _archive(self, inp: ArchiveInput) -> ArchiveResult:
        s3 = aws.client("s3", self.settings)
        bucket, key = self.settings.recordings_bucket, recording_key(inp)
        path = Path(inp.recording_path)
        # Noted under the caller's scope before it exists, so an erasure always finds it.
        if self.settings.people_table:
            person_keys(self.settings).add_recording(scope_of(inp.call_id), key)
        if not path.exists():  # a retry after a verified upload and delete
            head = s3.head_object(Bucket=bucket, Key=key)
            return ArchiveResult(key=key, bytes=int(head["ContentLength"]), deleted_local=True)
        size = path.stat().st_size
        with path.open("rb") as body:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType="audio/wav",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.settings.recordings_kms_alias,
                Metadata={
                    "call-id": inp.call_id,
                    "profile": inp.profile,
                    "consent": "granted" if inp.consent else "refused",
                    "duration-s": f"{inp.duration_s:.1f}",
                },
            )
        head = s3.head_object(Bucket=bucket, Key=key)
        if int(head["ContentLength"]) != size:
            raise RuntimeError(
                "the stored recording's size does not match the local file; kept the local file"
            )
        os.remove(path)
        if self.on_shipped is not None:
            self.on_shipped(size)
        return ArchiveResult(key=key, bytes=size, deleted_local=True)

    @activity.defn(name="delete_recording")
    async def delete_recording(self, inp: ArchiveInput) -> ArchiveResult:
        path = Path(inp.recording_path)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return ArchiveResult(
            key=None,
            deleted_local=True,
            note="no consent to record: the recording was deleted, not archived"
            if existed
            else "no consent to record: no recording was kept",
        )
