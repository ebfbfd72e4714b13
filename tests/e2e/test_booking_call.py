"""A booking call end to end: phone network → gateway (inbound_call) → CallWorkflow → voice
worker ⇄ local Realtime engine; then hangup, S3 archive, summary, audit."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest_asyncio
from temporalio.client import Client

from infra.phone.client import SimClient
from infra.services import temporal_binary
from infra.stack import Stack
from switchboard import aws
from switchboard.audit import fetch_timeline
from switchboard.codec import META_PERSON_KEY, is_encrypted
from switchboard.config import Settings
from switchboard.history import data_payloads
from switchboard.models import CallOutcome, Outcome
from switchboard.people import person_id
from switchboard.recording_segments import list_segments, segment_prefix
from switchboard.temporal import person_keys
from tests.support.log_scan import personal_data, privacy_leaks
from workflows.call import CallWorkflow

CLINIC = "+61255550101"
CALLER = "+61412345678"


def next_weekday_name() -> tuple[str, date]:
    d = date.today() + timedelta(days=2)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d.strftime("%A"), d


def booking_script(day: str, at: str = "ten a.m.") -> dict[str, Any]:
    wait = {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 25000}}
    return {
        "name": "e2e-booking",
        "steps": [
            wait,
            {"say": "Yes, that's fine, you can record the call."},
            wait,
            {"say": f"Do you have any free appointments on {day}?"},
            wait,
            {"say": f"Please book me in at {at} on {day}. My name is Jane Citizen."},
            wait,
            {"say": "My phone number is zero four one two three four five six seven eight."},
            wait,
            {"say": "Yes, that's right."},
            wait,
            {"say": "That's all, thank you. Goodbye."},
            {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 15000}},
        ],
        "after_steps": "hangup",
        "max_duration_ms": 150000,
    }


async def place_call(
    sim: SimClient, client: Client, to: str, script: Mapping[str, object]
) -> tuple[str, CallOutcome]:
    sid = await sim.inbound_call({"from": CALLER, "to": to, "caller": {"script": script}})
    await sim.wait(sid, timeout_s=180)
    outcome = await asyncio.wait_for(
        client.get_workflow_handle_for(CallWorkflow.run, f"call-{sid}").result(), 120
    )
    return sid, outcome


@dataclass(frozen=True)
class BookingCall:
    sid: str
    outcome: CallOutcome
    day: date
    script: dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def booking(e2e: tuple[Settings, Stack], e2e_client: Client) -> BookingCall:
    """One booking call for the module's tests (a call takes about a minute)."""
    day_name, day = next_weekday_name()
    script = booking_script(day_name)
    async with SimClient(f"http://127.0.0.1:{e2e[0].ports.phone}") as sim:
        sid, outcome = await place_call(sim, e2e_client, CLINIC, script)
    return BookingCall(sid, outcome, day, script)


async def test_booking_call_end_to_end(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient, booking: BookingCall
) -> None:
    settings, _ = e2e
    sid, outcome, day = booking.sid, booking.outcome, booking.day
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    assert outcome.outcome == Outcome.COMPLETED, said
    assert outcome.consent is not None and outcome.consent.recording
    names = [r.name for r in outcome.tool_results if r.ok]
    assert "check_availability" in names and "book_appointment" in names, said
    booked = next(r for r in outcome.tool_results if r.name == "book_appointment" and r.ok)
    assert booked.arguments["date"] == day.isoformat() and booked.arguments["time"] == "10:00"
    assert booked.arguments["phone"] == "0412345678"
    assert outcome.summary is not None and outcome.summary.fields["booked"] is True
    assert outcome.summary.fields["booking_id"] == booked.output["booking_id"]

    # The recording is in S3, encrypted, with the call's metadata; the agent's disclosure came first.
    assert outcome.recording_key
    head = aws.client("s3", settings).head_object(
        Bucket=settings.recordings_bucket, Key=outcome.recording_key
    )
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["Metadata"]["call-id"] == f"call-{sid}" and head["Metadata"]["consent"] == "granted"
    assert outcome.transcript[0].speaker == "agent" and "AI assistant" in outcome.transcript[0].text

    # What the call cost: the engine's usage of every response (all in the GA shape), priced.
    usage, cost = outcome.usage, outcome.cost
    print(f"\nbooking call: {usage!r}\n{cost!r}")
    assert usage.responses >= 4 and usage.output_audio > 0 and usage.input_audio > 0 and usage.input_text > 0
    assert usage.cached_text + usage.cached_audio > 0  # later responses re-read the start of the call
    assert (
        cost is not None
        and cost.model_usd > 0
        and cost.phone_minutes >= 1
        and cost.total_usd > cost.model_usd
    )
    assert outcome.summary.cost == cost

    # The phone network saw the agent hang up after the goodbye.
    call = await sim.call(sid)
    assert call["status"] == "completed"

    # The audit shows every step; `temporal workflow show` shows each tool execution.
    kinds = [e.kind for e in await fetch_timeline(e2e_client, f"call-{sid}")]
    for kind in ("profile", "disclosure", "consent", "tool", "hangup", "archive", "summary", "end"):
        assert kind in kinds, kind
    shown = (
        await asyncio.to_thread(
            subprocess.run,
            [
                temporal_binary(),
                "workflow",
                "show",
                "-w",
                f"call-{sid}",
                "--address",
                settings.temporal_address,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    ).stdout
    # get_profile and the two tools ran as local activities (markers); consent and each tool call
    # (availability, booking, end_call) are Updates.
    assert shown.count("MarkerRecorded") >= 3, shown[:3000]
    assert shown.count("WorkflowExecutionUpdateCompleted") >= 4, shown[:3000]

    # The raw history (the CLI has no codec) holds none of the caller's data: the inbound function
    # gave the caller their own key before the workflow started, and every payload is under it.
    for personal in (CALLER, CALLER.removeprefix("+"), "0412345678", "Jane Citizen", "Citizen"):
        assert personal not in shown, personal
    raw = await e2e_client.get_workflow_handle(f"call-{sid}").fetch_history()
    # Headers hold only the trace context (sealed under the shared keys): the call's data is elsewhere.
    sealed = [m for m in data_payloads(raw) if is_encrypted(m)]
    under = {m.metadata.get(META_PERSON_KEY, b"shared") for m in sealed}
    assert len(sealed) > 10 and len(under) == 1 and b"shared" not in under, under
    key_id, scopes, recordings = person_keys(settings).holdings(person_id(CALLER, "local-person-pepper"))
    assert key_id == under.pop().decode() and f"call-{sid}" in scopes
    assert outcome.recording_key in recordings  # noted for erasure by the archive activity
    # It was shipped in segments as the call went (noted for erasure too), joined by the archive,
    # and the segments are gone.
    assert int(head["Metadata"]["segments"]) >= 2
    assert segment_prefix(f"call-{sid}") in recordings
    assert not list_segments(aws.client("s3", settings), settings.recordings_bucket, f"call-{sid}")


async def test_no_service_logs_the_callers_personal_data(
    e2e: tuple[Settings, Stack], e2e_client: Client, booking: BookingCall
) -> None:
    """Every log of the stack, the Lambdas' included, after the booking call: no number, no name,
    no sentence of the caller's or the agent's."""
    settings, stack = e2e
    turns = [
        e.title.split(": ", 1)[1]
        for e in await fetch_timeline(e2e_client, f"call-{booking.sid}")
        if e.kind == "turn"
    ]
    spoken = [str(step["say"]) for step in booking.script["steps"] if "say" in step]
    logs = {path.name: path.read_text(errors="replace") for path in sorted(settings.logs_dir.glob("*.log"))}

    # The scan covers what it should: every service's log, the Lambdas' lines among the gateway's,
    # and the call's transcript (what it looks for is really there to look for).
    assert set(logs) >= {f"{spec.name}.log" for spec in stack.services}
    assert '"function_name":"InboundCallFunction"' in logs["gateway.log"]  # the functions' own output
    assert all(logs[f"{name}.log"].strip() for name in ("gateway", "voice", "realtime", "phone", "temporal"))
    assert len(turns) >= 8 and any("Jane" in t for t in turns), turns

    leaks = privacy_leaks(logs, personal_data(CALLER, "Jane Citizen", [*spoken, *turns]))
    assert not leaks, "\n".join(leaks)
