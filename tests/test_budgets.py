"""The seed's latency budget and how a call grades against it on the live view."""

from __future__ import annotations

from switchboard.budgets import FIRST_AUDIO_MS, RED_FACTOR, first_audio_grade, grade
from switchboard.models import LatencySlices


def test_a_turn_is_ok_within_the_budget_amber_over_it_and_red_far_over() -> None:
    assert first_audio_grade(None) == "ok"
    assert first_audio_grade(FIRST_AUDIO_MS) == "ok"
    assert first_audio_grade(FIRST_AUDIO_MS + 1) == "amber"
    assert first_audio_grade(FIRST_AUDIO_MS * RED_FACTOR) == "amber"
    assert first_audio_grade(FIRST_AUDIO_MS * RED_FACTOR + 1) == "red"


def test_a_call_takes_its_worst_slice() -> None:
    assert grade(LatencySlices()) == "ok"
    assert grade(LatencySlices(turn_to_first_audio_ms=[420.0, 650.0])) == "ok"
    assert grade(LatencySlices(turn_to_first_audio_ms=[420.0, 820.0, 500.0])) == "amber"
    assert grade(LatencySlices(turn_to_first_audio_ms=[420.0, 1200.0])) == "red"
    assert grade(LatencySlices(tool_round_trip_ms=[650.0])) == "amber"
    assert grade(LatencySlices(goodbye_heard_to_hangup_ms=[1800.0])) == "amber"
    assert grade(LatencySlices(barge_in_to_clear_ms=[40.0, 260.0])) == "red"  # talked over
    assert grade(LatencySlices(end_intent_to_hangup_ms=[5000.0], realtime_gap_ms=[3000.0])) == "ok"


def test_slices_extend_in_order_and_know_when_empty() -> None:
    slices = LatencySlices(turn_to_first_audio_ms=[500.0])
    assert not slices.empty() and LatencySlices().empty()
    slices.extend(LatencySlices(turn_to_first_audio_ms=[800.0], barge_in_to_clear_ms=[20.0]))
    assert slices == LatencySlices(turn_to_first_audio_ms=[500.0, 800.0], barge_in_to_clear_ms=[20.0])
