"""The Lambda functions behind the local gateway, over real HTTP, against the real dev server and moto.

``gateway`` runs ``python -m infra.gateway`` through the stack launcher (as ``switchboard up``
does) with the form key in Secrets Manager (moto) by ARN, as in AWS. ``gateway_without_temporal``
is a second gateway whose Temporal address is a closed port, with the plain local form key.
Every workflow a test starts runs on this session's own task queue and is terminated at the end.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator

from functions._forms import sign_body
from infra import gateway
from infra.stack import free_port
from infra.testing import running_stack
from switchboard import aws
from switchboard.config import LOCAL_HOST, Settings

FORM_SECRET = f"form-secret-{uuid.uuid4().hex}"
LOCAL_SECRET = f"local-secret-{uuid.uuid4().hex}"


def form_headers(
    body: bytes, secret: str = FORM_SECRET, content_type: str = "application/json"
) -> dict[str, str]:
    return {"content-type": content_type, "x-switchboard-signature": sign_body(secret, body)}


def twilio_signed(settings: Settings, path: str, params: dict[str, str]) -> dict[str, str]:
    """Headers for a webhook signed as Twilio signs it (the exact public URL + sorted params)."""
    url = settings.public_api_url + path
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(url, params)
    return {"x-twilio-signature": signature, "content-type": "application/x-www-form-urlencoded"}


async def exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


@pytest.fixture(scope="session")
def started() -> list[str]:
    """Workflow ids the tests caused to start; terminated by ``gateway`` at the end."""
    return []


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway_settings(
    stack: Settings, temporal_client: Client, tmp_path_factory: pytest.TempPathFactory, started: list[str]
) -> AsyncIterator[Settings]:
    secret_arn = aws.client("secretsmanager", stack).create_secret(
        Name=f"switchboard/form-{uuid.uuid4().hex[:8]}", SecretString=FORM_SECRET
    )["ARN"]
    settings = stack.model_copy(
        update={"home": tmp_path_factory.mktemp("gateway"), "task_queue": f"lambdas-{uuid.uuid4().hex[:8]}"}
    )
    spec = lambda s: [gateway.service(s, extra_env={"SWITCHBOARD_FORM_SECRET_ARN": secret_arn})]  # noqa: E731
    try:
        async with running_stack(settings, spec):
            yield settings
    finally:
        for workflow_id in started:
            with contextlib.suppress(RPCError):  # already closed
                await temporal_client.get_workflow_handle(workflow_id).terminate("test over")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def unreachable_settings(
    stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    closed, port = free_port(), free_port()
    home: Path = tmp_path_factory.mktemp("gateway-down")
    settings = stack.model_copy(
        update={
            "home": home,
            "temporal_address": f"{LOCAL_HOST}:{closed}",
            "ports": stack.ports.model_copy(update={"gateway": port}),
            "public_api_url": f"http://{LOCAL_HOST}:{port}",
        }
    )
    spec = lambda s: [gateway.service(s, extra_env={"SWITCHBOARD_FORM_SECRET": LOCAL_SECRET})]  # noqa: E731
    async with running_stack(settings, spec):
        yield settings


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15.0) as client:
        yield client
