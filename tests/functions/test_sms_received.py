"""POST /twilio/sms through the local gateway: a signed text reaches the sender's open cadence,
found by person id (never by the number in a workflow id); hostile requests change nothing."""

from __future__ import annotations

import random
import uuid
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from functions._runtime import assign_person
from switchboard.config import Settings
from switchboard.messages import LeadReply, TextStatus
from tests.functions.conftest import twilio_signed

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def signals(client: Client, workflow_id: str) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = event.workflow_execution_signaled_event_attributes
            kind = LeadReply if attrs.signal_name == "lead_reply" else TextStatus
            [decoded] = await client.data_converter.decode(attrs.input.payloads, [kind])
            found.append((attrs.signal_name, decoded))
    return found


async def open_cadence(client: Client, settings: Settings, started: list[str]) -> tuple[str, str]:
    """A running callback for a fresh number, its person assigned as the form function does."""
    number = f"+6141{random.randint(1_000_000, 9_999_999)}"
    workflow_id = f"callback-{uuid.uuid4().hex[:12]}"
    assert assign_person(settings, workflow_id, number)
    await client.start_workflow("OutboundCallbackWorkflow", id=workflow_id, task_queue=settings.task_queue)
    started.append(workflow_id)
    return workflow_id, number


def text(sender: str, body: str, sid: str = "") -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "Body": body,
        "From": sender,
        "MessageSid": sid or f"SM{uuid.uuid4().hex}",
        "NumMedia": "0",
        "To": "+61255550100",
    }


async def post(
    http: httpx.AsyncClient, settings: Settings, path: str, params: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return await http.post(settings.public_api_url + path, content=urlencode(params), headers=headers)


async def test_a_signed_text_signals_the_senders_open_cadence(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    workflow_id, number = await open_cadence(temporal_client, gateway_settings, started)
    params = text(number, "tomorrow after 3", "SM" + "1" * 32)
    response = await post(
        http, gateway_settings, "/twilio/sms", params, twilio_signed(gateway_settings, "/twilio/sms", params)
    )
    assert response.status_code == 200 and "<Response" in response.text
    assert response.headers["content-type"].startswith("text/xml")
    status = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered", "To": number}
    path = f"/twilio/sms/status?wf={workflow_id}&key={workflow_id}-t1"
    response = await post(http, gateway_settings, path, status, twilio_signed(gateway_settings, path, status))
    assert response.status_code == 204
    assert await signals(temporal_client, workflow_id) == [
        ("lead_reply", LeadReply(text="tomorrow after 3", message_sid="SM" + "1" * 32)),
        ("text_status", TextStatus(message_sid="SM" + "2" * 32, status="delivered")),
    ]


async def test_a_text_from_someone_without_a_cadence_is_answered_and_goes_nowhere(
    http: httpx.AsyncClient, gateway_settings: Settings
) -> None:
    params = text("+61491570159", "hello?")
    response = await post(
        http, gateway_settings, "/twilio/sms", params, twilio_signed(gateway_settings, "/twilio/sms", params)
    )
    assert response.status_code == 200


async def test_forged_unsigned_oversized_and_malformed_texts_are_refused_and_change_nothing(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    workflow_id, number = await open_cadence(temporal_client, gateway_settings, started)
    params = text(number, "STOP")
    signed = twilio_signed(gateway_settings, "/twilio/sms", params)
    forged = dict(signed, **{"x-twilio-signature": "bm90IGEgc2lnbmF0dXJl"})
    tampered = dict(params, Body="call me now")
    unsigned = {"content-type": "application/x-www-form-urlencoded"}
    assert (await post(http, gateway_settings, "/twilio/sms", params, unsigned)).status_code == 403
    assert (await post(http, gateway_settings, "/twilio/sms", params, forged)).status_code == 403
    assert (await post(http, gateway_settings, "/twilio/sms", tampered, signed)).status_code == 403
    huge = text(number, "x" * 20_000)
    assert (
        await post(
            http, gateway_settings, "/twilio/sms", huge, twilio_signed(gateway_settings, "/twilio/sms", huge)
        )
    ).status_code == 413
    long_text = text(number, "y" * 1601)
    assert (
        await post(
            http,
            gateway_settings,
            "/twilio/sms",
            long_text,
            twilio_signed(gateway_settings, "/twilio/sms", long_text),
        )
    ).status_code == 400
    no_body = {k: v for k, v in params.items() if k != "Body"}
    assert (
        await post(
            http,
            gateway_settings,
            "/twilio/sms",
            no_body,
            twilio_signed(gateway_settings, "/twilio/sms", no_body),
        )
    ).status_code == 400
    garbage = await http.post(
        gateway_settings.public_api_url + "/twilio/sms", content=b"\xff\xfe%%%\x00", headers=signed
    )
    assert 400 <= garbage.status_code < 500
    status = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    bad_wf = "/twilio/sms/status?wf=not%20a%20workflow"
    assert (
        await post(http, gateway_settings, bad_wf, status, twilio_signed(gateway_settings, bad_wf, status))
    ).status_code == 400
    assert await signals(temporal_client, workflow_id) == []
