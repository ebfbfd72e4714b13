"""A live call survives its Realtime session, over real sockets: the voice worker's media server, a
Twilio-like driver and the tone Realtime stand-in, whose sessions are lost at chosen moments.

Each test loses a session in a different way (an abrupt socket loss while the agent speaks, while
the caller speaks, during a tool call; ``session_expired``; every reconnect refused) or rolls one
over, and checks what the caller hears and what the new session is told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.realtime_engine.client_events import parse_frame
from infra.testing import isolated_settings
from switchboard.config import Settings
from switchboard.models import ToolCall, ToolResult
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, ToneSession, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice import conversation as conversation_module
from voice.conversation import ConversationResult, run_conversation
from voice.media_server import MediaServer, MediaStream


@dataclass
class Call:
    driver: TwilioDriver
    rt: ToneRealtime
    hooks: RecordingHooks
    results: list[ConversationResult]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [data for n, data in self.hooks.events if n == name]

    async def result(self) -> ConversationResult:
        async with asyncio.timeout(15):
            while not self.results:  # noqa: ASYNC110 - the handler appends when the call is over
                await asyncio.sleep(0.02)
        return self.results[0]

    async def until(self, what: Callable[[], bool], timeout_s: float = 8.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not what():  # noqa: ASYNC110
                await asyncio.sleep(0.01)


@asynccontextmanager
async def call(
    tmp_path: Path, hooks: RecordingHooks | None = None, *, tool_names: tuple[str, ...] = (), **options: Any
) -> AsyncIterator[Call]:
    settings_over = {k: options.pop(k) for k in list(options) if k.startswith("realtime_")}
    async with ToneRealtime(reply_ms=1500, **options) as rt:
        settings: Settings = isolated_settings(tmp_path, realtime_url=rt.url, **settings_over)
        results: list[ConversationResult] = []
        hooks = hooks or RecordingHooks()
        profile = make_profile(*tool_names) if tool_names else make_profile()

        async def handler(stream: MediaStream) -> None:
            results.append(await run_conversation(stream, profile, hooks, settings))

        async with MediaServer(settings, handler=handler):
            token = sign_stream_token("rc-1", settings.stream_secret.get_secret_value())
            driver = TwilioDriver(settings.public_voice_url, call_id="rc-1", token=token)
            await driver.connect()
            yield Call(driver, rt, hooks, results)


def valid_client_events(session: ToneSession) -> None:
    """What the new session was told is valid GA client events (the local engine's checks)."""
    for item in session.created:
        parse_frame(json.dumps({"type": "conversation.item.create", "item": item}))


async def test_a_drop_while_the_agent_speaks_cuts_what_was_heard_and_carries_on(tmp_path: Path) -> None:
    async with call(tmp_path) as c:
        await c.driver.play(tone(600, 220.0, 12000))
        await c.driver.silence(700)  # the agent's 1.5 s reply starts streaming
        first = c.rt.sessions[0]
        await c.until(lambda: c.driver.recv_bytes > 3200)
        first.abort()
        await c.driver.silence(1500)
        await c.until(lambda: len(c.rt.sessions) == 2)
        second = c.rt.sessions[1]
        await c.until(lambda: bool(second.requested))
        await c.driver.silence(2000)  # the apology plays
        await c.driver.play(tone(600, 260.0, 12000))  # the caller goes on: the new session answers
        await c.driver.silence(2500)
        await c.driver.hang_up()
        result = await c.result()

    assert result.end_reason == "caller_hung_up"
    assert c.driver.clears, "the caller's queued agent audio was not cleared at the drop"
    assert c.events("realtime_dropped")
    (reconnected,) = c.events("realtime_reconnected")
    assert reconnected["attempt"] == 1 and "RealtimeClosed" in reconnected["reason"]
    # The new session knew the call: a note first, then the conversation (the caller's turn).
    valid_client_events(second)
    note = second.created[0]
    assert note["role"] == "system" and "Do not greet" in note["content"][0]["text"]
    assert any(i.get("role") == "user" and "caller turn 1" in i["content"][0]["text"] for i in second.created)
    # The agent apologised and said its cut sentence again, then answered the next turn.
    apology = second.requested[0]["response"]["instructions"]
    assert "the line dropped" in apology and "Agent reply number 1" in apology
    assert second.turns == 1 and result.latency.realtime_gap_ms and result.latency.realtime_gap_ms[0] < 1500
    cut = [t for t in c.hooks.turns if t.speaker == "agent" and t.interrupted]
    assert cut, "the cut agent turn is not in the transcript"


@pytest.mark.slow  # make evals: make test keeps the 15-minute budget
async def test_a_drop_mid_sentence_loses_none_of_the_callers_words(tmp_path: Path) -> None:
    async with call(tmp_path) as c:
        await c.driver.play(tone(400, 220.0, 12000))
        c.rt.sessions[0].abort()  # the caller is mid-sentence
        await c.driver.play(tone(800, 220.0, 12000))  # …and goes on talking through the gap
        await c.driver.silence(3000)
        await c.driver.hang_up()
        result = await c.result()

    assert result.end_reason == "caller_hung_up"
    second = c.rt.sessions[1]
    # The new session heard the whole utterance again (its start resent, the rest held) and answered it.
    assert second.in_bytes >= (400 + 800) * 8 - 8 * 400
    assert second.turns == 1 and second.out_bytes > 0
    assert not second.requested  # its own turn detection answered: no extra response asked for


async def test_a_tool_call_running_at_the_drop_runs_once_and_its_output_reaches_the_new_session(
    tmp_path: Path,
) -> None:
    release = asyncio.Event()

    class SlowTool(RecordingHooks):
        async def on_tool_call(self, call: ToolCall, cancelled: bool) -> ToolResult:
            self.tool_calls.append((call, cancelled))
            await release.wait()
            return ToolResult(call_id=call.call_id, name=call.name, ok=True, output={"booking_id": "B1"})

    hooks = SlowTool()
    async with call(tmp_path, hooks, tool_names=("book",), tools={1: ("book", {})}) as c:
        await c.driver.play(tone(500, 220.0, 12000))
        await c.driver.silence(400)  # the turn ends: the answer is a tool call
        await c.until(lambda: bool(hooks.tool_calls))
        c.rt.sessions[0].abort()
        await c.driver.silence(600)
        await c.until(lambda: len(c.rt.sessions) == 2 and bool(c.rt.sessions[1].created))
        release.set()
        await c.driver.silence(2500)
        await c.driver.hang_up()
        result = await c.result()

    assert result.end_reason == "caller_hung_up"
    assert len(hooks.tool_calls) == 1  # never run twice
    second = c.rt.sessions[1]
    valid_client_events(second)
    kinds = [i["type"] for i in second.created]
    assert "function_call" in kinds and "function_call_output" in kinds
    output = next(i for i in second.created if i["type"] == "function_call_output")
    assert json.loads(output["output"]) == {"booking_id": "B1"}
    assert second.requested and second.out_bytes > 0  # the agent spoke to the output


@pytest.mark.slow  # make evals: make test keeps the 15-minute budget
async def test_session_expired_is_replaced_like_a_drop(tmp_path: Path) -> None:
    async with call(tmp_path) as c:
        await c.driver.play(tone(500, 220.0, 12000))
        await c.driver.silence(2500)  # the first turn answered
        await c.rt.sessions[0].expire()
        await c.until(lambda: len(c.rt.sessions) == 2)
        await c.driver.play(tone(500, 240.0, 12000))
        await c.driver.silence(2500)
        await c.driver.hang_up()
        result = await c.result()

    assert result.end_reason == "caller_hung_up"
    (reconnected,) = c.events("realtime_reconnected")
    assert "session_expired" in reconnected["reason"]
    assert c.rt.sessions[1].turns == 1 and not c.rt.sessions[1].requested  # quiet at the cap: nothing to say


async def test_when_every_reconnect_is_refused_a_person_takes_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation_module, "TRANSFER_WAIT_S", 1.0)
    async with call(tmp_path, refuse_after=1, realtime_reconnect_attempts=3) as c:
        await c.driver.play(tone(500, 220.0, 12000))
        await c.driver.silence(600)
        c.rt.sessions[0].abort()
        await c.until(lambda: bool(c.events("realtime_gave_up")), timeout_s=10)
        result = await c.result()  # nobody redirected the call here: the hand-over deadline ends it

    assert c.rt.refused == 3
    assert [e["attempt"] for e in c.events("realtime_attempt_failed")] == [1, 2, 3]  # each in the history
    (gave_up,) = c.events("realtime_gave_up")
    assert gave_up["attempts"] == 3
    assert result.end_reason == "transfer" and result.transfer_to == "+61255550199"


@pytest.mark.slow  # make evals: make test keeps the 15-minute budget
async def test_a_session_near_its_cap_is_rolled_over_at_a_quiet_moment(tmp_path: Path) -> None:
    async with call(tmp_path, realtime_session_cap_s=4.0, realtime_rollover_before_s=2.0) as c:
        await c.driver.play(tone(500, 220.0, 12000))  # a turn answered by the first session
        await c.driver.silence(3500)
        await c.until(lambda: bool(c.events("realtime_rolled_over")))
        await c.driver.play(tone(500, 240.0, 12000))  # …and the next by the second
        await c.driver.silence(2500)
        await c.driver.hang_up()
        result = await c.result()

    assert result.end_reason == "caller_hung_up"
    first, second = c.rt.sessions[:2]
    assert first.turns == 1 and second.turns == 1
    assert not c.events("realtime_dropped") and not c.driver.clears  # no gap, nothing cut
    assert any(i.get("role") == "user" for i in second.created) and not second.requested
