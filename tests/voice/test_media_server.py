"""The media server over real sockets: tokens, bad frames, vanishing callers, ending, the broker."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from infra.testing import isolated_settings
from switchboard.config import Settings
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice.conversation import ConversationCancelled, ConversationResult, run_conversation
from voice.media_server import MediaServer, MediaStream, StreamBroker

SPEECH = tone(600, 220.0, 12000)


@pytest_asyncio.fixture
async def tone_rt() -> AsyncIterator[ToneRealtime]:
    async with ToneRealtime(reply_ms=600, tools={2: ("end_call", {})}) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, tone_rt: ToneRealtime) -> Settings:
    return isolated_settings(tmp_path, realtime_url=tone_rt.url)


class Runner:
    """A media server whose handler runs a conversation per stream and keeps the results."""

    def __init__(self, settings: Settings, hooks: RecordingHooks) -> None:
        self.settings, self.hooks = settings, hooks
        self.results: list[ConversationResult] = []
        self.done = asyncio.Event()

    async def __call__(self, stream: MediaStream) -> None:
        profile = make_profile("end_call")
        self.results.append(await run_conversation(stream, profile, self.hooks, self.settings))
        self.done.set()


def driver(settings: Settings, call_id: str = "call-1", token: str | None = "sign") -> TwilioDriver:
    secret = settings.stream_secret.get_secret_value()
    signed = sign_stream_token(call_id, secret) if token == "sign" else token
    return TwilioDriver(settings.public_voice_url, call_id=call_id, token=signed)


async def test_healthz(settings: Settings) -> None:
    async with MediaServer(settings), httpx.AsyncClient() as http:
        resp = await http.get(f"http://127.0.0.1:{settings.ports.voice}/healthz")
        assert resp.status_code == 200
        assert (await http.get(f"http://127.0.0.1:{settings.ports.voice}/other")).status_code == 404


@pytest.mark.parametrize("token", [None, "", "123.abc", "other-call"])
async def test_bad_or_missing_token_is_closed_with_1008(settings: Settings, token: str | None) -> None:
    if token == "other-call":
        token = sign_stream_token("another-call", settings.stream_secret.get_secret_value())
    runner = Runner(settings, RecordingHooks())
    async with MediaServer(settings, handler=runner) as server:
        d = driver(settings, token=token)
        await d.connect()
        await d.wait_closed(10)
        assert d.close_code == 1008
        assert server.rejected == 1 and server.accepted == 0 and runner.results == []


async def test_malformed_frames_are_counted_and_skipped(settings: Settings, tone_rt: ToneRealtime) -> None:
    runner = Runner(settings, RecordingHooks())
    async with MediaServer(settings, handler=runner):
        d = driver(settings)
        await d.connect()
        await d.silence(100)
        bad_frames: list[str | bytes] = [
            "{",
            '{"event":"media","media":{"timestamp":"x"}}',
            '{"event":"bogus"}',
            b"\x00\x01",
        ]
        for bad in bad_frames:
            await d.send_raw(bad)
        await d.play(SPEECH)
        await d.silence(1500)  # the agent answers with a tone
        await d.hang_up()
        await asyncio.wait_for(runner.done.wait(), 20)
    (result,) = runner.results
    assert result.end_reason == "caller_hung_up"
    assert result.malformed_frames == 4
    assert result.frames_in == d.chunk
    assert d.recv_bytes == tone_rt.sessions[0].out_bytes > 0  # the call went on around the bad frames
    assert tone_rt.sessions[0].in_bytes == d.sent_bytes


async def test_malformed_media_frames_are_counted_and_skipped(
    settings: Settings, tone_rt: ToneRealtime
) -> None:
    """Media frames that fail the fast path (bad timestamp, bad base64) are counted, never forwarded."""
    runner = Runner(settings, RecordingHooks())
    async with MediaServer(settings, handler=runner):
        d = driver(settings)
        await d.connect()
        await d.silence(100)
        bad_frames: list[str | bytes] = [
            '{"event":"media","media":{"timestamp":"-20","payload":"//8="}}',
            '{"event":"media","media":{"timestamp":"120","payload":"//8"}}',  # not strict base64
            '{"event":"media","media":{"timestamp":"120","payload":"//8=//8="}}',  # padding inside
            '{"event":"media","media":{"timestamp":"120","payload":"//8\\u0000"}}',
            '{"event":"media","sequenceNumber":"x","media":{"timestamp":"120","payload":"//8="}}',
        ]
        for bad in bad_frames:
            await d.send_raw(bad)
        await d.play(SPEECH)
        await d.silence(1500)
        await d.hang_up()
        await asyncio.wait_for(runner.done.wait(), 20)
    (result,) = runner.results
    assert result.end_reason == "caller_hung_up"
    assert result.malformed_frames == len(bad_frames)
    assert result.frames_in == d.chunk
    assert tone_rt.sessions[0].in_bytes == d.sent_bytes  # not one byte of the bad frames went on
    assert d.recv_bytes == tone_rt.sessions[0].out_bytes > 0


async def test_caller_vanishing_ends_cleanly_with_the_recording_kept(settings: Settings) -> None:
    hooks = RecordingHooks()
    runner = Runner(settings, hooks)
    async with MediaServer(settings, handler=runner):
        d = driver(settings)
        await d.connect()
        await d.play(SPEECH)
        await d.silence(1200)
        await d.vanish()
        await asyncio.wait_for(runner.done.wait(), 20)
    (result,) = runner.results
    assert result.end_reason == "caller_hung_up"
    assert result.recording_path is not None
    with wave.open(result.recording_path) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        assert w.getnframes() >= (600 + 1200) * 8 * 0.9
    assert [t.text for t in hooks.turns if t.speaker == "caller"] == ["caller turn 1"]


async def test_end_call_lets_the_goodbye_play_then_closes(settings: Settings, tone_rt: ToneRealtime) -> None:
    hooks = RecordingHooks({"end_call": {"action": "end_call"}})
    runner = Runner(settings, hooks)
    async with MediaServer(settings, handler=runner):
        d = driver(settings)
        await d.connect()
        await d.play(SPEECH)
        await d.silence(1500)
        await d.play(SPEECH)  # turn 2: the stand-in calls end_call
        for _ in range(200):
            if d.closed.is_set():
                break
            await d.silence(100)
        await d.wait_closed(10)
    await asyncio.wait_for(runner.done.wait(), 10)
    (result,) = runner.results
    assert result.end_reason == "agent_ended" and d.close_code == 1000
    ((call, cancelled),) = hooks.tool_calls
    assert call.name == "end_call" and not cancelled
    # the goodbye played to its end before the stream closed: every mark was echoed, not cleared
    assert d.clears == [] and set(d.marks_echoed) == set(d.marks_received)
    assert d.recv_bytes == sum(s.out_bytes for s in tone_rt.sessions)
    assert len(result.latency.tool_round_trip_ms) == 1 and len(result.latency.end_intent_to_hangup_ms) == 1
    assert ("end_intent", {"action": "end_call"}) in hooks.events


async def test_broker_hands_the_stream_to_its_claimer(settings: Settings) -> None:
    broker = StreamBroker()
    async with MediaServer(settings, broker):
        d = driver(settings, call_id="call-42")
        await d.connect(params={"lead": "x"})
        call_id, params = await asyncio.wait_for(broker.wait_arrival(), 10)
        assert (call_id, params) == ("call-42", {"call_id": "call-42", "lead": "x"})
        stream = await broker.claim("call-42", 5)
        hooks = RecordingHooks()
        task = asyncio.ensure_future(
            run_conversation(stream, make_profile(), hooks, settings, opening_line="Hello.")
        )
        await d.silence(1500)
        await d.hang_up()
        result = await asyncio.wait_for(task, 10)
    assert result.end_reason == "caller_hung_up"
    assert ("opening_line_done", {}) in hooks.events
    assert [t.text for t in hooks.turns] == ["Hello."]
    with pytest.raises(TimeoutError):
        await broker.claim("never", 0.05)


async def test_cancellation_closes_both_sockets(settings: Settings, tone_rt: ToneRealtime) -> None:
    broker = StreamBroker()
    async with MediaServer(settings, broker):
        d = driver(settings)
        await d.connect()
        stream = await broker.claim("call-1", 10)
        task = asyncio.ensure_future(run_conversation(stream, make_profile(), RecordingHooks(), settings))
        await d.silence(300)
        task.cancel()
        with pytest.raises(ConversationCancelled) as info:
            await task
        await d.wait_closed(5)
    assert info.value.result.end_reason == "cancelled" and d.close_code == 1000
    assert Path(info.value.result.recording_path or "").exists()
    for _ in range(100):
        if tone_rt.sessions[0].ws.close_code is not None:
            break
        await asyncio.sleep(0.02)
    assert tone_rt.sessions[0].ws.close_code == 1000
