"""The phone network as its own process (``python -m infra.phone``): control API, inbound calls, webhooks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from infra import phone
from infra.phone.client import SimClient, twilio_client
from infra.phone.sink import Received, WebhookSink
from infra.testing import isolated_settings, running_stack
from tests.infra.test_phone_stream import AGENT_TONE, Agent, AgentConn, stream_twiml


async def test_inbound_call_follows_the_webhook_twiml(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    token = settings.twilio_auth_token.get_secret_value()

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        await conn.media(AGENT_TONE[:2400])  # 300 ms greeting
        await conn.mark("greeting")
        await conn.until(lambda: bool(conn.of("mark")))

    agent = Agent(behaviour)

    def answer(r: Received) -> tuple[int, str]:
        return (200, stream_twiml(agent.url)) if r.path == "/voice" else (204, "")

    async with (
        WebhookSink(answer) as sink,
        agent.serve(),
        running_stack(settings, lambda s: [phone.service(s)]),
        SimClient(settings.twilio_api_url or "") as sim,
    ):
        assert (await sim.health())["ok"] is True
        sid = await sim.inbound_call(
            {
                "from": "+61400000001",
                "to": settings.twilio_from_number,
                "url": sink.url("/voice?number=main"),
                "status_callback": sink.url("/status"),
                "caller": {"script": {"steps": [{"tone": {"ms": 200}}]}},
            }
        )
        result = await sim.wait(sid, 30)
        audio = await sim.audio(sid)
        listed = await sim.calls()

    (hook,) = sink.on("/voice")
    assert hook.valid(token) and hook.url.endswith("/voice?number=main")
    assert hook.params["CallSid"] == sid and hook.params["CallStatus"] == "ringing"
    assert hook.params["Direction"] == "inbound" and hook.params["ApiVersion"] == "2010-04-01"
    assert hook.params["From"] == "+61400000001" and hook.params["To"] == settings.twilio_from_number
    assert hook.params["AccountSid"] == settings.twilio_account_sid
    (status,) = sink.on("/status")
    assert status.valid(token) and status.params["CallStatus"] == "completed"
    assert status.params["Direction"] == "inbound"

    start = agent.conns[0].of("start")[0]["start"]
    assert start["callSid"] == sid and start["customParameters"]["call_id"] == "call-1"
    assert result["status"] == "completed" and result["ended_by"] == "agent"
    assert result["heard_audio_ms"] == 300 and result["direction"] == "inbound"
    assert [h["status"] for h in result["status_history"]] == [
        "queued",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert audio[:4] == b"RIFF" and Path(result["wav_path"]).parent == settings.home / "phone"
    assert [c["sid"] for c in listed] == [sid]


async def test_control_api_registers_callees_for_the_sdk(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    async with (
        running_stack(settings, lambda s: [phone.service(s)]),
        SimClient(settings.twilio_api_url or "") as sim,
    ):
        await sim.register("+61255550150", {"answer": "busy"})
        client = twilio_client(settings)
        call = await asyncio.to_thread(
            client.calls.create, to="+61255550150", from_="+61255550100", twiml="<Response/>"
        )
        result = await sim.wait(str(call.sid), 20)
        assert result["status"] == "busy"

        with pytest.raises(httpx.HTTPStatusError) as err:
            await sim.register("+61255550151", {"answer": "maybe"})
        assert err.value.response.status_code == 422
        with pytest.raises(httpx.HTTPStatusError) as err:
            await sim.register("+61255550151", {"script": "no-such-script"})
        assert err.value.response.status_code == 400
        with pytest.raises(httpx.HTTPStatusError) as err:  # no webhook URL and no default
            await sim.inbound_call({"from": "+61400000001", "to": "+61255550100"})
        assert err.value.response.status_code == 400
        with pytest.raises(httpx.HTTPStatusError) as err:
            await sim.call("CA" + "0" * 32)
        assert err.value.response.status_code == 404
