"""The one way every part connects to Temporal: pydantic payloads, encrypted by the payload codec,
and Cloud auth by config.

``connect_client`` is the only place a ``Client`` is built, and ``data_converter`` the only place
a converter is: workers, the voice worker, the Lambdas, the dashboard, the CLI, the evals and the
replay tests all get pydantic payloads encrypted by ``switchboard.codec.EnvelopeCodec``, with
failure messages and stack traces encrypted too (they can quote a caller), and the tracing
interceptor (``switchboard.tracing``) that carries a call's one trace through every start, signal,
Update and activity; workers built on the client inherit it.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from typing import Self

from temporalio.client import Client
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RetryConfig

from switchboard import aws, tracing
from switchboard.codec import EnvelopeCodec, KeySource, KmsKeys
from switchboard.config import Settings, get_settings
from switchboard.people import PersonKeys

log = logging.getLogger(__name__)

# One codec per key configuration and process, so every client of a process shares the current
# data key and the cache of decrypted ones.
_codecs: dict[tuple[object, ...], EnvelopeCodec] = {}


def person_keys(settings: Settings | None = None) -> PersonKeys:
    """The people table of ``settings``, its data keys wrapped by the payloads' KMS key."""
    s = settings or get_settings()
    return PersonKeys(
        s.people_table, s.payload_kms_alias, lambda: aws.client("dynamodb", s), lambda: aws.client("kms", s)
    )


def payload_codec(settings: Settings | None = None, *, keys: KeySource | None = None) -> EnvelopeCodec:
    """The process's codec for ``settings`` (KMS key ``payload_kms_alias``), or one over ``keys`` (tests)."""
    s = settings or get_settings()
    tuning = (s.payload_key_rotate_s, s.payload_key_max_uses, s.payload_key_cache_s, s.person_key_cache_s)
    cache_key: tuple[object, ...] = (
        (keys,) if keys is not None else (s.aws_endpoint, s.aws_region, s.payload_kms_alias, s.people_table)
    ) + tuning
    codec = _codecs.get(cache_key)
    if codec is None:
        source = keys or KmsKeys(s.payload_kms_alias, lambda: aws.client("kms", s))
        codec = EnvelopeCodec(
            source,
            rotate_after_s=s.payload_key_rotate_s,
            rotate_after_uses=s.payload_key_max_uses,
            cache_ttl_s=s.payload_key_cache_s,
            people=person_keys(s) if keys is None and s.people_table else None,
            person_cache_s=s.person_key_cache_s,
        )
        _codecs[cache_key] = codec
    return codec


@dataclasses.dataclass(frozen=True)
class ContextConverter(DataConverter):
    """``DataConverter`` whose per-workflow copies are cheap.

    The payload codec answers each serialization context (a workflow, an activity of it) with a
    codec bound to that workflow's person key, so the SDK asks the converter for a copy per context:
    about 15 times per ``run_tool`` round trip. The SDK's own ``with_context`` copies with
    ``dataclasses.replace``, which builds a new pydantic payload converter and failure converter in
    ``__post_init__`` only to overwrite both (about 0.1 ms each time, measured in
    ``bench/bench_codec_updates.py``). This copy skips that construction and sets the same fields.
    """

    def with_context(self, context: SerializationContext) -> Self:
        parts = {}
        for name in ("payload_converter", "payload_codec", "failure_converter", "external_storage"):
            part = getattr(self, name)
            if isinstance(part, WithSerializationContext):
                scoped = part.with_context(context)
                if scoped is not part:
                    parts[name] = scoped
        if not parts:
            return self
        clone = copy.copy(self)  # no __init__, no __post_init__
        for name, part in parts.items():
            object.__setattr__(clone, name, part)
        return clone


def data_converter(settings: Settings | None = None, *, keys: KeySource | None = None) -> DataConverter:
    """Pydantic payloads through the payload codec; failures' messages encoded with them."""
    return ContextConverter(
        payload_converter_class=pydantic_data_converter.payload_converter_class,
        payload_codec=payload_codec(settings, keys=keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def metrics_runtime(settings: Settings, port: int) -> Runtime | None:
    """A Temporal runtime exporting the SDK's own metrics for Prometheus on
    ``settings.bind_address``:``port`` (``/metrics``), for a worker process's client.

    Names follow Prometheus' conventions (``temporal_workflow_task_schedule_to_start_latency_seconds``,
    ``temporal_activity_execution_failed_total``). A runtime is per process and its endpoint per
    port: only the workers make one, each on its own port. None when ``port`` is 0, or when the port
    is taken (a second worker on the same machine): that worker runs on, without SDK metrics.
    """
    if not port:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{settings.bind_address}:{port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as err:  # the core's "Failed starting Prometheus exporter: Address already in use"
        log.warning("no Temporal SDK metrics on port %d: %s", port, err)
        return None


async def connect_client(
    settings: Settings | None = None,
    *,
    fail_fast: bool = False,
    wait_s: float = 0.0,
    keys: KeySource | None = None,
    runtime: Runtime | None = None,
) -> Client:
    """Connect to the configured Temporal (local dev server, self-hosted or Temporal Cloud).

    With ``TEMPORAL_API_KEY`` set, TLS is switched on and the key is sent, as Temporal Cloud expects.
    ``fail_fast`` uses a tight retry budget, for request handlers that must answer quickly;
    ``wait_s`` keeps trying that long for a server that is still starting (workers at boot).
    ``keys`` replaces KMS as the source of data keys (tests and recorded fixtures only).
    ``runtime`` is a worker's :func:`metrics_runtime` (the SDK's default runtime otherwise).
    """
    s = settings or get_settings()
    api_key = s.temporal_api_key.get_secret_value() if s.temporal_api_key else None
    retry = RetryConfig(max_retries=2, max_elapsed_time_millis=2000) if fail_fast else RetryConfig()
    converter = data_converter(s, keys=keys)
    tracing.install(s)  # once per process; the interceptor below puts its context in every header
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await Client.connect(
                s.temporal_address,
                namespace=s.temporal_namespace,
                api_key=api_key,
                tls=bool(api_key),
                data_converter=converter,
                retry_config=retry,
                runtime=runtime,
                interceptors=tracing.interceptor(),
                # Headers through the codec too: the trace context rides in them, and nothing the
                # server keeps is left in plain text (tests/workflows/test_privacy.py).
                header_codec_behavior=HeaderCodecBehavior.CODEC,
            )
        except RuntimeError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.25)
