"""The Realtime session fails during a real call, through the whole local stack (phone network →
gateway → workflows → voice worker ⇄ the local engine with faults armed for its next sessions).

- A booking call whose session is lost abruptly mid-call (no close frame) completes: the booking is
  made once, and the history shows the drop and the reconnect.
- A call whose every new session is refused goes to a person with the note, after an apology.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from temporalio.client import Client

from infra.phone.client import SimClient
from infra.realtime_engine import arm, disarm
from infra.stack import Stack
from switchboard.config import Settings
from switchboard.history import fetch_decoded
from switchboard.models import CallOutcome, Outcome
from tests.e2e.test_booking_call import CLINIC, booking_script, next_weekday_name, place_call

pytestmark = pytest.mark.e2e


async def realtime_events(client: Client, call_id: str) -> list[dict[str, Any]]:
    history = await fetch_decoded(client, call_id)
    found = []
    for e in history.events:
        if e.HasField("workflow_execution_signaled_event_attributes"):
            a = e.workflow_execution_signaled_event_attributes
            if a.signal_name == "realtime_session":
                found.append(json.loads(a.input.payloads[0].data))
    return found


@pytest.mark.slow  # make evals: make test keeps the 15-minute budget
async def test_a_booking_call_survives_an_abrupt_realtime_drop(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    settings, _ = e2e
    await disarm(settings.realtime_url)
    await arm(settings.realtime_url, fault="drop_at_ms:16000")  # this call's first session only
    day_name, _ = next_weekday_name()
    try:
        sid, outcome = await place_call(sim, e2e_client, CLINIC, booking_script(day_name, "nine a.m."))
    finally:
        await disarm(settings.realtime_url)
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    events = await realtime_events(e2e_client, f"call-{sid}")
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["dropped", "reconnected"], (kinds, said)
    assert outcome.outcome == Outcome.COMPLETED, said
    booked = [r for r in outcome.tool_results if r.name == "book_appointment" and r.ok]
    assert len(booked) == 1, said  # made once, across the two sessions
    assert outcome.consent is not None and outcome.consent.recording
    consent_asked = [t for t in outcome.transcript if t.speaker == "agent" and "record" in t.text.lower()]
    assert len(consent_asked) <= 2, said  # the disclosure at most once more, if the drop cut it
    assert outcome.latency.realtime_gap_ms or "reconnected" in kinds


@pytest.mark.slow
@pytest.mark.parametrize(
    ("drop_on", "at"),  # each books its own slot (the stack's calendar is shared by the session)
    [
        ("input_audio_buffer.speech_started:3", "ten a.m."),  # the caller began their third sentence
        ("response.output_audio.delta:60", "two p.m."),  # the agent is speaking (3 s of its audio sent)
        ("response.function_call_arguments.done:2", "three p.m."),  # a tool call is out (1st: consent)
    ],
    ids=["mid-caller-turn", "agent-speaking", "tool-call-out"],
)
async def test_a_booking_call_survives_a_drop_at_each_moment(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient, drop_on: str, at: str
) -> None:
    settings, _ = e2e
    await disarm(settings.realtime_url)
    await arm(settings.realtime_url, fault=f"drop_on:{drop_on}")
    day_name, _ = next_weekday_name()
    try:
        sid, outcome = await place_call(sim, e2e_client, CLINIC, booking_script(day_name, at))
    finally:
        await disarm(settings.realtime_url)
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    kinds = [e["kind"] for e in await realtime_events(e2e_client, f"call-{sid}")]
    assert kinds[:2] == ["dropped", "reconnected"], (kinds, said)
    assert outcome.outcome == Outcome.COMPLETED, said
    tools = [r.name for r in outcome.tool_results if r.ok]
    assert tools.count("book_appointment") == 1, said
    assert outcome.consent is not None and outcome.consent.recording, said
    assert len(tools) == len(set(tools)), said  # no tool call repeated across the two sessions


@pytest.mark.slow
async def test_every_reconnect_refused_hands_the_caller_to_a_person(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    settings, _ = e2e
    await disarm(settings.realtime_url)
    await arm(settings.realtime_url, fault="drop_at_ms:12000")
    await arm(settings.realtime_url, refuse=True, connections=settings.realtime_reconnect_attempts)
    day_name, _ = next_weekday_name()
    outcome: CallOutcome
    try:
        sid, outcome = await place_call(sim, e2e_client, CLINIC, booking_script(day_name))
    finally:
        await disarm(settings.realtime_url)
    kinds = [e["kind"] for e in await realtime_events(e2e_client, f"call-{sid}")]
    assert kinds == ["dropped", *["attempt_failed"] * settings.realtime_reconnect_attempts, "gave_up"], kinds
    assert outcome.outcome in (Outcome.ESCALATED, Outcome.TRANSFER_UNANSWERED)
    assert outcome.summary is not None and "voice connection" in str(outcome.summary.fields.get("escalation"))
    said = [e for e in (await sim.call(sid))["events"] if e["kind"] == "say"]
    assert any("trouble with this line" in str(e) for e in said), said  # the apology, by the network


def long_booking_script(day: str) -> dict[str, Any]:
    """The booking call, stretched to about three minutes by the caller's pauses (the agent waits:
    quiet moments for a rollover)."""
    script = booking_script(day, "four p.m.")
    steps: list[Any] = []
    for step in script["steps"]:
        if isinstance(step, dict) and "say" in step:
            steps.append({"pause": 16000})  # the caller thinks before each answer
        steps.append(step)
    return {**script, "steps": steps, "max_duration_ms": 260000}


@pytest.mark.slow
async def test_a_three_minute_call_rolls_over_before_each_60_s_cap(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    settings, _ = e2e
    await disarm(settings.realtime_url)
    await arm(settings.realtime_url, max_session_s=60, connections=8)  # every session of this call
    day_name, _ = next_weekday_name()
    try:
        sid, outcome = await place_call(sim, e2e_client, CLINIC, long_booking_script(day_name))
    finally:
        await disarm(settings.realtime_url)
    said = [f"{t.speaker}: {t.text}" for t in outcome.transcript]
    kinds = [e["kind"] for e in await realtime_events(e2e_client, f"call-{sid}")]
    assert kinds.count("rolled_over") >= 2 and "dropped" not in kinds, (kinds, said)  # before each cap
    assert outcome.outcome == Outcome.COMPLETED, said
    tools = [r.name for r in outcome.tool_results if r.ok]
    assert tools.count("book_appointment") == 1 and "check_availability" in tools, said
    agent = [t.text for t in outcome.transcript if t.speaker == "agent"]
    assert all(a != b for a, b in itertools.pairwise(agent)), said  # no line said twice on a swap
