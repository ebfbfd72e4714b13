from __future__ import annotations

from pathlib import Path

import numpy as np

from voice.audio import mulaw_decode, mulaw_encode, read_wav, resample, rms_dbfs, silence, write_wav

# Values of the CCITT reference encoder (the same table as CPython's audioop, checked on all inputs).
REFERENCE = {0: 0xFF, -1: 0x7E, 32632: 0x80, -32768: 0x00, 1000: 0xCE, -1000: 0x4E, 32767: 0x80}


def test_mulaw_matches_g711_reference_points() -> None:
    for sample, byte in REFERENCE.items():
        assert mulaw_encode(np.array([sample], dtype=np.int16)) == bytes([byte]), sample


def test_mulaw_round_trip_is_within_quantisation_error() -> None:
    x = (np.sin(np.linspace(0, 200, 8000)) * 12000).astype(np.int16)
    back = mulaw_decode(mulaw_encode(x))
    assert np.max(np.abs(back.astype(np.int32) - x)) <= 512  # largest step of the top segment / 2
    assert mulaw_decode(silence(20)).tolist() == [0] * 160


def test_resample_and_wav_round_trip(tmp_path: Path) -> None:
    tone = (np.sin(2 * np.pi * 440 * np.arange(22050) / 22050) * 8000).astype(np.int16)
    down = resample(tone, 22050, 8000)
    assert abs(down.size - 8000) <= 2
    assert abs(rms_dbfs(down) - rms_dbfs(tone)) < 0.5
    path = tmp_path / "two.wav"
    write_wav(path, [down, down[:4000]], 8000)
    pcm, rate = read_wav(path)  # stereo is averaged to mono
    assert rate == 8000 and pcm.size == down.size
