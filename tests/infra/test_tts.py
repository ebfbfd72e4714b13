from __future__ import annotations

from infra.speech.tts import Synthesizer, split_sentences
from switchboard.config import Settings
from voice.audio import BYTES_PER_MS, mulaw_decode, rms_dbfs


def test_split_sentences() -> None:
    assert split_sentences("Hi there. Is that OK?  Yes!") == ["Hi there.", "Is that OK?", "Yes!"]
    assert split_sentences("Day: Monday; time: 10 AM. Right?") == ["Day: Monday;", "time: 10 AM.", "Right?"]


async def test_piper_process_speaks_mulaw(tts_settings: Settings) -> None:
    tts = Synthesizer(tts_settings.tts_url)
    try:
        audio = await tts.mulaw("Hello, you have reached the clinic.")
        slow = await tts.mulaw("Hello, you have reached the clinic.", length_scale=1.4)
    finally:
        await tts.aclose()
    ms = len(audio) / BYTES_PER_MS
    assert 1000 < ms < 4000
    # A slow talker takes longer. length_scale 1.4 stretches the phonemes, but Piper draws duration noise
    # per synthesis and its edge silence does not stretch: 1.20 to 1.36 times as long across runs.
    assert len(slow) > len(audio) * 1.1
    assert rms_dbfs(mulaw_decode(audio)) > -30  # real speech, not silence
