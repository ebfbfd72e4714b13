from __future__ import annotations

import numpy as np

from infra.speech.tts import Synthesizer
from infra.speech.vad import WINDOW_MS, VadStream
from switchboard.config import Settings
from voice.audio import mulaw_decode, resample, silence


def _speech_ranges(stream: VadStream, pcm: np.ndarray, packet: int) -> list[tuple[int, float]]:
    out = []
    for i in range(0, pcm.size, packet):
        out += [(w.end_ms, w.probability) for w in stream.feed(pcm[i : i + packet])]
    return out


async def test_silero_finds_speech_in_telephone_audio(tts_settings: Settings) -> None:
    tts = Synthesizer(tts_settings.tts_url)
    try:
        speech = await tts.mulaw("What is the status of my job, please?")
    finally:
        await tts.aclose()
    speech_ms = len(speech) // 8
    pcm = mulaw_decode(silence(1000) + speech + silence(1000))
    windows = _speech_ranges(VadStream(8000), pcm, packet=160)  # 20 ms packets

    # The streaming resampler holds back a few ms; every window still sits on the input clock.
    assert (2000 + speech_ms) // WINDOW_MS - 4 <= len(windows) <= (2000 + speech_ms) // WINDOW_MS
    assert [ms for ms, _ in windows] == [WINDOW_MS * (i + 1) for i in range(len(windows))]
    voiced = [ms for ms, p in windows if p > 0.5]
    assert voiced, "no speech found"
    assert 1000 <= voiced[0] <= 1200  # onset within ~200 ms of the speech
    assert 1000 + speech_ms - 300 <= voiced[-1] <= 1000 + speech_ms + 200
    assert all(p < 0.2 for ms, p in windows if ms < 950)  # leading silence is silence


async def test_packet_size_and_rate_do_not_change_the_clock(tts_settings: Settings) -> None:
    tts = Synthesizer(tts_settings.tts_url)
    try:
        pcm22, rate = await tts.synthesize("Hello there.")
    finally:
        await tts.aclose()
    pcm24 = resample(pcm22, rate, 24000)
    pcm24 = np.concatenate([np.zeros(24000, np.int16), pcm24, np.zeros(24000, np.int16)])
    small = _speech_ranges(VadStream(24000), pcm24, packet=480)  # 20 ms
    large = _speech_ranges(VadStream(24000), pcm24, packet=2400)  # 100 ms
    assert [ms for ms, _ in small] == [ms for ms, _ in large]
    voiced_small = [ms for ms, p in small if p > 0.5]
    voiced_large = [ms for ms, p in large if p > 0.5]
    assert voiced_small and voiced_small == voiced_large
    assert 1000 <= voiced_small[0] <= 1200
