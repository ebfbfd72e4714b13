"""Bad input, the handshake rules and injected faults: real error frames, and the session lives on."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.infra.realtime_helpers import (
    RtClient,
    open_client,
    telephone_session,
)


async def _error(client: RtClient) -> dict:
    return (await client.next("error"))["error"]


async def test_bad_input_gets_error_frames_and_the_session_lives_on(engine_url: str) -> None:
    client = await open_client(engine_url, "latency_ms=0")
    try:
        await client.send_raw("{not json")
        assert (await _error(client))["code"] == "invalid_json"

        await client.send_raw(json.dumps({"type": "response.audio.delta", "event_id": "evt_7"}))
        unknown = await _error(client)
        assert (unknown["type"], unknown["code"], unknown["event_id"]) == (
            "invalid_request_error",
            "invalid_event",
            "evt_7",
        )

        await client.send_raw(json.dumps({"event_id": "evt_8"}))
        assert (await _error(client))["message"] == "The 'type' field is missing."

        await client.send_raw(json.dumps({"type": "input_audio_buffer.append", "audio": "!!not base64!!"}))
        bad_audio = await _error(client)
        assert bad_audio["param"] == "audio" and bad_audio["code"] == "invalid_value"

        oversized = base64.b64encode(b"\xff" * (15 * 1024 * 1024 + 3)).decode()
        await client.send_raw(json.dumps({"type": "input_audio_buffer.append", "audio": oversized}))
        assert "maximum" in (await _error(client))["message"]

        await client.send_raw(b"\x00\x01binary")
        assert (await _error(client))["code"] == "invalid_event"

        wrong_format = telephone_session()
        wrong_format["audio"]["input"]["format"] = {"type": "audio/wav"}
        await client.send({"type": "session.update", "session": telephone_session()})
        await client.next("session.updated")
        await client.send_raw(json.dumps({"type": "session.update", "session": wrong_format}))
        fmt = await _error(client)
        assert fmt["param"] == "session.audio.input.format.type"

        await client.send_raw(
            json.dumps(
                {"type": "session.update", "session": {"type": "realtime", "input_audio_format": "g711_ulaw"}}
            )
        )
        beta_field = await _error(client)
        assert beta_field["code"] == "unknown_parameter"
        assert beta_field["message"] == "Unknown parameter: 'session.input_audio_format'."

        await client.send_raw(json.dumps({"type": "response.create", "response": {"modalities": ["audio"]}}))
        assert (await _error(client))["param"] == "response.modalities"

        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": "item_nope",
                "content_index": 0,
                "audio_end_ms": 10,
            }
        )
        assert (await _error(client))["code"] == "item_not_found"

        # Still alive, and still configured as before the bad update (pcmu in and out).
        await client.send(
            {"type": "response.create", "response": {"instructions": 'Say exactly: "Still here."'}}
        )
        done = await client.next("response.done")
        assert done["response"]["status"] == "completed"
        assert done["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    finally:
        await client.close()


async def test_handshake_rules(engine_url: str) -> None:
    with pytest.raises(InvalidStatus) as unauthorised:
        await connect(f"{engine_url}?model=gpt-realtime")
    assert unauthorised.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as wrong_path:
        await connect(
            engine_url.replace("/v1/realtime", "/v1/chat"), additional_headers={"Authorization": "Bearer x"}
        )
    assert wrong_path.value.response.status_code == 404

    short = await open_client(engine_url.replace("/v1/realtime", "/realtime"))
    await short.close()

    ws = await connect(
        f"{engine_url}?model=gpt-realtime",
        additional_headers={"Authorization": "Bearer x", "OpenAI-Beta": "realtime=v1"},
    )
    beta = RtClient(ws)
    error = (await beta.next("error"))["error"]
    assert error["code"] == "beta_api_shape_disabled"
    await asyncio.wait_for(beta.closed.wait(), 10)
    assert ws.close_code == 4000 and ws.close_reason == "invalid_request_error.beta_api_shape_disabled"
    assert not beta.of("session.created")


async def test_injected_faults(engine_url: str) -> None:
    erring = await open_client(engine_url, "fault=error_after:1")
    try:
        assert (await erring.next("error"))["error"]["type"] == "server_error"
        await erring.send({"type": "session.update", "session": telephone_session()})
        await erring.next("session.updated")  # the session lives on
    finally:
        await erring.close()

    dropping = await open_client(engine_url, "fault=drop_after:3")
    await dropping.send({"type": "input_audio_buffer.clear"})
    await dropping.send({"type": "input_audio_buffer.clear"})
    await dropping.send({"type": "input_audio_buffer.clear"})
    await asyncio.wait_for(dropping.closed.wait(), 10)
    assert len(dropping.events) == 3
    assert dropping.ws.close_code == 1006  # no close frame: the connection was cut

    with pytest.raises(InvalidStatus) as bad:
        await connect(
            f"{engine_url}?model=gpt-realtime&fault=explode:1",
            additional_headers={"Authorization": "Bearer x"},
        )
    assert bad.value.response.status_code == 400
