"""Latency slices on their way to the workflow during the call: stamped on the agent turn that
answered, and carried by the transcript batches (no signal of their own)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry
from temporalio.client import WorkflowHandle

from infra.testing import isolated_settings
from switchboard.messages import TurnBatch
from switchboard.models import LatencySlices, Speaker, Turn
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice.activity import WorkflowHooks
from voice.conversation import ConversationResult, run_conversation
from voice.latency import LatencyMeter
from voice.live_latency import LiveLatency
from voice.media_server import MediaServer, MediaStream
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


class StampingHooks(RecordingHooks):
    """The converse hooks' latency half over a real conversation: slices in, turns stamped."""

    def __init__(self) -> None:
        super().__init__()
        self.live = LiveLatency()

    async def on_turn(self, turn: Turn) -> None:
        await super().on_turn(self.live.stamp(turn))


async def test_in_a_real_conversation_the_answer_carries_the_meters_first_audio_time(tmp_path: Path) -> None:
    hooks = StampingHooks()
    done: asyncio.Future[ConversationResult] = asyncio.get_running_loop().create_future()
    async with ToneRealtime(reply_ms=600) as rt:
        settings = isolated_settings(tmp_path, realtime_url=rt.url)

        async def converse(stream: MediaStream) -> None:
            profile = make_profile("end_call")
            done.set_result(
                await run_conversation(stream, profile, hooks, settings, on_slice=hooks.live.take)
            )

        async with MediaServer(settings, handler=converse):
            secret = settings.stream_secret.get_secret_value()
            d = TwilioDriver(
                settings.public_voice_url, call_id="call-1", token=sign_stream_token("call-1", secret)
            )
            await d.connect()
            await d.silence(100)
            await d.play(tone(600, 220.0, 12000))
            await d.silence(2500)  # the agent answers with a tone, which plays out
            await d.hang_up()
            result = await asyncio.wait_for(done, 20)
    [measured] = result.latency.turn_to_first_audio_ms
    answers = [t for t in hooks.turns if t.speaker == Speaker.AGENT]
    assert answers and answers[0].first_audio_ms == measured
    assert all(t.first_audio_ms is None for t in hooks.turns if t is not answers[0])
