"""Sans-I/O parts of the engine: the bounded input buffer and partial session updates."""

from __future__ import annotations

import pytest

from infra.realtime_engine import config, errors
from infra.realtime_engine.audio_in import MAX_KEPT_S, InputAudio
from voice.audio import silence


def test_a_flood_of_appends_keeps_a_bounded_buffer() -> None:
    audio = InputAudio({"type": "audio/pcmu"}, None)  # manual commit: nothing is consumed by VAD
    second = silence(1000)
    for _ in range(MAX_KEPT_S + 30):
        audio.append(second)
    assert audio.ms == (MAX_KEPT_S + 30) * 1000  # the clock counts everything appended
    kept = audio._ring.end - audio._ring.start
    assert kept <= MAX_KEPT_S * 16000
    start, end, samples = audio.commit()
    assert (start, end) == (0, (MAX_KEPT_S + 30) * 1000)
    assert samples.size <= MAX_KEPT_S * 16000
    audio.append(silence(MAX_KEPT_S * 3 * 1000))  # one huge append is trimmed too
    assert audio._ring.end - audio._ring.start <= MAX_KEPT_S * 16000


def test_pcm_clock_is_48_bytes_per_ms_across_odd_appends() -> None:
    audio = InputAudio({"type": "audio/pcm", "rate": 24000}, None)
    audio.append(b"\x00" * 4801)
    audio.append(b"\x00" * 4799)
    assert audio.ms == 200


def test_partial_updates_keep_the_rest() -> None:
    base = config.default_session("gpt-realtime")
    one = config.apply_update(
        base, {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}}, audio_sent=False
    )
    two = config.apply_update(
        one,
        {
            "type": "realtime",
            "instructions": "Be brief.",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 700}}},
        },
        audio_sent=False,
    )
    assert two["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert two["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700
    assert two["audio"]["input"]["turn_detection"]["prefix_padding_ms"] == 300  # kept
    assert two["instructions"] == "Be brief."
    with pytest.raises(errors.EngineError) as voice:
        config.apply_update(
            two, {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}, audio_sent=True
        )
    assert voice.value.code == "cannot_update_voice"
    with pytest.raises(errors.EngineError) as unknown:
        config.apply_update(
            two,
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_ms": 1}}},
            },
            audio_sent=False,
        )
    assert unknown.value.param == "session.audio.input.turn_detection.silence_ms"
