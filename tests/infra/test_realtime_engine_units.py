"""Sans-I/O parts of the engine: the bounded input buffer and partial session updates."""

from __future__ import annotations

import pytest

from infra.realtime_engine import config, errors
from infra.realtime_engine.audio_in import MAX_KEPT_S, InputAudio, SpeechStarted, SpeechStopped
from infra.speech.vad import WINDOW_MS
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


# Silero's probabilities, window by window, for a Piper "Yes, that's fine, you can record the call."
# after 10 s of line silence (measured): "Yes," hovers around the threshold (never two windows over
# 0.5 in a row), then a 350 ms pause, then "that's fine" confirms the turn.
YES_THATS_FINE = [0.0, 0.09, 0.5, 0.49, 0.43, 0.31, 0.35, 0.5, 0.44, 0.38, 0.23, 0.15, 0.12, 0.09, 0.06]
YES_THATS_FINE += [0.04, 0.03, 0.02, 0.02, 0.01, 0.02, 0.4, 0.37, 0.37, 0.38, 0.44, 0.39, 0.35, 0.24, 0.19]
YES_THATS_FINE += [0.57, 0.63, 0.67, 0.69, 0.69, 0.66, 0.68, 0.74, 0.81, 0.78]


# The same sentence over the engine's socket (another take): "Yes," and "that's" both soft, and
# blips over the negative threshold inside the pause keep the turn alive as ``_step`` would.
YES_THATS_FINE_SOFT = [0.01, 0.48, 0.57, 0.43, 0.45, 0.29, 0.39, 0.52, 0.38, 0.3, 0.2, 0.15, 0.1, 0.06]
YES_THATS_FINE_SOFT += [0.05, 0.03, 0.03, 0.02, 0.02, 0.28, 0.33, 0.31, 0.31, 0.42, 0.37, 0.29, 0.28, 0.22]
YES_THATS_FINE_SOFT += [0.13, 0.5, 0.6, 0.66, 0.7, 0.7, 0.68, 0.72]


def _turns(probabilities: list[float], silence_ms: int = 500) -> list[object]:
    audio = InputAudio(
        {"type": "audio/pcmu"},
        {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": silence_ms},
    )
    events: list[object] = []
    for i, p in enumerate(probabilities):
        events += audio._step((i + 1) * WINDOW_MS, p)
    return events


@pytest.mark.parametrize(("windows", "yes_at"), [(YES_THATS_FINE, 2), (YES_THATS_FINE_SOFT, 1)])
def test_a_soft_first_word_before_a_short_pause_starts_the_turn(windows: list[float], yes_at: int) -> None:
    lead = 300  # windows of line silence before the caller speaks
    events = _turns([0.0] * lead + windows + [0.7] * 30 + [0.02] * 20)
    started = [e for e in events if isinstance(e, SpeechStarted)]
    assert len(started) == 1 and len([e for e in events if isinstance(e, SpeechStopped)]) == 1
    yes_onset_ms = (lead + yes_at) * WINDOW_MS  # the first window of "Yes" over the negative threshold
    assert started[0].audio_start_ms == yes_onset_ms - 300  # the prefix padding before "Yes"


def test_the_onset_does_not_reach_across_a_turn_ending_pause_or_a_click() -> None:
    lead = 300
    word = [0.45, 0.55, 0.45, 0.4]  # a soft word that never confirmed a turn
    after_long_pause = _turns([0.0] * lead + word + [0.05] * 17 + [0.8] * 10 + [0.02] * 20)  # 544 ms pause
    confirmed_ms = (lead + 4 + 17) * WINDOW_MS
    assert [e.audio_start_ms for e in after_long_pause if isinstance(e, SpeechStarted)] == [
        confirmed_ms - 300
    ]
    click = [0.4]  # one window under the threshold: not a word
    after_click = _turns([0.0] * lead + click + [0.05] * 5 + [0.8] * 10 + [0.02] * 20)
    confirmed_ms = (lead + 1 + 5) * WINDOW_MS
    assert [e.audio_start_ms for e in after_click if isinstance(e, SpeechStarted)] == [confirmed_ms - 300]
