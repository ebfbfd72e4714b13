"""The cadence end to end, through every process: a signed web form → the callback's first call
reaches voicemail (the phone network's machine, answered-by from its AMD) and the agent leaves the
profile's message → the cadence texts the lead through the twilio SDK → the simulated lead reads it
and answers "call me now", which the phone network posts as a Twilio-signed webhook to the
gateway's ``POST /twilio/sms`` (the sms_received Lambda finds the open cadence by the number's
person id and signals it) → the call back, at once, opens with "calling back as you asked" and
qualifies the lead.

What is real: every process and protocol (gateway Lambdas, both workers, the voice worker, the
Realtime engine, the phone network's Voice and Messages subsets, signatures, Temporal, moto).
What is not: time. The profile's follow-ups are hours and days apart, so the lead asks to be
called now (the time-skipping tests in tests/workflows/test_cadence.py cover the clock), and the
e2e stack calls and texts at any hour (``calling_hours=always``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from infra.demo import post_form
from infra.phone.client import SimClient
from infra.stack import Stack
from switchboard.config import Settings
from switchboard.models import Outcome, Speaker
from workflows.call import CallWorkflow
from workflows.callback import OutboundCallbackWorkflow

pytestmark = pytest.mark.slow  # two whole calls and a text (about 90 s): make evals

LEAD = "+61491570157"  # a number reserved for drama (ACMA), not the demo's lead

QUALIFYING_LEAD = {
    "name": "cadence-lead",
    "steps": [
        {"wait_for_agent": {"silence_ms": 1500, "timeout_ms": 30000}},
        {"say": "Yes, that's fine, you can record the call."},
        {"wait_for_agent": {"silence_ms": 1500}},
        {"say": "I want solar panels on my roof, and I'd like to start this month."},
        {"wait_for_agent": {"silence_ms": 1500}},
        {"say": "No, that's all for now, thank you. Goodbye."},
        {"wait_for_agent": {"silence_ms": 1500, "timeout_ms": 15000}},
        {"reply": "call me now"},  # read by the text, not said on the call
    ],
    "after_steps": "hangup",
    "max_duration_ms": 120000,
}


async def until_ended(sim: SimClient, number: str, count: int, timeout_s: float = 120.0) -> None:
    for _ in range(int(timeout_s * 10)):
        calls = [c for c in await sim.calls() if c["to"] == number]
        if len(calls) >= count and all(c["done"] for c in calls[:count]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {count} to the lead did not end")


def texts(messages: list[dict[str, Any]], **where: str) -> list[dict[str, Any]]:
    return [m for m in messages if all(m[k] == v for k, v in where.items())]


async def test_voicemail_text_reply_and_the_call_back(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    settings, _ = e2e
    # The first call reaches the machine; the lead's script holds its answer to the text.
    await sim.register(
        LEAD, {"answer": "voicemail", "rings": 1, "script": QUALIFYING_LEAD, "reply_after_ms": 3000}
    )
    submission = f"e2e-cadence-{uuid.uuid4().hex[:8]}"
    accepted = await post_form(settings, submission, phone=LEAD)
    assert accepted["status"] == "scheduled"
    await until_ended(sim, LEAD, 1)
    # The lead is by the phone now: the call back (made once the reply arrives) is answered.
    await sim.register(LEAD, {"answer": "human", "rings": 1, "script": QUALIFYING_LEAD})

    callback = e2e_client.get_workflow_handle_for(OutboundCallbackWorkflow.run, accepted["call_id"])
    result = await asyncio.wait_for(callback.result(), 300)
    assert [a.outcome for a in result.attempts] == [Outcome.VOICEMAIL, Outcome.COMPLETED]
    assert result.outcome == Outcome.COMPLETED
    kinds = [e.kind for e in result.events if e.kind != "text_status"]
    assert kinds == ["attempt", "text", "reply", "reschedule", "attempt", "end"], kinds
    assert "call me now" in next(e.detail for e in result.events if e.kind == "reply")

    # The phone network's record: one text out (delivered, through signed status callbacks), one
    # in (posted to the gateway, which answered it), and nothing else to the lead.
    messages = await sim.messages()
    (sent,) = texts(messages, to=LEAD, direction="outbound-api")
    assert "Brightside Solar" in sent["body"] and sent["body"].endswith("Reply STOP to opt out.")
    assert sent["statuses"][-1] == "delivered"
    assert all(w["status_code"] == 204 for w in sent["webhooks"]), sent["webhooks"]
    (reply,) = texts(messages, **{"from": LEAD, "direction": "inbound"})
    assert reply["body"] == "call me now" and reply["to"] == settings.twilio_from_number
    (posted,) = reply["webhooks"]
    assert posted["url"].endswith("/twilio/sms") and posted["status_code"] == 200

    first_call, second_call = [
        await e2e_client.get_workflow_handle_for(CallWorkflow.run, a.call_id).result()
        for a in result.attempts
    ]
    voicemail = " ".join(t.text for t in first_call.transcript if t.speaker == Speaker.AGENT)
    assert "We'll try you again shortly" in voicemail
    opening = next(t.text for t in second_call.transcript if t.speaker == Speaker.AGENT)
    assert "calling back as you asked" in opening
    tools = {r.name: r for r in second_call.tool_results if r.ok}
    assert "qualify_lead" in tools, [t.text for t in second_call.transcript]
    assert "solar" in tools["qualify_lead"].arguments["need"].lower()
    dialled = [c for c in await sim.calls() if c["to"] == LEAD]
    assert [c["status"] for c in dialled] == ["completed", "completed"]  # the machine, then the lead
