"""Deterministic background noise for simulated callers: white, pink and babble-like.

Each kind is generated once per (kind, seed) as an 8-second loop normalised to a target RMS
level, so the same script always sends the same samples. "Babble" is speech-shaped noise with
several independent syllable-rate envelopes, a cheap stand-in for a café or open-plan office.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from voice.audio import MULAW_RATE, Pcm16, mulaw_decode, mulaw_encode

_LOOP_S = 8
Float = npt.NDArray[np.float64]


def _normalise(x: Float) -> Float:
    rms = float(np.sqrt(np.mean(x**2)))
    return x / rms if rms > 0 else x


def _white(rng: np.random.Generator, n: int) -> Float:
    return rng.standard_normal(n)


def _pink(rng: np.random.Generator, n: int) -> Float:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / MULAW_RATE)
    freqs[0] = freqs[1]
    return np.fft.irfft(spectrum / np.sqrt(freqs), n)


def _babble(rng: np.random.Generator, n: int, talkers: int = 6) -> Float:
    freqs = np.fft.rfftfreq(n, 1.0 / MULAW_RATE)
    # A long-term speech spectrum: a broad peak around 500 Hz, falling off above 1 kHz.
    shape = np.exp(-(((np.log(np.maximum(freqs, 50.0)) - np.log(500.0)) / 0.9) ** 2))
    t = np.arange(n) / MULAW_RATE
    out = np.zeros(n)
    for _ in range(talkers):
        voice = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
        rate = rng.uniform(3.0, 5.5)  # syllables per second
        envelope = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)), 0, None) ** 2
        out += _normalise(voice) * envelope
    return out


_KINDS = {"white": _white, "pink": _pink, "babble": _babble}


@lru_cache(maxsize=16)
def unit_loop(kind: str, seed: int) -> Float:
    """An 8 s loop of the given noise with RMS 1.0 (float, before level scaling)."""
    rng = np.random.default_rng(seed)
    return _normalise(_KINDS[kind](rng, _LOOP_S * MULAW_RATE))


def dbfs_to_rms(level_dbfs: float) -> float:
    return 32768.0 * 10 ** (level_dbfs / 20.0)


class NoiseBed:
    """Mixes noise under 8 kHz μ-law frames, continuing the loop from frame to frame."""

    def __init__(self, kind: str, seed: int, level_dbfs: float) -> None:
        self._loop = unit_loop(kind, seed)
        self._pos = 0
        self.level_dbfs = level_dbfs

    def next(self, n: int) -> Float:
        idx = (self._pos + np.arange(n)) % self._loop.size
        self._pos = (self._pos + n) % self._loop.size
        return self._loop[idx] * dbfs_to_rms(self.level_dbfs)

    def mix(self, frame: bytes) -> bytes:
        pcm = mulaw_decode(frame).astype(np.float64) + self.next(len(frame))
        return mulaw_encode(np.clip(np.round(pcm), -32768, 32767).astype(np.int16))

    def samples(self, n: int) -> Pcm16:
        return np.clip(np.round(self.next(n)), -32768, 32767).astype(np.int16)
