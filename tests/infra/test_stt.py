from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infra.speech.stt import ModelIntegrityError, Transcriber, model_dir, verify_model
from infra.speech.tts import Synthesizer
from switchboard.config import Settings
from voice.audio import mulaw_decode, resample


def test_model_hash_mismatch_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not whisper")
    with pytest.raises(ModelIntegrityError, match="expected 1a5afae0"):
        verify_model(tmp_path)
    with pytest.raises(ModelIntegrityError):
        Transcriber(directory=tmp_path)


def test_pinned_model_verifies() -> None:
    verify_model(model_dir())


async def test_transcribes_telephone_speech(tts_settings: Settings) -> None:
    tts = Synthesizer(tts_settings.tts_url)
    try:
        mulaw = await tts.mulaw("I would like to book an appointment on Tuesday at three pm.")
    finally:
        await tts.aclose()
    audio = resample(mulaw_decode(mulaw), 8000, 16000).astype(np.float32) / 32768.0
    stt = Transcriber()
    try:
        result = await stt.transcribe(audio)
        empty = await stt.transcribe(np.zeros(16000, np.float32))
    finally:
        stt.close()
    words = result.text.lower().replace(".", "").replace(",", "")
    assert "appointment" in words and "tuesday" in words
    assert "3" in words or "three" in words
    assert empty.text.strip() == ""
