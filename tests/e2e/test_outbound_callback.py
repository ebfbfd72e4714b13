"""The callback path end to end: a signed web form → 202 → OutboundCallbackWorkflow → dial through
the twilio SDK → the simulated lead answers → conversation with the engine → outcome. A duplicate
form starts nothing new. (The same path `make demo` shows.) The call is one trace across the
stack's processes, read from the files they write."""

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
from tests.support.traces import SpanRecord, ancestors, from_files, orphans, personal_data, tree
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
    await one_trace(
        settings,
        accepted["call_id"],
        [LEAD_PHONE, "Alex Demo", "rooftop solar", *(t.text for t in call.transcript)],
    )


async def one_trace(settings: Settings, call_id: str, personal: list[str]) -> None:
    """The call's spans, written by every process of the stack under ``<home>/traces/``: one trace
    from the form's Lambda to the delivery, every parent present, no personal data in attributes."""
    expected = {
        "form_submitted",
        "StartWorkflow:OutboundCallbackWorkflow",
        "RunActivity:check_do_not_call",
        "StartChildWorkflow:CallWorkflow",
        "RunActivity:dial",
        "RunActivity:converse",
        "turn",
        "tool",
        "HandleUpdate:run_tool",
        "RunActivity:run_tool",
        "RunActivity:archive_recording",
        "RunActivity:summarise",
        "RunActivity:deliver",
        "CompleteWorkflow:OutboundCallbackWorkflow",
    }
    spans: list[SpanRecord] = []
    for _ in range(50):  # the last spans are written as the workers finish their tasks
        everything = from_files(settings.home / "traces")
        ids = {s.trace_id for s in everything if s.name == "RunWorkflow:OutboundCallbackWorkflow"}
        roots = [
            s for s in everything if s.name == "form_submitted" and s.attributes.get("call_id") == call_id
        ]
        spans = [s for s in everything for r in roots if s.trace_id == r.trace_id and r.trace_id in ids]
        if expected <= {s.name for s in spans}:
            break
        await asyncio.sleep(0.1)
    drawn = tree(spans)
    assert expected <= {s.name for s in spans}, f"missing {expected - {s.name for s in spans}} in\n{drawn}"
    assert not orphans(spans), drawn
    assert len({s.service for s in spans}) >= 3, drawn  # the form's Lambda, the workflow and voice workers
    for s in spans:
        chain = ancestors(spans, s)
        assert s.name == "form_submitted" or chain[-1] == "form_submitted", drawn
        if s.name in ("turn", "tool"):
            assert chain[0] == "RunActivity:converse" and "StartChildWorkflow:CallWorkflow" in chain, drawn
    assert not personal_data(spans, personal), drawn
