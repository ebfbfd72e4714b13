"""A call's recording as segment objects in S3, shipped while the call goes on.

Each segment is a small two-channel 8 kHz 16-bit WAV under the call's prefix,
``recordings/segments/<call_id>/<start_ms>-<host>.wav``, where ``start_ms`` is the segment's start
in *call* time (milliseconds since the call's first media stream started). A call recorded in two
parts on two hosts (after a resume) leaves two runs of segments; :func:`join` lays them on one
timeline and the gap between them is silence. The archive joins them into the call's recording;
``switchboard recording`` joins them itself when the call has not been archived yet; a refusal and
an erasure delete every version of every segment (:func:`delete_versions`).
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterable
from typing import Any

RATE = 8000
FRAME_BYTES = 4  # two channels of 16-bit samples
BYTES_PER_MS = RATE // 1000 * FRAME_BYTES
ROOT = "recordings/segments/"
_KEY = re.compile(r"/(\d{10})-([^/]+)\.wav$")


def segment_prefix(call_id: str) -> str:
    return f"{ROOT}{call_id}/"


def segment_key(call_id: str, start_ms: int, host: str) -> str:
    return f"{segment_prefix(call_id)}{start_ms:010d}-{host}.wav"


def segment_start_ms(key: str) -> int:
    found = _KEY.search(key)
    if found is None:
        raise ValueError("not a recording segment's key")
    return int(found.group(1))


def to_wav(pcm: bytes) -> bytes:
    """Interleaved stereo 16-bit PCM → a WAV file's bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return out.getvalue()


def from_wav(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data)) as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (2, 2, RATE):
            raise ValueError("a recording segment must be 2-channel 16-bit 8 kHz")
        return w.readframes(w.getnframes())


def join(parts: Iterable[tuple[int, bytes]]) -> bytes:
    """Segments ``(start_ms, pcm)`` → one PCM timeline from call time 0; what no segment covers
    (a resume's gap, a lost segment) is silence. Where two overlap, the later start wins."""
    ordered = sorted(parts, key=lambda p: p[0])
    end = max((start * BYTES_PER_MS + len(pcm) for start, pcm in ordered), default=0)
    timeline = bytearray(end)  # zeros: 16-bit silence
    for start, pcm in ordered:
        at = start * BYTES_PER_MS
        timeline[at : at + len(pcm)] = pcm
    return bytes(timeline)


def list_segments(s3: Any, bucket: str, call_id: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=segment_prefix(call_id)):
        keys += [o["Key"] for o in page.get("Contents", []) if _KEY.search(o["Key"])]
    return sorted(keys)


def fetch_joined(s3: Any, bucket: str, call_id: str) -> tuple[bytes, int]:
    """The call's shipped segments joined, as WAV bytes, and how many segments there were."""
    keys = list_segments(s3, bucket, call_id)
    parts = [
        (segment_start_ms(k), from_wav(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys
    ]
    return (to_wav(join(parts)) if parts else b""), len(parts)


def delete_versions(s3: Any, bucket: str, key_or_prefix: str) -> int:
    """Delete every version (and delete marker) of one key, or of every key under a prefix ending
    in ``/``; how many keys were touched."""
    is_prefix = key_or_prefix.endswith("/")
    doomed: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key_or_prefix):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if v["Key"] == key_or_prefix or (is_prefix and v["Key"].startswith(key_or_prefix)):
                doomed.append({"Key": v["Key"], "VersionId": v["VersionId"]})
    for i in range(0, len(doomed), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[i : i + 1000], "Quiet": True})
    return len({d["Key"] for d in doomed})
