"""Status, AMD and TwiML webhooks: Twilio's parameters, signed so that RequestValidator accepts them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from infra.phone.app import running_network
from infra.phone.callee import Callee
from infra.phone.client import twilio_client
from infra.phone.network import PhoneNetwork
from infra.phone.sink import Received, WebhookSink
from infra.testing import isolated_settings
from switchboard.config import Settings

SHORT = '<Response><Pause length="1"/></Response>'
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


@pytest_asyncio.fixture
async def phone(tmp_path: Path) -> AsyncIterator[tuple[PhoneNetwork, Settings, WebhookSink]]:
    settings = isolated_settings(tmp_path)
    async with WebhookSink() as sink, running_network(settings) as network:
        yield network, settings, sink


def token(settings: Settings) -> str:
    return settings.twilio_auth_token.get_secret_value()


async def dial(settings: Settings, to: str, **kwargs: object) -> str:
    client = twilio_client(settings)
    call = await asyncio.to_thread(client.calls.create, to=to, from_="+61255550100", **kwargs)
    assert call.sid is not None
    return call.sid


def statuses(received: list[Received]) -> list[str]:
    return [r.params["CallStatus"] for r in received]


async def test_answered_call_reports_every_requested_event(
    phone: tuple[PhoneNetwork, Settings, WebhookSink],
) -> None:
    network, settings, sink = phone
    network.register("+61255550121", Callee(rings=2, ring_ms=50))
    sid = await dial(
        settings,
        "+61255550121",
        twiml=SHORT,
        status_callback=sink.url("/status?tenant=a%20b"),
        status_callback_event=ALL_EVENTS,
    )
    result = await network.wait(sid, 15)
    got = sink.on("/status")
    assert statuses(got) == ["initiated", "ringing", "in-progress", "completed"]
    assert [r.params["SequenceNumber"] for r in got] == ["0", "1", "2", "3"]
    for r in got:
        assert r.valid(token(settings)), r.params
        assert r.url.endswith("/status?tenant=a%20b")
        assert r.params["CallSid"] == sid and r.params["AccountSid"] == settings.twilio_account_sid
        assert r.params["Direction"] == "outbound-api" and r.params["ApiVersion"] == "2010-04-01"
        assert r.params["CallbackSource"] == "call-progress-events"
        assert r.params["To"] == "+61255550121" and r.params["From"] == "+61255550100"
        assert r.params["Timestamp"].endswith("+0000")
    assert int(got[-1].params["CallDuration"]) >= 1  # a 1 s <Pause>
    assert "CallDuration" not in got[2].params
    # A tampered parameter or another URL no longer validates: the check is real.
    forged = Received(
        got[0].method, got[0].url, got[0].path, got[0].headers, {**got[0].params, "CallStatus": "busy"}
    )
    assert not forged.valid(token(settings))
    assert not Received(got[0].method, got[0].url + "x", got[0].path, got[0].headers, got[0].params).valid(
        token(settings)
    )
    assert result["status"] == "completed" and [c["status_code"] for c in result["callbacks"]] == [200] * 4


async def test_default_subscription_is_completed_only(
    phone: tuple[PhoneNetwork, Settings, WebhookSink],
) -> None:
    network, settings, sink = phone
    network.register("+61255550122", Callee(ring_ms=10))
    sid = await dial(
        settings, "+61255550122", twiml="<Response><Hangup/></Response>", status_callback=sink.url("/s")
    )
    await network.wait(sid, 10)
    assert statuses(sink.on("/s")) == ["completed"]
    assert sink.on("/s")[0].params["CallDuration"] == "0"


async def test_busy_no_answer_and_failed(phone: tuple[PhoneNetwork, Settings, WebhookSink]) -> None:
    network, settings, sink = phone
    network.register("+61255550123", Callee(answer="busy"))
    network.register("+61255550124", Callee(answer="no_answer"))
    network.register("+61255550125", Callee(answer="fail"))
    network.register("+61255550126", Callee(rings=10, ring_ms=300))  # rings past the 1 s Timeout
    sids = {
        path: await dial(
            settings,
            number,
            twiml=SHORT,
            timeout=1,
            status_callback=sink.url(path),
            status_callback_event=ALL_EVENTS,
        )
        for path, number in [
            ("/busy", "+61255550123"),
            ("/na", "+61255550124"),
            ("/fail", "+61255550125"),
            ("/slow", "+61255550126"),
        ]
    }
    for sid in sids.values():
        await network.wait(sid, 15)
    assert statuses(sink.on("/busy")) == ["initiated", "busy"]
    assert statuses(sink.on("/na")) == ["initiated", "ringing", "no-answer"]
    assert statuses(sink.on("/fail")) == ["initiated", "failed"]
    assert statuses(sink.on("/slow")) == ["initiated", "ringing", "no-answer"]
    assert all(r.valid(token(settings)) for r in sink.received)
    assert all(
        r.params["CallDuration"] == "0"
        for r in sink.received
        if r.params["CallStatus"] != "initiated" and r.params["CallStatus"] != "ringing"
    )


async def test_voicemail_with_async_amd(phone: tuple[PhoneNetwork, Settings, WebhookSink]) -> None:
    network, settings, sink = phone
    network.register(
        "+61255550127", Callee(answer="voicemail", ring_ms=10, voicemail_greeting="Leave a message.")
    )
    sid = await dial(
        settings,
        "+61255550127",
        twiml='<Response><Pause length="3"/></Response>',
        status_callback=sink.url("/status"),
        status_callback_event=["answered", "completed"],
        machine_detection="DetectMessageEnd",
        async_amd="true",
        async_amd_status_callback=sink.url("/amd"),
    )
    result = await network.wait(sid, 15)
    amd = sink.on("/amd")
    assert len(amd) == 1 and amd[0].valid(token(settings))
    assert amd[0].params["AnsweredBy"] == "machine_end_beep" and amd[0].params["CallSid"] == sid
    assert int(amd[0].params["MachineDetectionDuration"]) > 400  # greeting + beep
    assert statuses(sink.on("/status")) == ["in-progress", "completed"]
    assert result["answered_by"] == "machine_end_beep"


async def test_sync_amd_human_and_twiml_url_fetch(phone: tuple[PhoneNetwork, Settings, WebhookSink]) -> None:
    network, settings, sink = phone
    sink.responder = lambda r: (200, SHORT) if r.path == "/twiml" else (200, "")
    network.register("+61255550128", Callee(ring_ms=10, amd_human_ms=100))
    sid = await dial(
        settings,
        "+61255550128",
        url=sink.url("/twiml?leg=1"),
        status_callback=sink.url("/status"),
        machine_detection="Enable",
    )
    await network.wait(sid, 15)
    (fetch,) = sink.on("/twiml")
    assert fetch.method == "POST" and fetch.valid(token(settings))
    assert fetch.params["CallStatus"] == "in-progress" and fetch.params["AnsweredBy"] == "human"
    (done,) = sink.on("/status")
    assert done.params["AnsweredBy"] == "human" and done.params["CallStatus"] == "completed"


async def test_failing_callback_is_retried_and_never_breaks_the_call(
    phone: tuple[PhoneNetwork, Settings, WebhookSink],
) -> None:
    network, settings, sink = phone
    sink.responder = lambda r: (503, "") if len(sink.on("/flaky")) <= 2 else (200, "")
    network.register("+61255550129", Callee(ring_ms=10))
    sid = await dial(
        settings, "+61255550129", twiml="<Response><Hangup/></Response>", status_callback=sink.url("/flaky")
    )
    dead = await dial(
        settings,
        "+61255550129",
        twiml="<Response><Hangup/></Response>",
        status_callback="http://127.0.0.1:9/none",
    )
    result = await network.wait(sid, 15)
    assert [r.params["CallStatus"] for r in sink.on("/flaky")] == ["completed"] * 3
    assert result["callbacks"][0]["attempts"] == 3 and result["callbacks"][0]["status_code"] == 200
    unreachable = await network.wait(dead, 15)
    assert unreachable["status"] == "completed"
    assert unreachable["callbacks"][0]["error"] == "ConnectError"
