"""The relay's two paths give the same call: frames the socket callback cannot take (a busy socket)
go through the reader tasks, in order, and nothing is lost or reordered either way."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from infra.testing import isolated_settings
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice import relay
from voice.conversation import ConversationResult, run_conversation
from voice.media_server import MediaServer, MediaStream


@pytest.mark.parametrize("busy_every", [0, 3])  # 0: the callback takes every frame it can
async def test_frames_left_to_the_reader_tasks_arrive_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_every: int
) -> None:
    if busy_every:  # every third check says a socket is busy: that frame and those behind it queue
        ticks = itertools.count(1)
        writable = relay.Relay._writable
        monkeypatch.setattr(
            relay.Relay, "_writable", lambda self: next(ticks) % busy_every != 0 and writable(self)
        )
    async with ToneRealtime(reply_ms=600) as tone_rt:
        settings = isolated_settings(tmp_path, realtime_url=tone_rt.url)
        results: list[ConversationResult] = []
        hooks = RecordingHooks()

        async def handler(stream: MediaStream) -> None:
            results.append(await run_conversation(stream, make_profile(), hooks, settings))

        async with MediaServer(settings, handler=handler):
            token = sign_stream_token("relay-1", settings.stream_secret.get_secret_value())
            driver = TwilioDriver(settings.public_voice_url, call_id="relay-1", token=token)
            await driver.connect()
            for n in range(2):
                await driver.play(tone(500, 180.0 + 40 * n, 12000))
                await driver.silence(1500)
            await driver.dtmf("5")
            await driver.silence(200)
            await driver.hang_up()
            async with asyncio.timeout(10):
                while not results:  # noqa: ASYNC110 - the handler appends when the call is over
                    await asyncio.sleep(0.02)

    (result,) = results
    (session,) = tone_rt.sessions
    assert result.end_reason == "caller_hung_up" and result.malformed_frames == 0
    assert (driver.sent_bytes, driver.sent_crc) == (session.in_bytes, session.in_crc)  # every caller frame
    assert (driver.recv_bytes, driver.recv_crc) == (session.out_bytes, session.out_crc)  # every agent chunk
    assert session.turns == 2 and result.frames_in == driver.chunk
    assert hooks.digits == ["5"]
    assert len(driver.marks_echoed) == len(driver.marks_received) == result.frames_out


def test_only_a_clear_the_callers_speech_caused_counts_as_a_barge_in() -> None:
    """A clear of our own (a transfer line cutting the agent, the wrap-up) is not a barge-in."""
    import json
    from types import SimpleNamespace
    from typing import Any, cast

    from voice.latency import LatencyMeter

    meter = LatencyMeter()
    bridge = SimpleNamespace(on_realtime=lambda event: [])
    nothing: Any = None
    r = relay.Relay(nothing, "MZ1", nothing, cast(Any, bridge), nothing, meter, other=nothing, finish=nothing)
    started = {
        "type": "input_audio_buffer.speech_started",
        "event_id": "e1",
        "item_id": "i1",
        "audio_start_ms": 1000,
    }
    assert r._from_realtime(json.dumps(started), 5_000_000) == ([], False)
    cleared = relay._Batch()
    cleared.clear = True
    r._written(cleared, 5_000_000)  # the clear the caller's speech caused
    r._written(cleared, 9_000_000)  # a cut of our own, later
    assert len(meter.slices.barge_in_to_clear_ms) == 1
