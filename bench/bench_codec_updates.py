"""Benchmark: what encryption adds to a ``run_tool`` Update round trip on the dev server.

Three live calls in one run, on the same server, each with its own worker and task queue:
- *plain*: a client and worker with the pydantic converter only (no codec: the floor);
- *identity_codec*: the same with a codec that changes nothing, which shows what the SDK's own
  codec path costs (it walks every activation and completion for payloads) before any crypto;
- *encrypted*: the production client (``connect_client``), the caller given their own data key
  first as the ``inbound_call`` function does, so every payload of the call is sealed under the
  person's key found through the people table (moto's DynamoDB and KMS).

Each round runs one ``run_tool`` Update (``check_availability``, a local activity on the demo
business system) on each call, the order rotating round by round so none is always first.
Reported: the three distributions, the added cost (p50 − p50, p99 − p99) and the per-round paired
differences. Goal: ≤ 2 ms added at p99.

Run: ``.venv/bin/python -m bench.bench_codec_updates``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec
from temporalio.worker import Worker

from bench.common import percentiles, report
from functions._runtime import assign_person
from infra import services
from infra.testing import isolated_settings, running_stack
from switchboard.codec import META_PERSON_KEY
from switchboard.config import Settings
from switchboard.messages import (
    ConsentAnswer,
    ConverseInput,
    ConverseResult,
    EndReason,
    StreamAttached,
    ToolCallRequest,
)
from switchboard.models import CallOutcome, CallRequest, Direction, ToolCall
from switchboard.temporal import connect_client
from workflows.call import CallWorkflow
from workflows.worker import build_worker

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
WARMUP = 20
CALLER = "+61412345678"


def _day() -> str:
    d = date.today() + timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d.isoformat()


@contextlib.asynccontextmanager
async def live_call(
    client: Client, settings: Settings, *, keyed: bool
) -> AsyncIterator[WorkflowHandle[CallWorkflow, CallOutcome]]:
    """A call in its conversation (consent given), on a worker of its own, until the block ends."""
    release = asyncio.Event()
    host = f"bench-{uuid.uuid4().hex[:6]}"

    @activity.defn(name="converse")
    async def converse(inp: ConverseInput) -> ConverseResult:
        while not release.is_set():
            activity.heartbeat()
            await asyncio.sleep(0.5)
        return ConverseResult(end_reason=EndReason.CALLER_HUNG_UP)

    call_id = f"call-bench-{uuid.uuid4()}"
    if keyed:
        assert await asyncio.to_thread(assign_person, settings, call_id, CALLER)
    async with (
        build_worker(client, settings),
        Worker(client, task_queue=f"voice-{host}", activities=[converse]),
    ):
        handle = await client.start_workflow(
            CallWorkflow.run,
            CallRequest(
                call_id=call_id,
                direction=Direction.INBOUND,
                profile="clinic_booking",
                to_number="+61255550100",
                from_number=CALLER,
            ),
            id=call_id,
            task_queue=settings.task_queue,
        )
        await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZbench"))
        for _ in range(1000):
            if (await handle.query(CallWorkflow.view)).status == "disclosure":
                break
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
        try:
            yield handle
        finally:
            release.set()
            await handle.result()


async def sealed_under_person_key(client: Client, call_id: str) -> bool:
    first = (await client.get_workflow_handle(call_id).fetch_history()).events[0]
    return bool(
        first.workflow_execution_started_event_attributes.input.payloads[0].metadata.get(META_PERSON_KEY)
    )


class IdentityCodec(PayloadCodec):
    """A codec that changes nothing: what the SDK's codec path costs before any cryptography."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def bench(settings: Settings) -> dict[str, Any]:
    def client_with(codec: PayloadCodec | None) -> Awaitable[Client]:
        converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec)
        return Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, data_converter=converter
        )

    clients = {
        "plain": await client_with(None),
        "identity_codec": await client_with(IdentityCodec()),
        "encrypted": await connect_client(settings),  # the production client: envelope codec, person keys
    }
    day = _day()
    times: dict[str, list[float]] = {name: [] for name in clients}
    cpu_ms: dict[str, list[float]] = {name: [] for name in clients}  # this process: clients and workers
    async with contextlib.AsyncExitStack() as calls:
        handles = {
            name: await calls.enter_async_context(
                live_call(
                    client,
                    settings.model_copy(update={"task_queue": f"calls-{name}"}),
                    keyed=name == "encrypted",
                )
            )
            for name, client in clients.items()
        }
        order = list(handles)
        for i in range(WARMUP + ROUNDS):
            order = order[1:] + order[:1]  # each variant goes first, second and third in turn
            for name in order:
                req = ToolCallRequest(
                    call=ToolCall(call_id=f"c{i}", name="check_availability", arguments={"date": day})
                )
                start, cpu = time.perf_counter(), time.process_time()
                result = await handles[name].execute_update(CallWorkflow.run_tool, req)
                took, cpu_took = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
                assert result.ok, result.error
                if i >= WARMUP:
                    times[name].append(took)
                    cpu_ms[name].append(cpu_took)
        enc_id = handles["encrypted"].id
    assert await sealed_under_person_key(clients["encrypted"], enc_id), (
        "the encrypted call was not person-keyed"
    )
    p = {name: percentiles(ms) for name, ms in times.items()}

    def paired(a: str, b: str) -> dict[str, float]:
        return percentiles([x - y for x, y in zip(times[a], times[b], strict=True)])

    return {
        **{f"run_tool_{name}_ms": v for name, v in p.items()},
        **{f"cpu_in_process_{name}_ms": percentiles(v) for name, v in cpu_ms.items()},
        "added_by_encryption_p50_ms": p["encrypted"]["p50"] - p["plain"]["p50"],
        "added_by_encryption_p99_ms": p["encrypted"]["p99"] - p["plain"]["p99"],
        "encrypted_minus_plain_per_round_ms": paired("encrypted", "plain"),
        "encrypted_minus_identity_codec_per_round_ms": paired("encrypted", "identity_codec"),
        "identity_codec_minus_plain_per_round_ms": paired("identity_codec", "plain"),
        "encrypted_vs_plain_p50_ratio": p["encrypted"]["p50"] / p["plain"]["p50"],
        "goal_added_p99_le_2ms": p["encrypted"]["p99"] - p["plain"]["p99"] <= 2.0,
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = isolated_settings(Path(home))
        async with running_stack(settings, lambda s: [services.temporal(s), services.moto(s)]):
            figures = await bench(settings)
    report(
        "codec_updates",
        figures,
        notes=(
            f"{ROUNDS} rounds after {WARMUP} warm-up, plain and encrypted alternating; dev server with a"
            " SQLite file; both workers in this process; moto for KMS and DynamoDB; loopback only"
        ),
    )


if __name__ == "__main__":
    asyncio.run(main())
