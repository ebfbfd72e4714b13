"""The Lambda artifact, built for this machine (the twin), runs every handler with nothing but itself.

Each handler runs in ``python -I -S -B`` with only the artifact and the runtime's boto3 on its path
(``deploy/invoke.py``), against the real dev server and moto, with API Gateway v2 events built as
the local gateway builds them. Taking one dependency out of a copy of the twin must break it.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.service import RPCError

from deploy.twin import LAMBDA_RUNTIME_ENV, Twin, TwinFunction, build_twin
from functions._forms import sign_body
from infra.gateway import function_env, handler_env
from infra.gateway_events import LambdaRoute, http_event, routes_from_template
from infra.stack import free_port
from switchboard import aws
from switchboard.config import LOCAL_HOST, Settings
from tests.functions.conftest import twilio_signed

pytestmark = pytest.mark.asyncio(loop_scope="session")

FORM_SECRET = f"twin-form-{uuid.uuid4().hex}"
ROUTES = {route.path: route for route in routes_from_template()}


@pytest.fixture(scope="session")
def twin() -> Twin:
    return build_twin()  # cached in .local/lambda/ once built (the first build downloads wheels)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def twin_settings(stack: Settings, temporal_client: Client) -> AsyncIterator[Settings]:
    """The stack's settings on a task queue of their own; every workflow on it is terminated after."""
    settings = stack.model_copy(update={"task_queue": f"twin-{uuid.uuid4().hex[:8]}"})
    yield settings
    query = f"TaskQueue = '{settings.task_queue}' AND ExecutionStatus = 'Running'"
    async for execution in temporal_client.list_workflows(query):
        with contextlib.suppress(RPCError):
            await temporal_client.get_workflow_handle(execution.id).terminate("test over")


def lambda_env(settings: Settings, route: LambdaRoute, **extra: str) -> dict[str, str]:
    """What Lambda gives the function: the template's variables (local values) and X-Ray on."""
    env = {k: v for k, v in handler_env(settings).items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.pop("SWITCHBOARD_FORM_SECRET", None)
    return (
        env
        | function_env(route.function, route.env)
        | LAMBDA_RUNTIME_ENV
        | {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_XRAY_DAEMON_ADDRESS": f"{LOCAL_HOST}:{free_port()}",  # nobody listens: segments go nowhere
            **extra,
        }
    )


def event(route: LambdaRoute, body: bytes, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    return http_event(
        route,
        method="POST",
        path=route.path,
        query_string=query,
        headers=list(headers.items()),
        body=body,
        source_ip=LOCAL_HOST,
        request_id=uuid.uuid4().hex,
    )


def result(reply: dict[str, Any]) -> dict[str, Any]:
    assert "result" in reply, reply.get("error")
    answer: dict[str, Any] = reply["result"]
    return answer


async def test_every_handler_loads_from_the_twin_alone_and_answers_its_event(
    twin: Twin, twin_settings: Settings, temporal_client: Client
) -> None:
    settings = twin_settings
    secret_arn = aws.client("secretsmanager", settings).create_secret(
        Name=f"switchboard/twin-form-{uuid.uuid4().hex[:8]}", SecretString=FORM_SECRET
    )["ARN"]
    call_sid = f"CA{uuid.uuid4().hex}"
    submission = f"twin-{uuid.uuid4().hex[:12]}"
    print(f"twin: CPython {twin.version} ({twin.python}), {twin.artifact}")

    route = ROUTES["/callbacks"]
    form = {"submission_id": submission, "name": "Twin Lead", "phone": "0491 570 156", "country": "AU"}
    body = json.dumps(form | {"consent_to_contact": True}).encode()
    headers = {"content-type": "application/json", "x-switchboard-signature": sign_body(FORM_SECRET, body)}
    with TwinFunction(
        twin, route.handler, lambda_env(settings, route, SWITCHBOARD_FORM_SECRET_ARN=secret_arn)
    ) as fn:
        assert fn.loaded["foreign"] == [], "modules loaded from outside the artifact"
        assert fn.loaded["module_file"].startswith(str(twin.artifact))
        answer = result(fn.invoke(event(route, body, headers)))
    assert answer["statusCode"] == 202, answer
    assert json.loads(answer["body"]) == {"call_id": f"callback-{submission}", "status": "scheduled"}
    info = await temporal_client.get_workflow_handle(f"callback-{submission}").describe()
    assert (info.workflow_type, info.task_queue) == ("OutboundCallbackWorkflow", settings.task_queue)

    route = ROUTES["/twilio/voice"]
    params = {"CallSid": call_sid, "From": "+61491570157", "To": "+61255550101", "CallStatus": "ringing"}
    with TwinFunction(twin, route.handler, lambda_env(settings, route)) as fn:
        assert fn.loaded["foreign"] == []
        signed = twilio_signed(settings, route.path, params)
        answer = result(fn.invoke(event(route, urlencode(params).encode(), signed)))
    assert answer["statusCode"] == 200, answer
    stream = ElementTree.fromstring(answer["body"]).find("./Connect/Stream")
    assert stream is not None and stream.get("url") == settings.public_voice_url
    info = await temporal_client.get_workflow_handle(f"call-{call_sid}").describe()
    assert info.workflow_type == "CallWorkflow"

    route = ROUTES["/twilio/status"]
    params = {"CallSid": call_sid, "CallStatus": "completed", "CallDuration": "7"}
    with TwinFunction(twin, route.handler, lambda_env(settings, route)) as fn:
        assert fn.loaded["foreign"] == []
        signed = twilio_signed(settings, route.path, params)
        answer = result(fn.invoke(event(route, urlencode(params).encode(), signed)))
    assert answer["statusCode"] == 204, answer
    history = [
        e async for e in temporal_client.get_workflow_handle(f"call-{call_sid}").fetch_history_events()
    ]
    assert any(
        e.workflow_execution_signaled_event_attributes.signal_name == "telephony_event" for e in history
    )


def without(artifact: Path, distribution: str, into: Path) -> Path:
    """A copy of ``artifact`` (links to its entries) missing one distribution's package and metadata."""
    into.mkdir()
    for entry in artifact.iterdir():
        if entry.name == distribution or entry.name.startswith(f"{distribution}-"):
            continue
        (into / entry.name).symlink_to(entry)
    return into


@pytest.mark.parametrize(("distribution", "path"), [("twilio", "/twilio/status"), ("pydantic", "/callbacks")])
async def test_a_twin_missing_one_dependency_fails(
    twin: Twin, twin_settings: Settings, tmp_path: Path, distribution: str, path: str
) -> None:
    route = ROUTES[path]
    broken = without(twin.artifact, distribution, tmp_path / "artifact")
    with TwinFunction(twin, route.handler, lambda_env(twin_settings, route), artifact=broken) as fn:
        assert "init_error" in fn.loaded
        assert f"No module named '{distribution}'" in fn.loaded["init_error"]
        with pytest.raises(RuntimeError, match=distribution):
            fn.invoke(event(route, b"", {}))
