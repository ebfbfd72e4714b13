"""The two-channel recording: caller at its timestamps, agent where it played, cut where cleared."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voice.audio import mulaw_decode, mulaw_encode, read_wav
from voice.recorder import Recorder


def _tone(ms: int, value: int) -> bytes:
    return mulaw_encode(np.full(ms * 8, value, dtype=np.int16))


def _channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return frames[:, 0], frames[:, 1]


def _level(channel: np.ndarray, start_ms: int, end_ms: int) -> set[int]:
    return set(np.unique(channel[start_ms * 8 : end_ms * 8]).tolist())


def test_agent_audio_is_placed_where_it_played_and_cut_where_cleared(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "call.wav")
    caller, agent = int(mulaw_decode(_tone(1, 1000))[0]), int(mulaw_decode(_tone(1, -2000))[0])
    for ts in range(0, 2000, 20):
        rec.caller_audio(ts, _tone(20, 1000) if ts < 500 else b"\xff" * 160)
        if ts == 600:
            rec.agent_audio(620, _tone(300, -2000))  # sent at 620: plays 620..920
            rec.agent_audio(620, _tone(300, -2000))  # queued behind it: 920..1220
        if ts == 1000:
            rec.clear(1020)  # the caller barged in: 1020..1220 never played
    path = rec.close()
    left, right = _channels(path)
    assert len(left) == 2000 * 8
    assert _level(left, 0, 500) == {caller} and _level(left, 500, 2000) == {0}
    assert _level(right, 0, 620) == {0}
    assert _level(right, 620, 1020) == {agent}
    assert _level(right, 1020, 2000) == {0}
    mono, rate = read_wav(path)
    assert rate == 8000 and len(mono) == len(left)


def test_memory_stays_bounded_over_a_long_call(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "long.wav", max_ahead_ms=5000)
    frame = _tone(20, 500)
    for ts in range(0, 10 * 60 * 1000, 20):  # ten minutes
        rec.caller_audio(ts, frame)
        if ts % 1000 == 0:
            rec.agent_audio(ts, _tone(500, -500))
        assert len(rec._caller) <= 1100 * 8 and len(rec._agent) <= 1600 * 8
    rec.agent_audio(0, _tone(20_000, 1))  # far beyond what may be queued: dropped, counted
    assert rec.dropped_ms == 20_000
    rec.close()
    left, _ = _channels(tmp_path / "long.wav")
    assert len(left) == 600_000 * 8


def test_audio_arriving_after_its_place_was_written_is_dropped(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "late.wav", flush_ms=100)
    for ts in range(0, 400, 20):
        rec.caller_audio(ts, _tone(20, 100))
    rec.caller_audio(0, _tone(20, 100))
    assert rec.dropped_ms == 20
    rec.close()
