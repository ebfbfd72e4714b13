"""Latency slices on their way to the workflow during the call: stamped on the agent turn that
answered, and carried by the transcript batches (no signal of their own)."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import CollectorRegistry
from temporalio.client import WorkflowHandle

from switchboard.messages import TurnBatch
from switchboard.models import LatencySlices, Speaker, Turn
from voice.activity import WorkflowHooks
from voice.latency import LatencyMeter
from voice.live_latency import LiveLatency
from voice.metrics import VoiceMetrics

MS = 1_000_000


class FakeHandle:
    def __init__(self) -> None:
        self.signals: list[tuple[str, Any]] = []

    async def signal(self, name: str, arg: Any) -> None:
        self.signals.append((name, arg))


def caller(text: str) -> Turn:
    return Turn(speaker=Speaker.CALLER, text=text, start_ms=0)


def agent(text: str) -> Turn:
    return Turn(speaker=Speaker.AGENT, text=text, start_ms=0)


def test_the_first_audio_goes_on_the_agent_turn_that_answered_and_only_on_it() -> None:
    live = LiveLatency()
    assert live.stamp(agent("Hello, this call is recorded.")).first_audio_ms is None  # the opening line
    live.take("turn_to_first_audio_ms", 640.5)
    assert live.stamp(caller("I'd like a booking")).first_audio_ms is None  # its transcript came late
    assert live.stamp(agent("Sure, which day?")).first_audio_ms == 640.5
    assert live.stamp(agent("And the time?")).first_audio_ms is None  # a second item of that answer
    live.take("turn_to_first_audio_ms", 900.0)  # an answer cut before a word was heard: no turn
    live.take("turn_to_first_audio_ms", 710.0)
    assert live.stamp(agent("Tuesday then.")).first_audio_ms == 710.0


def test_slices_are_drained_once_and_unknown_fields_ignored() -> None:
    live = LiveLatency()
    assert live.drain() is None
    live.take("turn_to_first_audio_ms", 640.0)
    live.take("barge_in_to_clear_ms", 12.0)
    live.take("not_a_slice_ms", 1.0)
    assert live.drain() == LatencySlices(turn_to_first_audio_ms=[640.0], barge_in_to_clear_ms=[12.0])
    assert live.drain() is None


async def test_hooks_send_the_slices_with_the_next_turns_and_observe_them() -> None:
    handle = FakeHandle()
    metrics = VoiceMetrics(CollectorRegistry(), process=False)
    hooks = WorkflowHooks(cast(WorkflowHandle[Any, Any], handle), metrics, "clinic_booking")
    meter = LatencyMeter(hooks.on_slice)  # as converse wires it
    meter.speech_stopped(0)
    meter.agent_audio_sent(820 * MS)
    await hooks.flush()
    assert handle.signals == []  # slices alone send nothing: they wait for a turn
    await hooks.on_turn(caller("Tuesday at ten"))
    await hooks.on_turn(agent("Tuesday at ten it is."))
    meter.clear_sent(900 * MS, 1150 * MS)
    await hooks.on_turn(agent("Is there anything"))

    batches = [arg for name, arg in handle.signals if name == "add_turns"]
    assert len(batches) == 3 and all(isinstance(b, TurnBatch) for b in batches)
    assert batches[0].latency == LatencySlices(turn_to_first_audio_ms=[820.0])
    assert batches[1].latency is None
    assert batches[1].turns[0].first_audio_ms == 820.0
    assert batches[2].latency == LatencySlices(barge_in_to_clear_ms=[250.0])
    assert batches[2].turns[0].first_audio_ms is None
    histogram = "switchboard_voice_turn_to_first_audio_seconds_sum"
    assert metrics.registry.get_sample_value(histogram, {"profile": "clinic_booking"}) == 0.82
