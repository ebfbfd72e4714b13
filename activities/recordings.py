"""Recording activities, run on the voice host that holds the file (its own task queue), or on the
workflow worker's when that host is gone (a crash: only the shipped segments are left).

The recording was shipped to S3 in segments as the call went (``voice/segments.py``), perhaps from
two hosts; the archive joins them on the call's clock (a gap is silence) into one WAV, or uploads
the local file when nothing was shipped. It is stored with SSE-KMS and the call's metadata and
verified; only then are the local file and every version of the segments deleted. The key is noted
under the caller's scope in the people table (the segments' prefix is, by the shipper), so
``switchboard forget`` finds and deletes them. Without consent, the local file and every shipped
segment are deleted, and the activity records that they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from temporalio import activity

from switchboard import aws
from switchboard.config import Settings
from switchboard.messages import ArchiveInput, ArchiveResult
from switchboard.people import scope_of
from switchboard.recording_segments import delete_versions, fetch_joined, segment_prefix
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
        path = Path(inp.recording_path) if inp.recording_path else None
        # Noted under the caller's scope before it exists, so an erasure always finds it.
        if self.settings.people_table:
            person_keys(self.settings).add_recording(scope_of(inp.call_id), key)
        stored = _size(s3, bucket, key)
        if stored is not None:  # a retry after a verified upload: only the clean-up may be left
            self._clean_up(s3, inp, path)
            return ArchiveResult(key=key, bytes=stored, deleted_local=True)
        body, segments = fetch_joined(s3, bucket, inp.call_id)
        if not segments:
            if path is None or not path.exists():
                return ArchiveResult(key=None, note="nothing was recorded")
            body = path.read_bytes()
        duration_s = inp.duration_s if not segments else (len(body) - 44) / 32000
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
                "duration-s": f"{duration_s:.1f}",
                "segments": str(segments),
            },
        )
        if _size(s3, bucket, key) != len(body):
            raise RuntimeError("the stored recording's size does not match; kept the local file and segments")
        self._clean_up(s3, inp, path)
        if self.on_shipped is not None:
            self.on_shipped(len(body))
        return ArchiveResult(key=key, bytes=len(body), deleted_local=True)

    def _clean_up(self, s3: Any, inp: ArchiveInput, path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)
        delete_versions(s3, self.settings.recordings_bucket, segment_prefix(inp.call_id))

    @activity.defn(name="delete_recording")
    async def delete_recording(self, inp: ArchiveInput) -> ArchiveResult:
        return await asyncio.to_thread(self._delete, inp)

    def _delete(self, inp: ArchiveInput) -> ArchiveResult:
        path = Path(inp.recording_path) if inp.recording_path else None
        existed = path is not None and path.exists()
        if path is not None:
            path.unlink(missing_ok=True)
        s3 = aws.client("s3", self.settings)
        existed = (
            delete_versions(s3, self.settings.recordings_bucket, segment_prefix(inp.call_id)) > 0 or existed
        )
        return ArchiveResult(
            key=None,
            deleted_local=True,
            note="no consent to record: the recording was deleted, not archived"
            if existed
            else "no consent to record: no recording was kept",
        )


def _size(s3: Any, bucket: str, key: str) -> int | None:
    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
