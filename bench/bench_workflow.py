"""Benchmark: the call workflow's own overhead on the dev server (SQLite, as ``make up`` runs it).

1. ``run_tool`` Update → result round trip for a real tool (check_availability, a local activity
   on the demo business system), against the baseline of an Update that runs no activity
   (``record_consent``) measured in the same run. Goal: p99 ≤ 25 ms.
2. ``end_call`` intent → hung up, beyond the goodbye audio: from the moment the conversation
   ends (the goodbye has played and the stream closed) to the hangup REST call completed at the
   phone network, through the workflow and the ``hangup`` activity. Goal ≤ 150 ms.

Run: ``.venv/bin/python -m bench.bench_workflow``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench.common import percentiles, report
from infra import services
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.config import Settings
from switchboard.messages import (
    ConsentAnswer,
    ConverseInput,
    ConverseResult,
    EndReason,
    StreamAttached,
    ToolCallRequest,
)
from switchboard.models import CallRequest, Direction, ToolCall
from switchboard.telephony import twilio_client
from switchboard.temporal import connect_client
from workflows.call import CallWorkflow
from workflows.worker import build_worker

ROUNDS = 200
WARMUP = 10
HANGUPS = 20


def _day() -> str:
    d = date.today() + timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d.isoformat()


async def bench_updates(client: Client, settings: Settings) -> dict[str, dict[str, float]]:
    release = asyncio.Event()
    host = f"bench-{uuid.uuid4().hex[:6]}"

    @activity.defn(name="converse")
    async def converse(inp: ConverseInput) -> ConverseResult:
        while not release.is_set():
            activity.heartbeat()
            await asyncio.sleep(0.5)
        return ConverseResult(end_reason=EndReason.CALLER_HUNG_UP)

    call_id = f"bench-{uuid.uuid4()}"
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
                from_number="+61400000000",
            ),
            id=call_id,
            task_queue=settings.task_queue,
        )
        await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZbench"))
        await _until_in_conversation(handle)
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))  # tools need it
        tool_ms: list[float] = []
        base_ms: list[float] = []
        day = _day()
        for i in range(WARMUP + ROUNDS):
            req = ToolCallRequest(
                call=ToolCall(call_id=f"c{i}", name="check_availability", arguments={"date": day})
            )
            t0 = time.perf_counter()
            result = await handle.execute_update(CallWorkflow.run_tool, req)
            t1 = time.perf_counter()
            await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
            t2 = time.perf_counter()
            assert result.ok, result.error
            if i >= WARMUP:
                tool_ms.append((t1 - t0) * 1000)
                base_ms.append((t2 - t1) * 1000)
        release.set()
        await handle.result()
    return {
        "run_tool_update_ms": percentiles(tool_ms),
        "baseline_update_no_activity_ms": percentiles(base_ms),
    }


async def _until_in_conversation(handle: Any) -> None:
    for _ in range(1000):
        if (await handle.query(CallWorkflow.view)).status == "disclosure":
            return
    raise TimeoutError("the call never reached its conversation")


async def _until_status(twilio: Any, sid: str, status: str) -> None:
    """Watch the call from outside, as the provider reports it (each look costs ~2–4 ms)."""
    for _ in range(5000):
        if await asyncio.to_thread(lambda: twilio.calls(sid).fetch().status) == status:
            return
    raise TimeoutError(f"the call never became {status}")


async def bench_hangup(client: Client, settings: Settings) -> dict[str, float]:
    """Conversation over → the provider reports the call completed."""
    twilio = twilio_client(settings)
    samples: list[float] = []
    ended_at: dict[str, float] = {}
    host = f"bench-{uuid.uuid4().hex[:6]}"

    @activity.defn(name="converse")
    async def converse(inp: ConverseInput) -> ConverseResult:
        ended_at[inp.call_id] = time.perf_counter()  # the goodbye has played; the stream is closed
        return ConverseResult(end_reason=EndReason.AGENT_ENDED)

    async with (
        build_worker(client, settings),
        Worker(client, task_queue=f"voice-{host}", activities=[converse]),
    ):
        for _ in range(HANGUPS):
            call = await asyncio.to_thread(
                twilio.calls.create,
                to="+61491570006",
                from_="+61255550100",
                twiml='<Response><Pause length="60"/></Response>',
            )
            await _until_status(twilio, call.sid, "in-progress")
            call_id = f"bench-{uuid.uuid4()}"
            handle = await client.start_workflow(
                CallWorkflow.run,
                CallRequest(
                    call_id=call_id,
                    direction=Direction.OUTBOUND,
                    profile="job_status",
                    to_number="+61491570006",
                    from_number="+61255550100",
                    call_sid=call.sid,
                ),
                id=call_id,
                task_queue=settings.task_queue,
            )
            await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZbench"))
            await _until_status(twilio, call.sid, "completed")
            samples.append((time.perf_counter() - ended_at[call_id]) * 1000)
            await handle.result()
    return percentiles(samples)


async def main() -> None:
    from infra.phone import service as phone_service

    with tempfile.TemporaryDirectory() as home:
        settings = isolated_settings(Path(home))

        in_memory = os.environ.get("BENCH_TEMPORAL_IN_MEMORY") == "1"

        def stack(s: Settings) -> list[ServiceSpec]:
            return [services.temporal(s, in_memory=in_memory), services.moto(s), phone_service(s)]

        async with running_stack(settings, stack):
            client = await connect_client(settings)
            updates = await bench_updates(client, settings)
            hangup = await bench_hangup(client, settings)
    tool, base = updates["run_tool_update_ms"], updates["baseline_update_no_activity_ms"]
    figures = {
        **updates,
        "tool_vs_baseline_p50_ratio": tool["p50"] / base["p50"],
        "end_call_to_hung_up_ms": hangup,
        "goal_run_tool_p99_le_25ms": tool["p99"] <= 25,
        "goal_hangup_p50_le_150ms": hangup["p50"] <= 150,
    }
    store = "in memory" if os.environ.get("BENCH_TEMPORAL_IN_MEMORY") == "1" else "with a SQLite file"
    name = "workflow_in_memory" if store == "in memory" else "workflow"
    report(name, figures, notes=f"dev server {store}; one worker in this process; loopback only")


if __name__ == "__main__":
    asyncio.run(main())
