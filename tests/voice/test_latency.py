"""The per-call latency meter: each slice from the right two events, nothing from the wrong ones."""

from __future__ import annotations

from voice.latency import LatencyMeter

MS = 1_000_000


def test_turn_tool_and_clear_slices() -> None:
    meter = LatencyMeter()
    meter.speech_stopped(0)
    meter.speech_started()  # the caller went on: that pause was not the end of the turn
    meter.agent_audio_sent(50 * MS)
    meter.speech_stopped(100 * MS)
    meter.agent_audio_sent(400 * MS)
    meter.agent_audio_sent(450 * MS)  # later chunks of the same answer are not a new turn
    meter.tool_call_received("c1", 500 * MS)
    meter.tool_output_sent("c1", 530 * MS)
    meter.tool_output_sent("unknown", 540 * MS)
    meter.clear_sent(600 * MS, 601 * MS)
    assert meter.slices.turn_to_first_audio_ms == [300.0]
    assert meter.slices.tool_round_trip_ms == [30.0]
    assert meter.slices.barge_in_to_clear_ms == [1.0]


def test_hangup_with_and_without_the_goodbye() -> None:
    meter = LatencyMeter()
    meter.audio_heard(10 * MS)  # heard before the end intent: not the goodbye
    meter.end_intent(1000 * MS)
    meter.audio_heard(2500 * MS)
    meter.audio_heard(3400 * MS)  # the goodbye's last mark
    meter.stream_closed(3480 * MS)
    assert meter.slices.end_intent_to_hangup_ms == [2480.0]
    assert meter.slices.goodbye_heard_to_hangup_ms == [80.0]


def test_hangup_without_goodbye_audio() -> None:
    meter = LatencyMeter()
    meter.audio_heard(10 * MS)
    meter.end_intent(1000 * MS)
    meter.stream_closed(1100 * MS)
    assert meter.slices.end_intent_to_hangup_ms == [100.0]
    assert meter.slices.goodbye_heard_to_hangup_ms == []
