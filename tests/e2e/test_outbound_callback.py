"""The callback path end to end: a signed web form → 202 → OutboundCallbackWorkflow → dial through
the twilio SDK → the simulated lead answers → conversation with the engine → outcome. A duplicate
form starts nothing new. (The same path `make demo` shows.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from temporalio.client import Client

from activities.business import BUSINESS_FILE, SqliteBusiness
from infra.demo import LEAD_PHONE, lead_script, post_form, requested_slot
from infra.phone.client import SimClient
from infra.stack import Stack
from switchboard.config import Settings
from switchboard.models import Outcome
from workflows.call import CallWorkflow
from workflows.callback import OutboundCallbackWorkflow


async def test_form_is_called_back_and_qualified(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient
) -> None:
    settings, _ = e2e
    day, time_, when = requested_slot(SqliteBusiness(settings.home / BUSINESS_FILE), date.today())
    await sim.register(LEAD_PHONE, {"answer": "human", "rings": 1, "script": lead_script(when)})
    submission = f"e2e-{uuid.uuid4().hex[:8]}"
    accepted = await post_form(settings, submission)
    again = await post_form(settings, submission)  # the website retried
    assert accepted["call_id"] == again["call_id"] == f"callback-{submission}"
    assert accepted["status"] == "scheduled" and again["status"] == "duplicate"
    callback = e2e_client.get_workflow_handle_for(OutboundCallbackWorkflow.run, accepted["call_id"])
    result = await asyncio.wait_for(callback.result(), 240)
    assert result.outcome == Outcome.COMPLETED and len(result.attempts) == 1
    call = await e2e_client.get_workflow_handle_for(CallWorkflow.run, result.attempts[0].call_id).result()
    tools = {r.name: r for r in call.tool_results if r.ok}
    assert "qualify_lead" in tools and tools["qualify_lead"].arguments["timeframe"] == "this month"
    assert (
        "solar" in tools["qualify_lead"].arguments["need"].lower()
    )  # from the first sentence, not asked again
    assert "book_meeting" in tools, [t.text for t in call.transcript]
    assert (
        tools["book_meeting"].arguments["date"] == day.isoformat()
        and tools["book_meeting"].arguments["time"] == time_
    )
    dialled = [c for c in await sim.calls() if c["to"] == LEAD_PHONE]
    assert len(dialled) == 1  # one form, one retry of it, one call
