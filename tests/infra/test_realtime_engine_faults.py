"""The session cap and the armed plans over real sockets: what a reconnecting client will meet."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from openai.types.realtime import RealtimeErrorEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus

from infra.realtime_engine import ControlError, arm, armed, disarm
from tests.infra.realtime_helpers import SERVER, open_client

AUTH = {"Authorization": "Bearer sk-local"}


@pytest_asyncio.fixture(autouse=True)
async def _no_plans_left(engine_url: str) -> AsyncIterator[None]:
    await disarm(engine_url)
    yield
    await disarm(engine_url)


async def _raw(engine_url: str, query: str = "") -> ClientConnection:
    return await connect(f"{engine_url}?model=gpt-realtime{query}", additional_headers=AUTH, max_size=None)


async def _until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], ConnectionClosed]:
    """Every frame until the socket ends (validated, with ``_at`` and ``_wall``), and how it ended."""
    frames: list[dict[str, Any]] = []
    while True:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed as closed:
            return frames, closed
        SERVER.validate_python(frame, strict=True)
        frame["_at"], frame["_wall"] = time.monotonic(), time.time()
        frames.append(frame)


async def test_session_cap_sends_session_expired_and_closes_1001(engine_url: str) -> None:
    await arm(engine_url, max_session_s=2)
    armed_cap = await _raw(engine_url)
    url_cap = await _raw(engine_url, "&max_session_s=1")
    ended = await asyncio.gather(_until_closed(url_cap), _until_closed(armed_cap))
    for ws, cap, (frames, closed) in zip((url_cap, armed_cap), (1, 2), ended, strict=True):
        assert isinstance(closed, ConnectionClosedOK)  # a clean close, as the real service does
        created, expired = frames[0], frames[-1]
        assert created["type"] == "session.created" and [f["type"] for f in frames[1:]] == ["error"]
        assert 0 <= created["_wall"] + cap - created["session"]["expires_at"] < 1.2  # it said when
        assert cap - 0.05 <= expired["_at"] - created["_at"] <= cap + 0.7
        words = "1 second" if cap == 1 else "2 seconds"
        message = f"Your session hit the maximum duration of {words}."
        del expired["_at"], expired["_wall"]
        assert expired == {
            "type": "error",
            "event_id": expired["event_id"],
            "error": {
                "type": "invalid_request_error",
                "code": "session_expired",
                "message": message,
                "param": None,
                "event_id": None,
            },
        }
        RealtimeErrorEvent.model_validate(expired, strict=True)
        assert expired["event_id"].startswith("event_")
        assert (ws.close_code, ws.close_reason) == (1001, message)


async def test_arming_applies_to_exactly_the_next_connections(engine_url: str) -> None:
    await arm(engine_url, fault="error_after:1", connections=2)
    await arm(engine_url, fault="close_after:1")
    assert [(p["options"], p["left"]) for p in await armed(engine_url)] == [
        ({"error_after": 1}, 2),
        ({"close_after": 1}, 1),
    ]
    erring = [await open_client(engine_url), await open_client(engine_url)]
    assert [p["left"] for p in await armed(engine_url)] == [1]
    closing = await _raw(engine_url)
    plain = await open_client(engine_url)
    try:
        for client in erring:  # a non-fatal server_error, and the session lives on
            error = (await client.next("error", within=5))["error"]
            assert (error["type"], error["code"]) == ("server_error", "server_error")
            await client.send({"type": "input_audio_buffer.clear"})
            await client.next("input_audio_buffer.cleared", within=5)
        frames, closed = await _until_closed(closing)
        assert [f["type"] for f in frames] == ["session.created"]
        assert closed.rcvd is not None  # a close frame
        assert (closing.close_code, closing.close_reason) == (1011, "injected fault")

        await plain.send({"type": "input_audio_buffer.clear"})
        await plain.next("input_audio_buffer.cleared", within=5)
        await asyncio.sleep(0.2)
        assert not plain.of("error") and not plain.closed.is_set()  # only its URL's options
        created = plain.of("session.created")[0]
        assert abs(created["session"]["expires_at"] - (time.time() + 3600)) <= 5  # the default cap
        assert await armed(engine_url) == []
    finally:
        for client in [*erring, plain]:
            await client.close()


async def test_refuse_refuses_exactly_the_next_handshakes(engine_url: str) -> None:
    await arm(engine_url, refuse=True, connections=2)
    with pytest.raises(InvalidStatus) as unauthorised:  # not accepted: takes no plan
        await connect(f"{engine_url}?model=gpt-realtime")
    assert unauthorised.value.response.status_code == 401
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            await _raw(engine_url)
        assert refused.value.response.status_code == 503
        assert json.loads(refused.value.response.body) == {
            "error": {
                "message": "The engine is currently overloaded, please try again later",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    client = await open_client(engine_url)
    await client.close()


async def test_an_armed_drop_is_abrupt(engine_url: str) -> None:
    await arm(engine_url, fault="drop_after:2")
    ws = await _raw(engine_url)
    await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
    frames, dropped = await _until_closed(ws)
    assert [f["type"] for f in frames] == ["session.created", "input_audio_buffer.cleared"]
    assert isinstance(dropped, ConnectionClosedError)
    assert (
        dropped.rcvd is None and dropped.sent is None
    )  # no close frame either way: the TCP connection was cut
    assert ws.close_code == 1006


async def test_timed_drop_and_close(engine_url: str) -> None:
    await arm(engine_url, fault="drop_at_ms:600")
    await arm(engine_url, fault="close_at_ms:300")
    dropping, closing = await _raw(engine_url), await _raw(engine_url)

    async def timed(ws: ClientConnection) -> tuple[float, ConnectionClosed]:
        frames, closed = await _until_closed(ws)
        assert [f["type"] for f in frames] == ["session.created"]
        return time.monotonic() - frames[0]["_at"], closed

    (drop_s, dropped), (close_s, closed) = await asyncio.gather(timed(dropping), timed(closing))
    assert 0.55 <= drop_s <= 0.9 and dropped.rcvd is None and dropping.close_code == 1006
    assert 0.25 <= close_s <= 0.6 and closed.rcvd is not None
    assert (closing.close_code, closing.close_reason) == (1011, "injected fault")


async def test_bad_control_input_gets_a_clear_400(engine_url: str) -> None:
    with pytest.raises(ControlError) as unknown:
        await arm(engine_url, fault="explode:1")
    assert (unknown.value.status, unknown.value.message) == (
        400,
        "Invalid value for 'fault': unknown fault 'explode'.",
    )
    with pytest.raises(ControlError) as both:
        await arm(engine_url, refuse=True, fault="drop_after:1")
    assert both.value.status == 400
    with pytest.raises(ControlError) as none:
        await arm(engine_url, connections=0, fault="drop_after:1")
    assert none.value.status == 400
    base = engine_url.replace("ws://", "http://").replace("/v1/realtime", "")
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{base}/control/arm")).status_code == 405
        with pytest.raises(httpx.HTTPError):  # the websockets server reads no body: it hangs up
            await http.post(f"{base}/control/arm", json={"fault": "drop_after:1"})
    assert await armed(engine_url) == []
