"""The recording's waveform for the call page: read from S3 once, reduced to a peak envelope per
channel (caller left, agent right), kept in a small in-process cache keyed by the object's key."""

from __future__ import annotations

import io
import logging
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from switchboard import aws

BUCKETS = 600  # about one per 1.5 px of the drawn lane
CACHED = 64
log = logging.getLogger("switchboard.dashboard")


@dataclass(frozen=True)
class Waveform:
    caller: list[float]
    agent: list[float]
    duration_s: float


def envelope(wav: bytes, buckets: int = BUCKETS) -> Waveform:
    """Each channel's peak per bucket, 0..1, on a square-root scale so that quiet speech still shows."""
    with wave.open(io.BytesIO(wav)) as w:
        channels, rate, frames = w.getnchannels(), w.getframerate(), w.getnframes()
        data = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, channels)
    duration = frames / rate if rate else 0.0
    n = min(buckets, len(data))
    if n == 0:
        return Waveform([], [], duration)
    usable = data[: len(data) // n * n].astype(np.int32)
    peaks = np.abs(usable).reshape(n, -1, channels).max(axis=1) / 32768.0
    scale = max(float(peaks.max()), 1e-6)
    levels = np.sqrt(peaks / scale).round(3)
    caller = levels[:, 0].tolist()
    agent = (levels[:, 1] if channels > 1 else levels[:, 0]).tolist()
    return Waveform(caller, agent, duration)


class Waveforms:
    """Envelopes of archived recordings; a failure to read one is logged (never its content) and drawn without."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._cache: OrderedDict[str, Waveform] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Waveform | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            body = aws.client("s3", self.settings).get_object(Bucket=self.settings.recordings_bucket, Key=key)
            found = envelope(body["Body"].read())
        except Exception as exc:  # botocore's and wave's errors share no useful base here
            log.warning("recording waveform unavailable: %s", type(exc).__name__)
            return None
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return found
