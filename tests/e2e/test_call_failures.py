"""The paths that are not the happy one, end to end: consent refused, the caller hanging up in the
middle of a tool call, and the voice worker dying mid-call."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from temporalio.client import Client

from activities.tools.profiles import load_profile
from infra.phone.client import SimClient
from infra.stack import Stack
from switchboard import aws
from switchboard.audit import fetch_timeline
from switchboard.config import Settings
from switchboard.models import Outcome
from tests.e2e.test_booking_call import CALLER, CLINIC, place_call
from workflows.call import CallWorkflow

# Each is a whole call through every process (about a minute on a quiet machine): they run in
# `make evals` with the eval bank, `make test` keeps the booking and barge-in calls.
pytestmark = pytest.mark.slow

JOBS = "+61255550104"
WAIT = {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 25000}}


async def test_consent_refused_keeps_no_recording(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    settings, _ = e2e
    script = {
        "name": "refuses-recording",
        "steps": [
            WAIT,
            {"say": "No, I don't want this call recorded."},
            WAIT,
            {"say": "That's all, goodbye."},
            {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 15000}},
        ],
        "after_steps": "hangup",
    }
    sid, outcome = await place_call(sim, e2e_client, CLINIC, script)
    assert outcome.consent is not None and outcome.consent.recording is False, outcome.transcript
    assert outcome.recording_key is None
    listed = aws.client("s3", settings).list_objects_v2(
        Bucket=settings.recordings_bucket, Prefix="recordings/"
    )
    assert not any(f"call-{sid}" in o["Key"] for o in listed.get("Contents", []))
    timeline = await fetch_timeline(e2e_client, f"call-{sid}")
    assert any(e.kind == "consent" and "refused" in e.title for e in timeline)
    archive = next(e for e in timeline if e.kind == "archive")
    assert archive.title.startswith("delete_recording") and "deleted" in archive.detail["result"]["note"]
    assert not (settings.home / "recordings" / f"call-{sid}.wav").exists()


async def test_caller_hangs_up_mid_tool(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    """The caller asks for a lookup and hangs up while the agent is working on it."""
    script = {
        "name": "hangs-up",
        "steps": [
            WAIT,
            {"say": "Yes, that's fine, you can record the call."},
            WAIT,
            {"say": "What's the status of job four one seven two?"},
            {"pause": 1200},  # the turn has ended; the agent is transcribing and looking it up
        ],
        "after_steps": "hangup",
    }
    sid, outcome = await place_call(sim, e2e_client, JOBS, script)
    assert outcome.outcome == Outcome.CALLER_HUNG_UP
    assert outcome.consent is not None and outcome.consent.recording
    assert any(
        t.speaker == "caller" and "fine" in t.text for t in outcome.transcript
    )  # the transcript is kept
    assert all(r.ok for r in outcome.tool_results)  # any tool that ran finished; nothing half-done
    assert outcome.recording_key  # the recording up to the hang-up is archived
    assert (await sim.call(sid))["status"] == "completed"


async def test_voice_worker_killed_mid_call(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    _, stack = e2e
    human = load_profile("job_status").guardrails
    await sim.register(human.escalation_number, {"answer": "human", "rings": 1})
    script = {
        "name": "long-caller",
        "steps": [WAIT, {"say": "Yes, that's fine, you can record the call."}, {"pause": 60000}],
    }
    sid = await sim.inbound_call({"from": CALLER, "to": JOBS, "caller": {"script": script}})
    handle = e2e_client.get_workflow_handle_for(CallWorkflow.run, f"call-{sid}")
    for _ in range(300):  # until the caller's consent is in the workflow
        try:
            if (await handle.query(CallWorkflow.view)).consent is not None:
                break
        except Exception:
            pass
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the call never reached its conversation")
    voice_pid = next(s.pid for s in await stack.status() if s.name == "voice")
    assert voice_pid is not None
    os.killpg(voice_pid, signal.SIGKILL)
    try:
        outcome = await asyncio.wait_for(handle.result(), 90)  # noticed within the heartbeat timeout
    finally:
        await stack.up()  # the launcher restarts what is not running
    # One voice worker here, dead: each resume's stream finds no host, and after the last one the
    # caller hears the apology and is put through to a person (#15); two workers: test_resume.
    call = await sim.wait(sid, timeout_s=120)  # the person's leg ends the call
    said = [e["detail"].get("text", "") for e in call["events"] if e["kind"] == "say"]
    assert human.realtime_lost_line in said, call["events"]  # never left in silence
    assert outcome.outcome == Outcome.ESCALATED and call["transferred_to"] == human.escalation_number
    assert outcome.consent is not None and outcome.consent.recording
    assert any(
        t.speaker == "agent" and "AI assistant" in t.text for t in outcome.transcript
    )  # transcript kept


async def test_caller_asks_for_a_person_and_is_transferred(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    script = {
        "name": "wants-a-person",
        "steps": [
            WAIT,
            {"say": "Yes, that's fine, you can record the call."},
            WAIT,
            {"say": "I'd like to speak to a real person, please."},
            {"pause": 20000},
        ],
        "after_steps": "hangup",
    }
    sid, outcome = await place_call(sim, e2e_client, CLINIC, script)
    titles = [e.title for e in await fetch_timeline(e2e_client, f"call-{sid}")]
    assert outcome.outcome == Outcome.ESCALATED, "\n".join(titles)
    call = await sim.call(sid)
    assert call["transferred_to"] == "+61255550199"  # the clinic profile's human
    timeline = await fetch_timeline(e2e_client, f"call-{sid}", reveal=True)
    transfer = next(e for e in timeline if e.title == "transfer completed")
    assert transfer.detail["input"]["note"]  # the context note went with the hand-over
