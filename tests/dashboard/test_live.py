"""The live view in a real browser: a simulated call appears, its transcript grows as the caller
speaks, a held tool call is approved, and whisper and take over reach the workflow's history."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.tools.profiles import load_profile
from switchboard.config import Settings
from switchboard.history import fetch_decoded
from switchboard.messages import ConsentAnswer, EndReason, ToolCallRequest
from switchboard.models import AgentProfile, Speaker, ToolCall
from tests.dashboard.conftest import SUPERVISOR, screenshot_path, sign_in
from tests.dashboard.simulated import SimulatedCall, simulated_call
from workflows.call import CallWorkflow


def held_profile() -> Any:
    profile = load_profile("job_status").model_copy(deep=True)
    for spec in profile.tools:
        spec.requires_approval = spec.name == "add_job_note"

    @activity.defn(name="get_profile")
    async def get_profile(name: str) -> AgentProfile:
        return profile

    return get_profile


async def supervise_updates(client: Client, call: SimulatedCall) -> list[dict[str, Any]]:
    """The ``supervise`` Updates in the call's history, with their arguments."""
    history = await fetch_decoded(client, call.call_id)  # the payloads are encrypted
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            req = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if req.input.name == "supervise":
                found.append(json.loads(req.input.args.payloads[0].data))
    return found


async def act(card: Any, form_index: int, fields: dict[str, str]) -> str:
    form = card.locator("form.action").nth(form_index)
    for name, value in fields.items():
        await form.locator(f"input[name={name}]").fill(value)
    result = card.locator(".actions .result")
    await form.locator("button").first.click()  # the page's script shows "…" until the answer comes
    done = "el => el.textContent !== '…' && /\\b(ok|error)\\b/.test(el.className)"
    await card.page.wait_for_function(done, arg=await result.element_handle())
    return str(await result.inner_text())


async def test_live_call_transcript_approval_whisper_and_take_over(
    page: Any, dashboard_url: str, temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    await sign_in(page, dashboard_url)
    await page.wait_for_url(f"{dashboard_url}/live")
    await page.locator("#stream-state", has_text="live").wait_for()

    async with simulated_call(
        temporal_client, stack, tmp_path, profile="job_status", overrides={"get_profile": held_profile()}
    ) as call:
        # The call appears without a reload, pushed by the server.
        card = page.locator(f"#call-{call.call_id}")
        await card.wait_for()
        # The card can show before its profile does ("…" until the first state arrives).
        await card.locator(".profile", has_text="job_status").wait_for()
        assert await card.locator(".caller").inner_text() == "+614•••••678"

        await call.handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await card.locator(".consent", has_text="granted").wait_for()

        lines = [
            (Speaker.AGENT, "Hi, this is the Fieldops assistant, an AI. How can I help?"),
            (Speaker.CALLER, "I'm calling about job 4172, nobody turned up."),
            (Speaker.AGENT, "Let me check job 4172 for you."),
            (Speaker.CALLER, "You can reach me on 0412 345 678 after five."),
        ]
        transcript = card.locator(".transcript li")
        for n, (speaker, text) in enumerate(lines, start=1):
            await call.say(speaker, text, first_audio_ms=912.0 if n == 3 else None)  # the answer was slow
            await transcript.nth(n - 1).wait_for()
            assert await transcript.count() == n
        # Its first-audio time beside it, and the card amber: over the 700 ms budget.
        assert await transcript.nth(2).locator(".first-audio.amber").inner_text() == "912 ms"
        await page.locator(f"#call-{call.call_id}.latency-amber").wait_for()
        assert "0412•••••678" in await transcript.nth(3).inner_text()
        assert "345" not in await card.inner_text()  # personal data masked

        status = ToolCallRequest(
            call=ToolCall(call_id="fc_1", name="get_job_status", arguments={"job_id": "4172"})
        )
        await call.handle.execute_update(CallWorkflow.run_tool, status)
        await card.locator(".tools li", has_text="get_job_status").wait_for()

        # A held tool call is highlighted until a supervisor approves it.
        note = {"job_id": "4172", "note": "customer not home", "confirmed": True}
        held = ToolCallRequest(call=ToolCall(call_id="fc_2", name="add_job_note", arguments=note))
        pending = asyncio.create_task(call.handle.execute_update(CallWorkflow.run_tool, held))
        await card.locator(".approval", has_text="add_job_note").wait_for()
        assert "escalated" in (await card.get_attribute("class") or "")
        await card.locator(".approval button", has_text="Approve").click()
        assert (await pending).ok
        await card.locator(".tools li.ok", has_text="add_job_note").wait_for()
        await card.locator(".approval").wait_for(state="detached")

        # The workflow's validator refuses an empty whisper; the page shows why.
        assert "needs some text" in await act(card, 0, {"text": "   "})
        assert "whisper: accepted" in await act(
            card, 0, {"text": "Offer a technician visit tomorrow morning"}
        )
        await card.locator(".facts", has_text="1 whisper").wait_for()
        await page.screenshot(path=str(screenshot_path(tmp_path, "dashboard-live.png")), full_page=True)

        handover = "Caller upset: technician missed job 4172"
        assert "take over: accepted" in await act(card, 1, {"text": handover, "to_number": "+61255550199"})
        await card.locator(".escalation", has_text="technician missed").wait_for()
        [sent] = call.transfers
        assert sent.to_number == "+61255550199" and handover in sent.note  # the hand-over note, warm
        assert "get job status" in sent.note  # with what was already done on the call

        updates = await supervise_updates(temporal_client, call)
        assert [u["kind"] for u in updates] == ["approve", "whisper", "take_over"]
        assert updates[0]["tool_call_id"] == "fc_2"
        assert updates[1]["text"] == "Offer a technician visit tomorrow morning"
        assert updates[2]["text"] == handover and updates[2]["to_number"] == "+61255550199"
        assert {u["supervisor"] for u in updates} == {SUPERVISOR}

        outcome = await call.finish(EndReason.TRANSFER)
        assert outcome.outcome == "escalated"
        await page.locator(f"#call-{call.call_id}.ended").wait_for()


async def test_end_call_from_the_dashboard(
    page: Any, dashboard_url: str, temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    await sign_in(page, dashboard_url)
    async with simulated_call(temporal_client, stack, tmp_path) as call:
        card = page.locator(f"#call-{call.call_id}")
        await card.wait_for()
        await call.handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
        await card.locator(".consent", has_text="granted").wait_for()
        assert "end call: accepted" in await act(card, 2, {})
        command = await asyncio.wait_for(call.commands.get(), 10)  # pushed to the live conversation
        assert command.kind == "say_and_end" and command.reason == "supervisor"
        await call.finish(EndReason.AGENT_ENDED)
        await page.locator(f"#call-{call.call_id}.ended").wait_for()
        assert await card.locator("button").first.is_disabled()
