"""Audio primitives: G.711 μ-law (bit-exact, table driven), resampling, WAV files.

No I/O beyond the WAV helpers, no network. μ-law is 8 kHz, one byte per sample, so
``ms = bytes / 8``; the silence byte is ``0xFF``.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

MULAW_RATE = 8000
MULAW_SILENCE = 0xFF
BYTES_PER_MS = 8  # μ-law at 8 kHz

Pcm16 = npt.NDArray[np.int16]


def _build_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    # The Sun/CCITT reference algorithm on 14-bit magnitudes (bit-exact with CPython's audioop).
    x = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(x), 8159) + 0x21
    seg_end = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    seg = np.searchsorted(seg_end, magnitude, side="left")
    uval = np.where(seg >= 8, 0x7F, (seg << 4) | ((magnitude >> (seg + 1)) & 0x0F))
    return (uval ^ mask).astype(np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()


def mulaw_decode(data: bytes) -> Pcm16:
    """μ-law bytes → int16 PCM samples (same rate)."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """int16 PCM samples → μ-law bytes (same rate)."""
    return _ENCODE[pcm.astype(np.int32) + 32768].tobytes()


def silence(ms: int) -> bytes:
    """μ-law silence of the given length."""
    return bytes([MULAW_SILENCE]) * (ms * BYTES_PER_MS)


def resample(pcm: npt.NDArray[np.int16], src_rate: int, dst_rate: int) -> Pcm16:
    """High-quality resampling of a whole int16 buffer (soxr)."""
    if src_rate == dst_rate or pcm.size == 0:
        return pcm.astype(np.int16, copy=False)
    import soxr  # only the speech stack needs it; the voice worker never resamples

    out = soxr.resample(pcm.astype(np.float32) / 32768.0, src_rate, dst_rate)
    return np.clip(np.round(out * 32768.0), -32768, 32767).astype(np.int16)


def to_mulaw_8k(pcm: npt.NDArray[np.int16], rate: int) -> bytes:
    return mulaw_encode(resample(pcm, rate, MULAW_RATE))


def rms_dbfs(pcm: npt.NDArray[np.int16]) -> float:
    """Loudness of a buffer in dB relative to full scale (−inf for digital silence)."""
    if pcm.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean((pcm.astype(np.float64) / 32768.0) ** 2)))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def read_wav(source: str | Path | bytes) -> tuple[Pcm16, int]:
    """A mono 16-bit WAV → (samples, rate). Stereo is averaged to mono."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    with handle, wave.open(handle, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"expected 16-bit WAV, got {8 * w.getsampwidth()}-bit")
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        channels, rate = w.getnchannels(), w.getframerate()
    if channels > 1:
        frames = frames.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return frames.astype(np.int16, copy=False), rate


def write_wav(path: str | Path, channels: list[Pcm16], rate: int) -> None:
    """Write one or more equal-length int16 channels as an interleaved WAV."""
    length = max((c.size for c in channels), default=0)
    padded = [np.pad(c, (0, length - c.size)) for c in channels]
    interleaved = np.stack(padded, axis=1).astype("<i2") if padded else np.zeros(0, "<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(interleaved.tobytes())
