"""A live call survives its voice worker (#15), end to end: two voice workers behind haproxy, a
booking call, and the worker holding it killed (SIGKILL) or drained (SIGTERM) mid-call.

The phone network runs the call's ``<Redirect>`` when the stream drops, ``POST /twilio/resume``
asks the workflow, and the call goes on from the other worker with the conversation so far."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import numpy as np
import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from activities.business import BUSINESS_FILE
from activities.tools.profiles import load_profile
from infra import services
from infra.phone.client import SimClient
from infra.phone.heard import resume_delays_ms, resume_gaps_ms
from infra.stack import Stack
from infra.testing import isolated_settings, running_stack
from infra.voice_pool import worker_settings
from switchboard import aws
from switchboard.audit import fetch_timeline
from switchboard.config import Settings
from switchboard.models import CallOutcome, Outcome
from switchboard.recording_segments import from_wav, list_segments
from switchboard.temporal import connect_client
from tests.e2e.test_booking_call import CALLER, CLINIC, booking_script, next_weekday_name
from workflows.call import CallWorkflow
from workflows.resume import GAVE_UP, MAX_RESUMES

WORKERS = 2
WAIT = {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 25000}}
CONSENT = {"say": "Yes, that's fine, you can record the call."}
SHORT = {  # consent, then goodbye
    "name": "short-call",
    "steps": [
        WAIT,
        CONSENT,
        WAIT,
        {"say": "That's all, thank you. Goodbye."},
        {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 15000}},
    ],
    "after_steps": "hangup",
    "max_duration_ms": 90000,
}
LIVE = re.compile(r"^switchboard_voice_live_calls (\d+)", re.M)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Settings, Stack, Client]]:
    """The call stack with two voice workers behind haproxy (its own, for this module)."""
    settings = isolated_settings(
        tmp_path_factory.mktemp("pool"), calling_hours="always", voice_workers=WORKERS
    )
    async with running_stack(settings, lambda s: services.call_stack(s, voice_workers=WORKERS)) as stack:
        assert stack.pid("voice-lb") is not None, "haproxy is not installed: make up installs it"
        yield settings, stack, await connect_client(settings)


async def live_calls(settings: Settings, n: int) -> int:
    url = f"http://127.0.0.1:{worker_settings(settings, n).ports.voice}/metrics"
    async with httpx.AsyncClient(timeout=2.0) as http:
        found = LIVE.search((await http.get(url)).text)
    return int(found.group(1)) if found else 0


async def holding_worker(settings: Settings) -> int:
    """The worker (1-based) whose conversation holds the one live call."""
    for _ in range(100):
        for n in range(1, WORKERS + 1):
            if await live_calls(settings, n) > 0:
                return n
        await asyncio.sleep(0.1)
    raise AssertionError("no worker holds the call")


async def until_consent(client: Client, call_id: str, timeout_s: float = 60) -> None:
    handle = client.get_workflow_handle(call_id)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(RPCError):  # not started yet
            if (await handle.query(CallWorkflow.view)).consent is not None:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("consent never recorded")


async def healthz(settings: Settings, n: int) -> int:
    url = f"http://127.0.0.1:{worker_settings(settings, n).ports.voice}/healthz"
    async with httpx.AsyncClient(timeout=2.0) as http:
        return (await http.get(url)).status_code


async def until_tool(client: Client, call_id: str, tool: str, timeout_s: float = 120) -> None:
    handle = client.get_workflow_handle(call_id)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(RPCError):  # not started yet
            if any(r.name == tool and r.ok for r in await handle.query(CallWorkflow.get_tool_calls)):
                return
        await asyncio.sleep(0.1)
    said = [f"{t.speaker}: {t.text}" for t in await handle.query(CallWorkflow.get_transcript)]
    raise AssertionError(f"{tool} never ran: {said}")


def bookings(settings: Settings, day: date) -> int:
    with sqlite3.connect(settings.home / BUSINESS_FILE) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM slots WHERE day = ? AND booked_by IS NOT NULL", (day.isoformat(),)
        ).fetchone()
    return int(count)


async def history_of(client: Client, call_id: str) -> dict[str, Any]:
    """What the history shows of the resume: converse's task queues, the resume Updates, streams."""
    history = await client.get_workflow_handle(call_id).fetch_history()
    queues, updates, streams = [], [], 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == "converse":
                queues.append(attrs.task_queue.name)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            updates.append(
                event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            )
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            streams += event.workflow_execution_signaled_event_attributes.signal_name == "stream_attached"
    return {"converse_queues": queues, "updates": updates, "streams": streams}


async def start_call(sim: SimClient, script: dict[str, Any]) -> str:
    return await sim.inbound_call({"from": CALLER, "to": CLINIC, "caller": {"script": script}})


async def finish(sim: SimClient, client: Client, sid: str) -> tuple[dict[str, Any], CallOutcome]:
    call = await sim.wait(sid, timeout_s=240)
    handle = client.get_workflow_handle_for(CallWorkflow.run, f"call-{sid}")
    return call, await asyncio.wait_for(handle.result(), 120)


def kill(stack: Stack, name: str, sig: signal.Signals) -> int:
    """SIGKILL takes the whole host (the worker's process group: its segment uploaders too);
    SIGTERM goes to the worker alone, as a container stop sends it to its main process."""
    pid = stack.pid(name)
    assert pid is not None
    if sig == signal.SIGKILL:
        os.killpg(pid, sig)
    else:
        os.kill(pid, sig)
    return pid


async def exit_status(pid: int, timeout_s: float) -> int:
    """The exit code of a voice worker this process started (it is our child)."""
    _, status = await asyncio.wait_for(asyncio.to_thread(os.waitpid, pid, 0), timeout_s)
    return os.waitstatus_to_exitcode(status)


async def test_a_call_resumes_on_the_other_worker_when_its_worker_is_killed(
    pool: tuple[Settings, Stack, Client],
) -> None:
    """make test's resume: killed while the agent answers the consent; the caller carries on."""
    settings, stack, client = pool
    async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
        sid = await start_call(sim, SHORT)
        await until_consent(client, f"call-{sid}")
        holder = await holding_worker(settings)
        await asyncio.sleep(0.4)  # the agent is answering ("Thank you. How can I help?")
        pid = kill(stack, f"voice-{holder}", signal.SIGKILL)
        await exit_status(pid, 10)
        restart = asyncio.create_task(stack.up())  # back for the next test, while the call goes on
        call, outcome = await finish(sim, client, sid)
        await restart
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    assert outcome.outcome == Outcome.COMPLETED and outcome.resumes == 1, said
    assert outcome.consent is not None and outcome.consent.recording
    assert any("line dropped" in t.text for t in outcome.transcript if t.speaker == "agent"), said
    assert call["streams"][0]["reason"] == "socket_dropped"
    other = 2 if holder == 1 else 1
    queues = (await history_of(client, f"call-{sid}"))["converse_queues"]
    assert queues == [f"voice-{settings.host}-{holder}", f"voice-{settings.host}-{other}"]
    assert resume_gaps_ms(call)[0] < 5000, resume_gaps_ms(call)


@pytest.mark.slow  # a whole booking call (about two minutes here): make evals
async def test_a_booking_call_resumes_on_the_other_worker_when_its_worker_is_killed(
    pool: tuple[Settings, Stack, Client],
) -> None:
    settings, stack, client = pool
    day_name, day = next_weekday_name()
    async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
        sid = await start_call(sim, booking_script(day_name, "eleven a.m."))
        call_id = f"call-{sid}"
        await until_tool(client, call_id, "book_appointment")  # booked: the agent is confirming it
        holder = await holding_worker(settings)
        pid = kill(stack, f"voice-{holder}", signal.SIGKILL)
        call, outcome = await finish(sim, client, sid)
    await exit_status(pid, 10)
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    gaps, delays = resume_gaps_ms(call), resume_delays_ms(call)
    print(f"\nresumed call: gap heard {gaps} ms, drop → agent audio {delays} ms\n" + "\n".join(said))

    assert outcome.outcome == Outcome.COMPLETED, said
    assert outcome.resumes == 1, said
    booked = [r for r in outcome.tool_results if r.name == "book_appointment" and r.ok]
    assert len(booked) == 1 and bookings(settings, day) == 1, said  # made exactly once
    asked = [t for t in outcome.transcript if t.speaker == "agent" and "record" in t.text.lower()]
    assert len(asked) == 1, said  # the disclosure's question only: consent was not asked again
    assert any("line dropped" in t.text for t in outcome.transcript if t.speaker == "agent"), said

    other = 2 if holder == 1 else 1
    shown = await history_of(client, call_id)
    assert shown["converse_queues"] == [f"voice-{settings.host}-{holder}", f"voice-{settings.host}-{other}"]
    assert "resume" in shown["updates"] and shown["streams"] == 2, shown
    timeline = await fetch_timeline(client, call_id)
    assert next(e.title for e in timeline if e.kind == "resume") == "stream lost: resumed on a new one"
    assert len(call["streams"]) == 2 and call["streams"][0]["reason"] == "socket_dropped", call["streams"]
    assert len(delays) == 1 and delays[0] < 8000, delays  # bench/bench_resume.py measures it properly
    assert_recording_covers_both_parts(settings, outcome, call)
    await stack.up()  # the killed worker back for the next test


def assert_recording_covers_both_parts(
    settings: Settings, outcome: CallOutcome, call: dict[str, Any]
) -> None:
    """The archived recording is the call's, before and after the kill, on the call's clock: the
    first part (shipped in segments by the killed worker) holds the disclosure, the second part
    (the other worker's) the rest, and the shipped segments are gone."""
    assert outcome.recording_key is not None
    s3 = aws.client("s3", settings)
    stored = s3.get_object(Bucket=settings.recordings_bucket, Key=outcome.recording_key)
    assert int(stored["Metadata"]["segments"]) >= 2
    pcm = np.frombuffer(from_wav(stored["Body"].read()), dtype="<i2").reshape(-1, 2)  # caller, agent
    per_s = 8000
    starts = [e["at_ms"] for e in call["events"] if e["kind"] == "stream_connecting"]
    ends = [e["at_ms"] for e in call["events"] if e["kind"] == "stream_ended"]
    resumed_at_s, ended_at_s = (starts[1] - starts[0]) / 1000, (ends[-1] - starts[0]) / 1000
    assert len(pcm) / per_s >= ended_at_s - 3, (len(pcm) / per_s, ended_at_s)  # up to the call's end

    def loud(a: float, b: float) -> bool:
        part = pcm[int(a * per_s) : int(b * per_s)].astype(np.float64)
        return bool(len(part)) and float(np.sqrt((part**2).mean())) > 100

    assert loud(0, min(8, resumed_at_s)), "the part before the kill is missing"  # the disclosure
    assert loud(resumed_at_s, ended_at_s), "the part after the resume is missing"
    assert not list_segments(s3, settings.recordings_bucket, outcome.call_id)


@pytest.mark.slow  # two calls, one a whole booking: make evals
async def test_a_drained_worker_finishes_its_call_takes_no_new_one_and_exits_0(
    pool: tuple[Settings, Stack, Client],
) -> None:
    settings, stack, client = pool
    day_name, day = next_weekday_name()
    async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
        sid = await start_call(sim, booking_script(day_name, "two p.m."))
        await until_consent(client, f"call-{sid}")
        holder = await holding_worker(settings)
        other = 2 if holder == 1 else 1
        pid = kill(stack, f"voice-{holder}", signal.SIGTERM)  # a deploy replaces it
        for _ in range(20):
            if await healthz(settings, holder) == 503:
                break
            await asyncio.sleep(0.05)
        assert await healthz(settings, holder) == 503  # at once: the balancer sends it nothing new
        await asyncio.sleep(1.0)  # haproxy's next check (every 500 ms) has seen it
        late = await start_call(sim, SHORT)  # a call started during the drain
        await until_consent(client, f"call-{late}")
        assert await live_calls(settings, other) >= 1
        (call, outcome), (_, late_outcome) = await asyncio.gather(
            finish(sim, client, sid), finish(sim, client, late)
        )
        code = await exit_status(pid, 150)  # after its call and the recording's archive
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    assert code == 0
    assert outcome.outcome == Outcome.COMPLETED and outcome.resumes == 0, said  # undisturbed
    assert [r.name for r in outcome.tool_results if r.ok].count("book_appointment") == 1, said
    assert bookings(settings, day) >= 1 and outcome.recording_key, said  # archived before it exited
    assert len(call["streams"]) == 1 and call["streams"][0]["ended_by"] == "agent"
    shown = await history_of(client, f"call-{sid}")
    assert shown["converse_queues"] == [f"voice-{settings.host}-{holder}"] and "resume" in shown["updates"]
    late_shown = await history_of(client, f"call-{late}")
    assert late_shown["converse_queues"] == [f"voice-{settings.host}-{other}"]  # the other worker's
    assert late_outcome.outcome == Outcome.COMPLETED
    await stack.up()


@pytest.mark.slow
async def test_both_workers_killed_the_caller_hears_an_apology_and_goes_to_a_person(
    pool: tuple[Settings, Stack, Client],
) -> None:
    settings, stack, client = pool
    human = load_profile("clinic_booking").guardrails
    async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
        await sim.register(human.escalation_number, {"answer": "human", "rings": 2})
        script = {**SHORT, "steps": [WAIT, CONSENT, {"pause": 60000}]}
        sid = await start_call(sim, script)
        await until_consent(client, f"call-{sid}")
        pids = [kill(stack, f"voice-{n}", signal.SIGKILL) for n in range(1, WORKERS + 1)]
        call, outcome = await finish(sim, client, sid)
    for pid in pids:
        await exit_status(pid, 10)
    said = [e["detail"].get("text", "") for e in call["events"] if e["kind"] == "say"]
    whispers = [e for e in call["events"] if e["kind"] == "whisper"]
    assert human.realtime_lost_line in said, call["events"]  # never left in silence
    assert whispers and GAVE_UP in whispers[0]["detail"]["text"]  # the person hears the note
    assert call["transferred_to"] == human.escalation_number
    assert outcome.outcome == Outcome.ESCALATED and outcome.summary is not None
    assert GAVE_UP in outcome.summary.fields["escalation"]  # the outcome says why
    shown = await history_of(client, f"call-{sid}")
    assert shown["updates"].count("resume") == MAX_RESUMES + 1, shown
    await stack.up()


@pytest.mark.slow  # its own stack (a short drain timeout) and a booking call: make evals
async def test_a_call_still_live_at_the_drain_timeout_resumes_on_the_other_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = isolated_settings(
        tmp_path_factory.mktemp("drain"),
        calling_hours="always",
        voice_workers=WORKERS,
        voice_drain_timeout_s=3,
    )
    day_name, day = next_weekday_name()
    async with running_stack(settings, lambda s: services.call_stack(s, voice_workers=WORKERS)) as stack:
        client = await connect_client(settings)
        async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
            sid = await start_call(sim, booking_script(day_name, "three p.m."))
            await until_consent(client, f"call-{sid}")
            holder = await holding_worker(settings)
            pid = kill(stack, f"voice-{holder}", signal.SIGTERM)
            code = await exit_status(pid, 30)  # 3 s of drain, then the call is handed on
            call, outcome = await finish(sim, client, sid)
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    assert code == 0
    assert outcome.outcome == Outcome.COMPLETED and outcome.resumes == 1, said
    assert [r.name for r in outcome.tool_results if r.ok].count("book_appointment") == 1, said
    assert bookings(settings, day) == 1, said
    assert len(call["streams"]) == 2 and call["streams"][0]["reason"] == "socket_closed"  # closed, not cut
