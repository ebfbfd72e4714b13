"""POST /twilio/status through the local gateway: signed callbacks become signals in the workflow's history."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from switchboard.config import Settings
from switchboard.messages import TelephonyEvent
from tests.functions.conftest import twilio_signed

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def waiting_workflow(client: Client, settings: Settings, workflow_id: str, started: list[str]) -> None:
    """A run to signal (no worker needed: a signal is recorded in the history as it arrives)."""
    await client.start_workflow("OutboundCallbackWorkflow", id=workflow_id, task_queue=settings.task_queue)
    started.append(workflow_id)


async def signals(client: Client, workflow_id: str) -> list[TelephonyEvent]:
    found: list[TelephonyEvent] = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = event.workflow_execution_signaled_event_attributes
            assert attrs.signal_name == "telephony_event"
            [decoded] = await client.data_converter.decode(attrs.input.payloads, [TelephonyEvent])
            found.append(decoded)
    return found


def status_params(call_sid: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "CallSid": call_sid,
        "CallStatus": "completed",
        "CallDuration": "42",
        "From": "+61255550100",
        "To": "+61491570156",
        "Direction": "outbound-api",
        **extra,
    }


async def post(
    http: httpx.AsyncClient, settings: Settings, path: str, params: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return await http.post(settings.public_api_url + path, content=urlencode(params), headers=headers)


async def test_a_signed_status_callback_signals_the_workflow_named_in_the_url(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    workflow_id = f"callback-sub-{uuid.uuid4().hex[:8]}"
    await waiting_workflow(temporal_client, gateway_settings, workflow_id, started)
    call_sid = f"CA{uuid.uuid4().hex}"
    path = f"/twilio/status?wf={workflow_id}"
    params = status_params(call_sid, AnsweredBy="human")

    response = await post(http, gateway_settings, path, params, twilio_signed(gateway_settings, path, params))

    assert response.status_code == 204, response.text
    assert await signals(temporal_client, workflow_id) == [
        TelephonyEvent(call_sid=call_sid, status="completed", answered_by="human", duration_s=42)
    ]


async def test_without_wf_the_inbound_call_workflow_is_signalled_and_amd_counts_as_answered(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    call_sid = f"CA{uuid.uuid4().hex}"
    await waiting_workflow(temporal_client, gateway_settings, f"call-{call_sid}", started)
    amd = {
        "AccountSid": "AC00000000000000000000000000000000",
        "CallSid": call_sid,
        "AnsweredBy": "machine_start",
        "MachineDetectionDuration": "2500",
    }
    path = "/twilio/status"
    response = await post(http, gateway_settings, path, amd, twilio_signed(gateway_settings, path, amd))

    assert response.status_code == 204, response.text
    assert await signals(temporal_client, f"call-{call_sid}") == [
        TelephonyEvent(call_sid=call_sid, status="in-progress", answered_by="machine_start")
    ]


async def test_a_bad_signature_is_403_and_signals_nothing(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    workflow_id = f"callback-sub-{uuid.uuid4().hex[:8]}"
    other_id = f"callback-sub-{uuid.uuid4().hex[:8]}"
    await waiting_workflow(temporal_client, gateway_settings, workflow_id, started)
    params = status_params(f"CA{uuid.uuid4().hex}")
    signed_for_other = twilio_signed(gateway_settings, f"/twilio/status?wf={other_id}", params)
    tampered = {**params, "CallStatus": "busy"}
    good = twilio_signed(gateway_settings, f"/twilio/status?wf={workflow_id}", params)
    path = f"/twilio/status?wf={workflow_id}"

    cases = [
        (params, {**good, "x-twilio-signature": "bm90IGEgc2lnbmF0dXJl"}),  # forged
        (params, {"content-type": "application/x-www-form-urlencoded"}),  # unsigned
        (params, signed_for_other),  # signed for another URL (the wf was changed)
        (tampered, good),  # a parameter changed after signing
    ]
    for body, headers in cases:
        response = await post(http, gateway_settings, path, body, headers)
        assert response.status_code == 403, response.text
    assert await signals(temporal_client, workflow_id) == []


async def test_a_callback_for_a_workflow_that_is_gone_is_204(
    http: httpx.AsyncClient, gateway_settings: Settings
) -> None:
    path = f"/twilio/status?wf=callback-never-{uuid.uuid4().hex[:8]}"
    params = status_params(f"CA{uuid.uuid4().hex}")
    response = await post(http, gateway_settings, path, params, twilio_signed(gateway_settings, path, params))
    assert response.status_code == 204, response.text
