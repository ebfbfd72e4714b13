"""The phone network when a stream's server dies (#15): as Twilio, it goes on with the TwiML after
``</Connect>`` when the connection drops without a close frame, runs ``<Redirect>`` (a signed
webhook), and the call's next stream carries on with the same caller, mid-script."""

from __future__ import annotations

import asyncio

from infra.phone.callee import Callee
from infra.phone.client import twilio_client
from infra.phone.network import PhoneNetwork
from infra.phone.script import parse_script
from infra.phone.sink import Received, WebhookSink
from switchboard.config import Settings
from tests.infra.test_phone_stream import AGENT_TONE, Agent, AgentConn, phone

__all__ = ["phone"]  # the fixture, used by name


def connect_and_redirect(stream_url: str, resume_url: str) -> str:
    return (
        f'<Response><Connect><Stream url="{stream_url}" name="agent">'
        '<Parameter name="call_id" value="call-1"/><Parameter name="token" value="tok-1"/>'
        f'</Stream></Connect><Redirect method="POST">{resume_url}</Redirect></Response>'
    )


async def test_a_dropped_stream_goes_on_to_the_redirect_and_the_caller_carries_on(
    phone: tuple[PhoneNetwork, Settings],
) -> None:
    network, settings = phone

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        await conn.media(AGENT_TONE)
        if len(agent.conns) == 1:  # the first worker dies once the caller answered: no close frame
            await conn.until(lambda: bool(conn.of("dtmf")))
            assert conn.ws.transport is not None
            conn.ws.transport.abort()
            return
        await conn.until(lambda: bool(conn.of("stop")))  # the second serves the call to its end

    agent = Agent(behaviour)

    def responder(r: Received) -> tuple[int, str]:  # /resume: a new stream, and the same Redirect
        body = connect_and_redirect(agent.url, sink.url("/resume")) if r.path == "/resume" else "<Response/>"
        return 200, body

    sink = WebhookSink(responder)
    wait = {"wait_for_agent": {"silence_ms": 300, "timeout_ms": 10000}}
    caller = parse_script({"steps": [wait, {"dtmf": "1"}, wait, {"dtmf": "2"}, "hangup"]})
    async with sink, agent.serve():
        number = "+61255550139"
        network.register(number, Callee(ring_ms=10, script=caller))
        twiml = connect_and_redirect(agent.url, sink.url("/resume"))
        create = twilio_client(settings).calls.create
        sid = str((await asyncio.to_thread(create, to=number, from_="+61255550100", twiml=twiml)).sid)
        result = await network.wait(sid, 30)

    first, second = agent.conns
    assert [d["dtmf"]["digit"] for d in first.of("dtmf")] == ["1"]
    assert [d["dtmf"]["digit"] for d in second.of("dtmf")] == ["2"]  # the script went on, not again
    assert "stop" not in [m["event"] for _, m in first.messages]  # it never heard the end
    streams = result["streams"]
    assert [s["ended_by"] for s in streams] == ["agent", "caller"]
    assert streams[0]["reason"] == "socket_dropped"
    resumes = sink.on("/resume")
    assert len(resumes) == 1 and resumes[0].params["CallSid"] == sid
    assert resumes[0].valid(settings.twilio_auth_token.get_secret_value())  # signed, as Twilio signs
    assert result["status"] == "completed" and result["ended_by"] == "caller"
