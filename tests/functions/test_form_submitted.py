"""POST /callbacks through the local gateway, against the real dev server (and the form key in moto)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from infra import gateway
from switchboard.config import Settings
from switchboard.messages import CallbackRequest
from switchboard.models import Lead
from switchboard.search_attributes import LEAD_ID
from tests.functions.conftest import FORM_SECRET, LOCAL_SECRET, exists, form_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")


def form(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "submission_id": f"sub-{uuid.uuid4().hex[:12]}",
        "name": "Test Lead",
        "phone": "0491 570 156",
        "reason": "Wants a quote",
        "country": "AU",
        "consent_to_contact": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def post(http: httpx.AsyncClient, settings: Settings, body: bytes, **headers: str) -> httpx.Response:
    return await http.post(
        f"{settings.public_api_url}/callbacks", content=body, headers=headers or form_headers(body)
    )


async def started_input(client: Client, workflow_id: str) -> Lead:
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [request] = await client.data_converter.decode(payloads, [CallbackRequest])
            assert isinstance(request, CallbackRequest)
            return request.lead
    raise AssertionError("no start event")


async def test_valid_form_schedules_the_callback_workflow(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    body = form(timezone="Australia/Perth")
    raw = json.dumps(body).encode()
    response = await post(http, gateway_settings, raw)
    call_id = f"callback-{body['submission_id']}"
    started.append(call_id)

    assert response.status_code == 202, response.text
    assert response.json() == {"call_id": call_id, "status": "scheduled"}
    assert response.headers["apigw-requestid"]
    info = await temporal_client.get_workflow_handle(call_id).describe()
    assert info.workflow_type == "OutboundCallbackWorkflow"
    assert info.task_queue == gateway_settings.task_queue
    assert info.status == WorkflowExecutionStatus.RUNNING
    assert info.typed_search_attributes.get(LEAD_ID) == body["submission_id"]
    lead = await started_input(temporal_client, call_id)
    assert lead.phone == "+61491570156"  # normalised to E.164 at the edge
    assert (lead.timezone, lead.consent_to_contact, lead.name) == ("Australia/Perth", True, "Test Lead")


async def test_a_duplicate_answers_the_same_call_and_starts_nothing(
    http: httpx.AsyncClient, gateway_settings: Settings, temporal_client: Client, started: list[str]
) -> None:
    raw = json.dumps(form()).encode()
    first = await post(http, gateway_settings, raw)
    call_id = first.json()["call_id"]
    started.append(call_id)
    handle = temporal_client.get_workflow_handle(call_id)
    run_id = (await handle.describe()).run_id

    again = await post(http, gateway_settings, raw)  # while the call's workflow runs
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == {"call_id": call_id, "status": "duplicate"}
    assert (await handle.describe()).run_id == run_id

    await handle.terminate("the call is over")
    replayed = await post(http, gateway_settings, raw)  # after it closed: still never a second call
    assert replayed.status_code == 202
    assert replayed.json() == {"call_id": call_id, "status": "duplicate"}
    info = await handle.describe()
    assert (info.run_id, info.status) == (run_id, WorkflowExecutionStatus.TERMINATED)


def _bad(**overrides: Any) -> bytes:
    return json.dumps(form(**overrides)).encode()


BAD_FIELDS = [
    ("missing name", _bad(name=None), ["body", "name"], "missing"),
    ("missing phone", _bad(phone=None), ["body", "phone"], "missing"),
    ("unknown field", _bad(utm_source="ads"), ["body", "utm_source"], "extra_forbidden"),
    ("invalid number", _bad(phone="0491 57"), ["body", "phone"], "phone_invalid"),
    ("letters", _bad(phone="call me maybe"), ["body", "phone"], "phone_invalid"),
    ("premium rate", _bad(phone="1900 123 456"), ["body", "phone"], "phone_premium_rate"),
    (
        "US premium rate",
        _bad(phone="+1 900 555 0123", country=None, timezone="America/Chicago"),
        ["body", "phone"],
        "phone_premium_rate",
    ),
    ("short code", _bad(phone="131008"), ["body", "phone"], "phone_short_code"),
    ("emergency", _bad(phone="000"), ["body", "phone"], "phone_short_code"),
    ("no consent", _bad(consent_to_contact=False), ["body", "consent_to_contact"], "literal_error"),
    ("no place", _bad(country=None), ["body", "timezone"], "missing"),
    ("unknown zone", _bad(timezone="Mars/Olympus"), ["body", "timezone"], "timezone_unknown"),
    ("bad submission id", _bad(submission_id="../etc"), ["body", "submission_id"], "string_pattern_mismatch"),
]


@pytest.mark.parametrize(("body", "loc", "kind"), [c[1:] for c in BAD_FIELDS], ids=[c[0] for c in BAD_FIELDS])
async def test_each_bad_field_is_a_422_naming_it_and_starts_nothing(
    http: httpx.AsyncClient,
    gateway_settings: Settings,
    temporal_client: Client,
    body: bytes,
    loc: list[str],
    kind: str,
) -> None:
    response = await post(http, gateway_settings, body)
    assert response.status_code == 422, response.text
    assert {"loc": loc, "type": kind} in response.json()["detail"]
    submission = json.loads(body).get("submission_id", "")
    assert not await exists(temporal_client, f"callback-{submission}")


def _signed(body: bytes, **extra: str) -> dict[str, str]:
    return {**form_headers(body), **extra}


BAD_REQUESTS = [
    ("malformed JSON", b'{"submission_id": "sub-x",', None, 400),
    ("not an object", b'["sub-x"]', None, 422),
    ("wrong content type", _bad(), {"content-type": "text/plain"}, 415),
    ("form-encoded", b"submission_id=sub-x", {"content-type": "application/x-www-form-urlencoded"}, 415),
    ("over 16 KiB", _bad(reason="x" * 17_000), None, 413),
    ("over API Gateway's 10 MiB", b"{" + b" " * (11 * 1024 * 1024) + b"}", None, 413),
    ("bad signature", _bad(), {"x-switchboard-signature": "sha256=" + "0" * 64}, 401),
    ("signed with another key", _bad(), form_headers(_bad(), secret="not-the-key"), 401),
    ("signature of another body", _bad(), form_headers(_bad()), 401),
    ("no signature", _bad(), {"x-switchboard-signature": ""}, 401),
]


@pytest.mark.parametrize(
    ("body", "headers", "status"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
async def test_each_bad_request_gets_its_4xx_and_starts_nothing(
    http: httpx.AsyncClient,
    gateway_settings: Settings,
    temporal_client: Client,
    body: bytes,
    headers: dict[str, str] | None,
    status: int,
) -> None:
    response = await http.post(
        f"{gateway_settings.public_api_url}/callbacks", content=body, headers=_signed(body, **(headers or {}))
    )
    assert response.status_code == status, response.text
    try:
        submission = json.loads(body).get("submission_id", "")
    except (ValueError, AttributeError):
        submission = "sub-x"
    assert not await exists(temporal_client, f"callback-{submission}")


async def test_the_form_key_comes_from_secrets_manager_by_arn(
    http: httpx.AsyncClient, gateway_settings: Settings
) -> None:
    """The gateway's env also holds the plain local key; with an ARN configured, only the secret counts."""
    body = _bad()
    env_key = await post(
        http, gateway_settings, body, **form_headers(body, secret=gateway.local_form_secret())
    )
    assert env_key.status_code == 401
    secret_key = await post(http, gateway_settings, body, **form_headers(body, secret=FORM_SECRET))
    assert secret_key.status_code == 202


async def test_temporal_unreachable_is_a_quick_503_with_retry_after(
    http: httpx.AsyncClient, unreachable_settings: Settings, temporal_client: Client
) -> None:
    body = form()
    raw = json.dumps(body).encode()
    for _ in range(2):  # the cold and the warm environment alike
        began = time.monotonic()
        response = await post(http, unreachable_settings, raw, **form_headers(raw, secret=LOCAL_SECRET))
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) > 0
        assert time.monotonic() - began < 3.0
    assert not await exists(temporal_client, f"callback-{body['submission_id']}")


async def test_the_second_path_reaches_the_same_function(
    http: httpx.AsyncClient, gateway_settings: Settings, started: list[str]
) -> None:
    raw = json.dumps(form()).encode()
    response = await http.post(
        f"{gateway_settings.public_api_url}/forms/submissions", content=raw, headers=form_headers(raw)
    )
    started.append(response.json()["call_id"])
    assert response.status_code == 202
