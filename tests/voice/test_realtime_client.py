"""The Realtime client against a scripted local server: headers, session, typed events, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr
from websockets.asyncio.server import ServerConnection, serve

from infra.stack import free_port
from infra.testing import isolated_settings
from switchboard.config import Settings
from tests.voice.test_bridge import assert_client_event
from tests.voice.twilio_driver import make_profile
from voice.realtime import (
    RealtimeClient,
    RealtimeClosed,
    RealtimeConnectError,
    RealtimeFatalError,
    RealtimeProtocolError,
    RealtimeRequestError,
    error_from_event,
    parse_server_event,
    read_server_frame,
)

Script = Callable[[ServerConnection], Awaitable[None]]


class Scripted:
    def __init__(self) -> None:
        self.script: Script | None = None
        self.headers: dict[str, str] = {}
        self.path = ""
        self.received: list[dict[str, Any]] = []

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None and self.script is not None
        self.headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
        self.path = ws.request.path
        await self.script(ws)


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[Scripted, Settings]]:
    scripted = Scripted()
    port = free_port()
    async with serve(scripted.handler, "127.0.0.1", port):
        url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
        yield scripted, isolated_settings(tmp_path, realtime_url=url, openai_api_key=SecretStr("sk-test"))


def error_event(code: str, type_: str = "invalid_request_error") -> str:
    return json.dumps(
        {"type": "error", "event_id": "event_1", "error": {"type": type_, "code": code, "message": "m"}}
    )


async def test_connects_ga_only_and_configures_the_session(server: tuple[Scripted, Settings]) -> None:
    scripted, settings = server

    async def script(ws: ServerConnection) -> None:
        scripted.received.append(json.loads(await ws.recv()))
        await ws.send(
            json.dumps({"type": "session.updated", "event_id": "e1", "session": {"type": "realtime"}})
        )
        await ws.wait_closed()

    scripted.script = script
    client = await RealtimeClient.connect(settings, make_profile("end_call", "book"))
    event = await client.recv()
    await client.close()
    assert event.type == "session.updated"
    assert scripted.headers["authorization"] == "Bearer sk-test"
    assert not any(k.startswith("openai-beta") for k in scripted.headers)
    assert scripted.path == "/v1/realtime?model=gpt-realtime"
    (update,) = scripted.received
    assert_client_event(update)
    session = update["session"]
    assert session["type"] == "realtime" and session["output_modalities"] == ["audio"]
    assert (
        session["audio"]["input"]["format"] == {"type": "audio/pcmu"} == session["audio"]["output"]["format"]
    )
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
    assert [t["name"] for t in session["tools"]] == ["end_call", "book"]
    assert all(t["type"] == "function" and "parameters" in t for t in session["tools"])


async def test_non_fatal_error_is_returned_and_the_session_lives(server: tuple[Scripted, Settings]) -> None:
    scripted, settings = server

    async def script(ws: ServerConnection) -> None:
        await ws.send(error_event("response_cancel_not_active"))
        await ws.send("not json")
        await ws.send(json.dumps({"type": "response.audio.delta", "event_id": "e", "delta": ""}))  # beta name
        await ws.send(json.dumps({"type": "input_audio_buffer.cleared", "event_id": "e2"}))
        await ws.wait_closed()

    scripted.script = script
    client = await RealtimeClient.connect(settings)
    event = await client.recv()
    assert event.type == "error" and isinstance(error_from_event(event), RealtimeRequestError)
    for _ in range(2):
        with pytest.raises(RealtimeProtocolError):
            await client.recv()
    assert (await client.recv()).type == "input_audio_buffer.cleared"
    await client.close()


@pytest.mark.parametrize("how", ["fatal_event", "close_4000"])
async def test_fatal_errors_raise(server: tuple[Scripted, Settings], how: str) -> None:
    scripted, settings = server

    async def script(ws: ServerConnection) -> None:
        if how == "fatal_event":
            await ws.send(error_event("beta_api_shape_disabled"))
        await ws.close(4000, "invalid_request_error.beta_api_shape_disabled")

    scripted.script = script
    client = await RealtimeClient.connect(settings)
    with pytest.raises(RealtimeFatalError) as info:
        await client.recv()
    assert info.value.code == "beta_api_shape_disabled" and info.value.fatal


async def test_normal_close_and_refused_connection(server: tuple[Scripted, Settings], tmp_path: Path) -> None:
    scripted, settings = server

    async def script(ws: ServerConnection) -> None:
        await ws.close(1000, "bye")

    scripted.script = script
    client = await RealtimeClient.connect(settings)
    with pytest.raises(RealtimeClosed):
        await client.recv()
    dead = isolated_settings(tmp_path, realtime_url=f"ws://127.0.0.1:{free_port()}/v1/realtime")
    with pytest.raises(RealtimeConnectError):
        await RealtimeClient.connect(dead, open_timeout_s=2)


def test_unknown_and_invalid_events_are_protocol_errors() -> None:
    with pytest.raises(RealtimeProtocolError):
        parse_server_event('{"type": "response.output_audio.delta", "event_id": "e"}')  # fields missing
    with pytest.raises(RealtimeProtocolError):
        parse_server_event("[1]")
    event = parse_server_event(
        '{"type":"input_audio_buffer.speech_started","event_id":"e","audio_start_ms":5,"item_id":"i"}'
    )
    assert event.type == "input_audio_buffer.speech_started" and event.audio_start_ms == 5


_DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "e1",
    "response_id": "r1",
    "item_id": "i1",
    "output_index": 0,
    "content_index": 0,
    "delta": "//8=",
}


def test_read_server_frame_reads_a_delta_once_and_types_everything_else() -> None:
    assert read_server_frame(json.dumps(_DELTA).encode()) == ("r1", "i1", "//8=")
    # A delta the fast reading is unsure of goes to the SDK's model, which accepts or refuses it.
    assert read_server_frame(json.dumps({**_DELTA, "output_index": 0.0})) == ("r1", "i1", "//8=")
    with pytest.raises(RealtimeProtocolError):
        read_server_frame(json.dumps({**_DELTA, "item_id": None}))
    # JSON that orjson refuses but the standard parser takes (a lone surrogate escape) still parses.
    started = read_server_frame(
        '{"type":"input_audio_buffer.speech_started","event_id":"e\\ud800","audio_start_ms":5,"item_id":"i"}'
    )
    assert not isinstance(started, tuple) and started.type == "input_audio_buffer.speech_started"
    for bad in ("not json", "[1]", '{"type": "nope"}'):
        with pytest.raises(RealtimeProtocolError):
            read_server_frame(bad)
    error = {"type": "error", "event_id": "e", "error": {"type": "invalid_request_error", "message": "m"}}
    assert not isinstance(read_server_frame(json.dumps(error)), tuple)  # non-fatal: returned
    error["error"] = {"type": "authentication_error", "message": "m"}
    with pytest.raises(RealtimeFatalError):
        read_server_frame(json.dumps(error))


async def test_send_texts_writes_in_order_and_raises_once_closed() -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from voice.realtime import send_texts

    got: list[str] = []

    async def collect(ws: ServerConnection) -> None:
        async for message in ws:
            got.append(str(message))

    async with serve(collect, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            await send_texts(ws, "a", "b")
            for n in range(200):  # written directly or left to send() under back-pressure: in order
                await send_texts(ws, str(n) * 2000)
            await send_texts(ws, "z")
        with pytest.raises(ConnectionClosed):
            await send_texts(ws, "late")
    assert got == ["a", "b", *(str(n) * 2000 for n in range(200)), "z"]


def test_a_profiles_transcription_prompt_goes_into_the_session() -> None:
    from activities.tools.profiles import load_profile
    from voice.realtime import session_config

    profile = load_profile("lead_qualification")
    assert profile.transcription_prompt
    session = session_config(profile)
    assert session["audio"]["input"]["transcription"]["prompt"] == profile.transcription_prompt
    assert_client_event({"type": "session.update", "session": session})  # the SDK's GA shape
    plain = session_config(profile.model_copy(update={"transcription_prompt": None}))
    assert "prompt" not in plain["audio"]["input"]["transcription"]
