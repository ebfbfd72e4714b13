"""What every function keeps per execution environment: one event loop, one Temporal client, secrets.

The SDK's client "should only be used in the event loop [it was] first connected in", so each
function module holds one ``TemporalRuntime`` at module level: a private loop and a lazily
connected client, reused by every warm invocation. Each call has a hard deadline well under
API Gateway's 30 s, and a Temporal that cannot be reached becomes ``TemporalUnavailable`` (the
routes answer 503 with ``Retry-After``) instead of a hung or half-done request.

A handler that starts or signals a workflow does it inside :func:`traced`: an OpenTelemetry span
whose parent is the invocation's X-Ray segment (the trace id is X-Ray's), so the workflow's spans,
made by the client's tracing interceptor, continue the same trace (see ``switchboard/tracing.py``).

Secrets come from Secrets Manager by ARN (``*_SECRET_ARN``; cached 5 minutes, so a rotation is
picked up) and fall back to the plain local setting when no ARN is configured.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from opentelemetry import context as otel_context
from opentelemetry.util.types import AttributeValue
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from switchboard import aws, tracing
from switchboard.config import Settings, get_settings
from switchboard.people import NotAPhoneNumber, person_id
from switchboard.temporal import connect_client, person_keys

T = TypeVar("T")

SECRET_MAX_AGE_S = 300
RETRY_AFTER_S = 5
# Statuses that mean "Temporal is not there right now", as opposed to a request it refused.
_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


class TemporalUnavailable(RuntimeError):
    """Temporal could not be reached within the deadline; nothing was started or signalled."""


def retry_later() -> Response[str]:
    """A webhook refused while Temporal is unreachable: 503 with ``Retry-After`` (Twilio and
    API Gateway clients retry it), nothing changed."""
    return Response(
        status_code=503,
        content_type=content_types.TEXT_PLAIN,
        headers={"Retry-After": str(RETRY_AFTER_S)},
        body="",
    )


@cache
def _secrets() -> SecretsProvider:
    return SecretsProvider(boto3_client=aws.client("secretsmanager", get_settings()))


def secret(arn_variable: str, fallback: SecretStr | str | None) -> str:
    """The secret named by the ARN in ``arn_variable``, else ``fallback`` (local runs); "" if neither."""
    arn = os.environ.get(arn_variable, "").strip()
    if arn:
        value: Any = _secrets().get(arn, max_age=SECRET_MAX_AGE_S)
        return value.decode() if isinstance(value, bytes) else str(value)
    if isinstance(fallback, SecretStr):
        return fallback.get_secret_value()
    return fallback or ""


class TemporalRuntime:
    """A module-level loop and a cached client; ``run(op)`` calls Temporal with a hard deadline."""

    def __init__(self, settings: Settings | None = None, *, deadline_s: float = 4.0) -> None:
        self.settings = settings or get_settings()
        self.deadline_s = deadline_s
        self.loop = asyncio.new_event_loop()
        self._client: Client | None = None

    async def _connect(self) -> Client:
        if self._client is None:
            key = secret("TEMPORAL_API_KEY_SECRET_ARN", self.settings.temporal_api_key)
            settings = self.settings.model_copy(update={"temporal_api_key": SecretStr(key) if key else None})
            try:
                self._client = await connect_client(settings, fail_fast=True)
            except RuntimeError as err:  # "Failed client connect": refused, DNS, TLS
                raise TemporalUnavailable(str(err)) from err
        return self._client

    def run(self, op: Callable[[Client], Awaitable[T]]) -> T:
        """Run ``op(client)`` on this environment's loop; raises TemporalUnavailable on outage or deadline."""

        async def call() -> T:
            return await op(await self._connect())

        try:
            return self.loop.run_until_complete(asyncio.wait_for(call(), self.deadline_s))
        except TimeoutError as err:
            raise TemporalUnavailable(f"no answer from Temporal within {self.deadline_s} s") from err
        except RPCError as err:
            if err.status in _UNAVAILABLE:
                raise TemporalUnavailable(f"Temporal unavailable: {err.status.name}") from err
            raise


def assign_person(settings: Settings, scope: str, number: str) -> bool:
    """Give the person on ``number`` their data key for ``scope`` (made on their first call), so the
    call's payloads are sealed under it. False when the number names nobody (withheld, invalid):
    the call then uses the shared keys. Call before starting the scope's workflow."""
    if not settings.people_table:
        return False
    pepper = secret("SWITCHBOARD_PERSON_PEPPER_SECRET_ARN", settings.person_pepper)
    try:
        person = person_id(number, pepper)
    except NotAPhoneNumber:
        return False
    person_keys(settings).assign(scope, person)
    return True


def person_of(settings: Settings, number: str) -> str | None:
    """The ``person_id`` of the person on ``number``; None without a people table or a valid number."""
    if not settings.people_table:
        return None
    pepper = secret("SWITCHBOARD_PERSON_PEPPER_SECRET_ARN", settings.person_pepper)
    try:
        return person_id(number, pepper)
    except NotAPhoneNumber:
        return None


def opted_out(settings: Settings, number: str) -> bool:
    """Whether the person on ``number`` is on the business's do-not-contact list (replied STOP)."""
    person = person_of(settings, number)
    return person is not None and person_keys(settings).opted_out(person)


@contextmanager
def traced(
    settings: Settings, name: str, attributes: dict[str, AttributeValue] | None = None
) -> Iterator[None]:
    """A span around a handler's Temporal work, under the invocation's X-Ray trace when there is one
    (its id recorded as ``aws.xray.trace_id``), exported before the handler returns."""
    tracing.install(settings)
    parent, xray_id = tracing.xray_context()
    token = otel_context.attach(parent) if parent is not None else None
    try:
        extra = {"aws.xray.trace_id": xray_id} if xray_id else {}
        with tracing.span(name, {**(attributes or {}), **extra}):
            yield
    finally:
        if token is not None:
            otel_context.detach(token)
        tracing.flush()
