"""The engine reports token usage in the GA shape, derived from the audio and text it processed.

OpenAI's Realtime cost guide: user audio is 1 token per 100 ms, assistant audio 1 token per 50 ms,
and each response reads the whole conversation again (the part read before is cached). The unit
test drives a session by hand; the engine test runs a short call over the socket and checks the
reported audio tokens against the audio seconds the client itself saw, within 20 %.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from infra.realtime_engine.response_events import ActiveResponse
from infra.realtime_engine.session import Session
from infra.realtime_engine.usage import ITEM_OVERHEAD, text_tokens
from switchboard.config import Settings
from switchboard.costs import PriceTable, TokenUsage, call_cost
from tests.infra.realtime_helpers import caller_turn, open_client, speech, stream, telephone_session
from voice.audio import silence

SERVER = TypeAdapter(RealtimeServerEvent)
USER_TOKENS_PER_S, AGENT_TOKENS_PER_S = 10, 20  # the documented rates


class Host:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.responses: list[ActiveResponse] = []

    def send(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def transcribe(self, item_id: str, audio: Any, prompt: str | None, pause: int | None) -> None: ...

    def speculate(self, pause: int, audio: Any, prompt: str | None) -> None: ...

    def start_response(self, resp: ActiveResponse) -> None:
        self.responses.append(resp)

    def stop_response(self, resp: ActiveResponse) -> None: ...


def _say(session: Session, resp: ActiveResponse, text: str, audio_ms: int) -> None:
    session.writer.begin_message(resp)
    session.writer.text(resp, text, audio_ms)
    session.writer.audio(resp, b"\xff" * (audio_ms * 8), audio_ms)
    session.finish_response(resp, None)


def _caller(session: Session, ms: int) -> None:
    session.handle({"type": "input_audio_buffer.append", "audio": base64.b64encode(silence(ms)).decode()})
    session.handle({"type": "input_audio_buffer.commit"})


def test_usage_counts_the_conversation_again_with_the_part_read_before_cached() -> None:
    host = Host()
    session = Session(host)
    config = telephone_session()
    config["audio"]["input"]["turn_detection"] = None  # manual commits: exact lengths
    session.handle({"type": "session.update", "session": config})
    instructions = text_tokens(config["instructions"])

    _caller(session, 2000)
    session.handle({"type": "response.create"})
    _say(session, host.responses[-1], "Hello, how can I help?", 1500)
    _caller(session, 3000)
    session.handle({"type": "response.create"})
    _say(session, host.responses[-1], "Sure.", 500)

    done = [e for e in host.events if e["type"] == "response.done"]
    for event in done:
        SERVER.validate_python(event, strict=True)  # the GA shape, as the SDK types it
    first, second = (e["response"]["usage"] for e in done)
    assert first["input_token_details"]["audio_tokens"] == 20  # 2 s of the caller at 10/s
    assert first["output_token_details"]["audio_tokens"] == 30  # 1.5 s of the agent at 20/s
    assert first["input_token_details"]["text_tokens"] == instructions + ITEM_OVERHEAD
    assert first["input_token_details"]["cached_tokens"] == 0  # nothing was read before
    # The second response reads it all again: both caller turns and the agent's first answer.
    assert second["input_token_details"]["audio_tokens"] == 20 + 30 + 30
    assert second["input_token_details"]["cached_tokens_details"] == {
        "text_tokens": instructions + ITEM_OVERHEAD,  # instructions, tools and the first caller turn
        "audio_tokens": 20,
        "image_tokens": 0,
    }
    assert second["output_token_details"]["audio_tokens"] == 10
    for u in (first, second):
        details = u["input_token_details"]
        assert u["input_tokens"] == details["text_tokens"] + details["audio_tokens"]
        assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]


async def test_a_short_call_is_billed_at_the_documented_audio_rates(
    engine_url: str, tts_settings: Settings
) -> None:
    """An opening line, a caller's question, the agent's answer: the audio tokens the engine reports
    are within 20 % of the audio seconds the client heard and sent × OpenAI's documented rates."""
    client = await open_client(engine_url)
    try:
        await client.send({"type": "session.update", "session": telephone_session()})
        await client.next("session.updated")
        opening = "Hello, you have reached the repair shop. This call is answered by an AI assistant."
        await client.send(
            {"type": "response.create", "response": {"instructions": f'Say exactly: "{opening}"'}}
        )
        await client.next("response.done")
        question = await speech(
            tts_settings.tts_url, "Hi, I would like to know when you are open on Saturday."
        )
        await stream(client, caller_turn(question))
        await client.next("response.done", within=60)
        await asyncio.sleep(0.2)
    finally:
        await client.close()

    agent_s = sum(len(base64.b64decode(e["delta"])) for e in client.of("response.output_audio.delta")) / 8000
    stopped = client.of("input_audio_buffer.speech_stopped")
    started = client.of("input_audio_buffer.speech_started")
    caller_s = (
        sum(b["audio_end_ms"] - a["audio_start_ms"] for a, b in zip(started, stopped, strict=True)) / 1000
    )
    dones = client.of("response.done")
    usage = sum((TokenUsage.of_response(e["response"]["usage"]) for e in dones), TokenUsage())
    fresh_audio_in = usage.input_audio - usage.cached_audio
    # What the caller said is read once uncached; what the agent said is read again (at 20/s) by every
    # later response, uncached the first time: here the opening, before the answer.
    opening_s = sum(len(base64.b64decode(e["delta"])) for e in client.of("response.output_audio.delta")
                    if e["response_id"] == dones[0]["response"]["id"]) / 8000  # fmt: skip
    expected_out = agent_s * AGENT_TOKENS_PER_S
    expected_in = caller_s * USER_TOKENS_PER_S + opening_s * AGENT_TOKENS_PER_S
    print(
        f"\nagent {agent_s:.2f} s → {usage.output_audio} output audio tokens (documented {expected_out:.0f}); "
        f"caller {caller_s:.2f} s (clip {len(question) / 8000:.2f} s) + opening re-read → {fresh_audio_in} "
        f"uncached input audio tokens (documented {expected_in:.0f}); cost "
        f"{call_cost(usage, PriceTable(), seconds=0).model_usd} USD for {usage.total_tokens} tokens"
    )
    assert len(dones) == 2 and caller_s > 1.0 and agent_s > 3.0
    assert abs(usage.output_audio - expected_out) <= 0.2 * expected_out
    assert abs(fresh_audio_in - expected_in) <= 0.2 * expected_in
    assert usage.cached_audio == 0  # the opening's own response had no audio to cache
    assert usage.input_text > 0 and usage.output_text > 0
