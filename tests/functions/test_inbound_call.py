"""POST /twilio/voice through the local gateway: the CallWorkflow starts with the number's profile."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from switchboard.config import Settings
from switchboard.models import CallRequest, Direction
from switchboard.tokens import verify_stream_token
from tests.functions.conftest import exists, twilio_signed

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLINIC = "+61255550101"
CALLER = "+61491570157"


def voice_params(call_sid: str, to: str) -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": CALLER,
        "To": to,
        "Called": to,
        "Caller": CALLER,
    }


async def call(http: httpx.AsyncClient, settings: Settings, params: dict[str, str]) -> httpx.Response:
    headers = twilio_signed(settings, "/twilio/voice", params)
    return await http.post(
        f"{settings.public_api_url}/twilio/voice", content=urlencode(params), headers=headers
    )


async def started_request(client: Client, workflow_id: str) -> CallRequest:
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [request] = await client.data_converter.decode(payloads, [CallRequest])
            assert isinstance(request, CallRequest)
            return request
    raise AssertionError("no start event")


async def test_an_inbound_call_starts_its_workflow_and_streams_to_the_voice_worker(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    call_sid = f"CA{uuid.uuid4().hex}"
    call_id = f"call-{call_sid}"
    response = await call(http, gateway_settings, voice_params(call_sid, CLINIC))
    started.append(call_id)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    stream = ElementTree.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == gateway_settings.public_voice_url
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters["call_id"] == call_id
    secret = gateway_settings.stream_secret.get_secret_value()
    assert verify_stream_token(call_id, parameters["token"] or "", secret)
    assert not verify_stream_token(f"call-CA{uuid.uuid4().hex}", parameters["token"] or "", secret)

    info = await temporal_client.get_workflow_handle(call_id).describe()
    assert (info.workflow_type, info.task_queue) == ("CallWorkflow", gateway_settings.task_queue)
    assert info.status == WorkflowExecutionStatus.RUNNING
    assert await started_request(temporal_client, call_id) == CallRequest(
        call_id=call_id,
        direction=Direction.INBOUND,
        profile="clinic_booking",
        to_number=CLINIC,
        from_number=CALLER,
        call_sid=call_sid,
    )

    retry = await call(http, gateway_settings, voice_params(call_sid, CLINIC))  # Twilio retries webhooks
    assert retry.status_code == 200
    assert (await temporal_client.get_workflow_handle(call_id).describe()).run_id == info.run_id


async def test_the_dialled_number_picks_the_profile(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    call_sid = f"CA{uuid.uuid4().hex}"
    response = await call(http, gateway_settings, voice_params(call_sid, "+61 2 5555 0102"))
    started.append(f"call-{call_sid}")
    assert response.status_code == 200, response.text
    assert (await started_request(temporal_client, f"call-{call_sid}")).profile == "law_intake"


async def test_an_unknown_number_hears_a_polite_goodbye_and_starts_nothing(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client
) -> None:
    call_sid = f"CA{uuid.uuid4().hex}"
    response = await call(http, gateway_settings, voice_params(call_sid, "+61255550199"))

    assert response.status_code == 200, response.text
    twiml = ElementTree.fromstring(response.text)
    assert [verb.tag for verb in twiml] == ["Say", "Hangup"]
    assert "not in service" in (twiml[0].text or "")
    assert not await exists(temporal_client, f"call-{call_sid}")


async def test_an_unsigned_voice_webhook_is_403_and_starts_nothing(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client
) -> None:
    call_sid = f"CA{uuid.uuid4().hex}"
    params = voice_params(call_sid, CLINIC)
    headers = {**twilio_signed(gateway_settings, "/twilio/voice", params), "x-twilio-signature": "AAAA"}
    response = await http.post(
        f"{gateway_settings.public_api_url}/twilio/voice", content=urlencode(params), headers=headers
    )
    assert response.status_code == 403
    assert not await exists(temporal_client, f"call-{call_sid}")


async def test_temporal_unreachable_the_caller_hears_an_apology(
    http: httpx.AsyncClient, unreachable_settings: Settings
) -> None:
    response = await call(http, unreachable_settings, voice_params(f"CA{uuid.uuid4().hex}", CLINIC))
    assert response.status_code == 200, response.text
    assert [verb.tag for verb in ElementTree.fromstring(response.text)] == ["Say", "Hangup"]
