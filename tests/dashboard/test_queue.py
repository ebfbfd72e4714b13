"""The review queue in a real browser: a call escalated in the test is queued with its reason and a
clean one is not; a supervisor marks it reviewed with a verdict and a note, and the review is still
there after the dashboard restarts (it lives in the call records table, never in the browser)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr
from temporalio.client import Client

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from infra.stack import free_port
from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import Flag, Verdict
from switchboard.config import LOCAL_HOST, Settings
from switchboard.messages import ConsentAnswer, EndReason, ToolCallRequest
from switchboard.models import Speaker, ToolCall
from tests.dashboard.a11y import accessibility_problems
from tests.dashboard.conftest import PASSWORD, SUPERVISOR, sign_in
from tests.dashboard.simulated import simulated_call
from workflows.call import CallWorkflow

NOTE = "Should have offered the 10:30 slot before handing over."


async def clean_call(client: Client, stack: Settings, tmp_path: Path) -> str:
    async with simulated_call(client, stack, tmp_path) as call:
        await call.handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await call.say(Speaker.CALLER, "Is Monday free?")
        await call.say(Speaker.AGENT, "Monday at ten is free.", 420.0)
        end = ToolCallRequest(call=ToolCall(call_id="fc_9", name="end_call"))
        await call.handle.execute_update(CallWorkflow.run_tool, end)
        await call.finish(EndReason.AGENT_ENDED)
    return call.call_id


async def escalated_call(client: Client, stack: Settings, tmp_path: Path) -> str:
    async with simulated_call(client, stack, tmp_path) as call:
        await call.handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await call.say(Speaker.CALLER, "I'd like to talk to a person, please.")
        await call.say(Speaker.AGENT, "Of course, I'll put you through.", 380.0)
        ask = ToolCall(call_id="fc_1", name="escalate", arguments={"reason": "caller asked for a person"})
        await call.handle.execute_update(CallWorkflow.run_tool, ToolCallRequest(call=ask))
        await call.finish(EndReason.TRANSFER)
    return call.call_id


@asynccontextmanager
async def dashboard(stack: Settings, client: Client) -> AsyncIterator[str]:
    """A dashboard process of its own (new app, new state, new session secret): one 'run' of it."""
    ds = DashboardSettings(password=SecretStr(PASSWORD), poll_s=0.2)
    runner = web.AppRunner(create_app(stack, client=client, dashboard=ds), shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOCAL_HOST, port).start()
    try:
        yield f"http://{LOCAL_HOST}:{port}"
    finally:
        await runner.cleanup()


async def test_queue_lists_the_escalated_call_and_its_review_survives_a_restart(
    page: Any, temporal_client: Client, stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evals.add  # the eval bank's adder, into a bank of the test's own

    (tmp_path / "bank").mkdir()
    adder = functools.partial(evals.add.add_call_to_bank, bank=tmp_path / "bank")
    monkeypatch.setattr(evals.add, "add_call_to_bank", adder)
    clean = await clean_call(temporal_client, stack, tmp_path)
    escalated = await escalated_call(temporal_client, stack, tmp_path)
    store = CallRecordStore.of(stack)
    assert (store.get(clean) or _missing(clean)).flags == []
    assert Flag.ESCALATED in (store.get(escalated) or _missing(escalated)).flags

    async with dashboard(stack, temporal_client) as url:
        await sign_in(page, url)
        await page.wait_for_url(f"{url}/live")
        await page.click("nav >> text=Review queue")
        row = page.locator(f"table.queue tr[data-call='{escalated}']")
        await row.wait_for()
        assert "Escalated or transferred" in await row.locator("td").nth(3).inner_text()
        assert await page.locator(f"tr[data-call='{clean}']").count() == 0
        await page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
        assert await accessibility_problems(page) == []

        # One click adds it to the eval bank, from the queue.
        await row.locator("button", has_text="Add to eval bank").click()
        result = row.locator(".result")
        await page.wait_for_function(
            "el => /\\b(ok|error)\\b/.test(el.className)", arg=await result.element_handle()
        )
        assert "added to the eval bank" in await result.inner_text()
        assert len(list((tmp_path / "bank").glob("recorded-*.yaml"))) == 1

        # Filtered by reason: there for "escalated", not for "consent refused".
        await page.select_option("select[name=reason]", "escalated")
        await page.click("form.filters button")
        await page.locator(f"tr[data-call='{escalated}']").wait_for()
        await page.goto(f"{url}/queue?reason=consent_refused")
        assert await page.locator(f"tr[data-call='{escalated}']").count() == 0

        # Listen and review: the call page says why it was flagged; the verdict and note are stored.
        await page.goto(f"{url}/queue?reason=escalated")
        await page.locator(f"tr[data-call='{escalated}'] a.listen").click()
        await page.wait_for_url(f"{url}/review/{escalated}")
        assert await page.locator("svg.picture .marker.escalation").count() == 1  # the transfer, drawn
        card = page.locator(".card.review")
        assert "Escalated or transferred" in await card.inner_text()
        await card.get_by_label("Agent error").check()
        await card.get_by_label("Note for the team").fill(NOTE)
        await card.locator("button", has_text="Mark reviewed").click()
        await page.locator("#reviewed-now").wait_for()
        assert "Agent error" in await page.locator("#reviewed-now").inner_text()
        assert await accessibility_problems(page) == []

    stored = store.get(escalated)
    assert stored is not None and stored.verdict == Verdict.AGENT_ERROR and stored.note == NOTE
    assert stored.reviewer == SUPERVISOR and not stored.pending_review

    # A new dashboard (a restart): the review is there, on the call and in the queue's reviewed list.
    async with dashboard(stack, temporal_client) as url:
        await sign_in(page, url)
        await page.wait_for_url(f"{url}/live")
        await page.goto(f"{url}/review/{escalated}")
        verdict = page.locator(".card.review p.verdict")
        assert "Agent error" in await verdict.inner_text() and NOTE in await verdict.inner_text()
        assert await page.locator(".card.review input[value=agent_error]").is_checked()
        await page.goto(f"{url}/queue")
        assert await page.locator(f"table.queue:not(.reviewed) tr[data-call='{escalated}']").count() == 0
        reviewed = page.locator(f"table.reviewed tr[data-call='{escalated}']")
        assert NOTE in await reviewed.inner_text() and SUPERVISOR in await reviewed.inner_text()
        await page.screenshot(path=str(tmp_path / "queue-reviewed.png"), full_page=True)


def _missing(call_id: str) -> Any:
    raise AssertionError(f"no call record for {call_id}")
