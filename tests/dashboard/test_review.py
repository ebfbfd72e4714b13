"""Review in a real browser: find a finished call by profile, outcome and consent; its timeline and
summary show; its recording plays from a short-lived presigned URL; a reveal is logged."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from temporalio.client import Client

from switchboard.calendar import zone
from switchboard.config import Settings
from switchboard.messages import ConsentAnswer, EndReason, ToolCallRequest
from switchboard.models import Speaker, ToolCall
from tests.dashboard.conftest import SUPERVISOR, screenshot_path, sign_in
from tests.dashboard.simulated import CALLER_NUMBER, simulated_call
from workflows.call import CallWorkflow

RECORDING_S = 2.0


async def finished_call(client: Client, stack: Settings, tmp_path: Path) -> str:
    async with simulated_call(client, stack, tmp_path, recording_s=RECORDING_S) as call:
        await call.handle.execute_update(
            CallWorkflow.record_consent, ConsentAnswer(granted=True, said="sure")
        )
        await call.say(Speaker.CALLER, "Do you have anything on Monday morning?")
        check = ToolCall(call_id="fc_1", name="check_availability", arguments={"date": "2030-01-07"})
        await call.handle.execute_update(CallWorkflow.run_tool, ToolCallRequest(call=check))
        await call.say(Speaker.AGENT, "Monday at ten is free. Anything else?")
        await call.handle.execute_update(
            CallWorkflow.run_tool, ToolCallRequest(call=ToolCall(call_id="fc_2", name="end_call"))
        )
        outcome = await call.finish(EndReason.AGENT_ENDED)
    assert outcome.recording_key and outcome.consent and outcome.consent.recording
    return call.call_id


async def test_review_finds_a_call_and_plays_its_recording(
    page: Any,
    dashboard_url: str,
    temporal_client: Client,
    stack: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if (
        importlib.util.find_spec("evals.add") is not None
    ):  # the button's case goes to a bank of the test's own
        import evals.add

        adder = evals.add.add_call_to_bank
        (tmp_path / "bank").mkdir()
        monkeypatch.setattr(evals.add, "add_call_to_bank", functools.partial(adder, bank=tmp_path / "bank"))
    call_id = await finished_call(temporal_client, stack, tmp_path)
    await sign_in(page, dashboard_url)
    await page.wait_for_url(f"{dashboard_url}/live")

    # Search: by profile, outcome and consent (and today's date); a refused-consent search excludes it.
    await page.goto(f"{dashboard_url}/review")
    await page.select_option("select[name=profile]", "clinic_booking")
    await page.select_option("select[name=outcome]", "completed")
    await page.select_option("select[name=consent]", "granted")
    await page.click("form.filters button")
    row = page.locator("table.calls tr", has_text=call_id)
    await row.wait_for()
    assert "granted" in await row.inner_text()
    await page.goto(f"{dashboard_url}/review?profile=clinic_booking&consent=refused")
    assert await page.locator("table.calls tr", has_text=call_id).count() == 0
    await page.goto(f"{dashboard_url}/review?outcome=busy")
    assert await page.locator("table.calls tr", has_text=call_id).count() == 0
    started = (await temporal_client.get_workflow_handle(call_id).describe()).start_time
    day = started.astimezone(zone(stack.business_timezone)).date()  # the business's calendar
    await page.goto(f"{dashboard_url}/review?date={day.isoformat()}&profile=clinic_booking")
    assert await page.locator("table.calls tr", has_text=call_id).count() == 1
    await page.goto(f"{dashboard_url}/review?date={(day - timedelta(days=1)).isoformat()}")
    assert await page.locator("table.calls tr", has_text=call_id).count() == 0
    await page.goto(f"{dashboard_url}/review?date=nonsense")
    assert "not a date" in await page.locator(".error").inner_text()

    # The call: timeline, summary, recording.
    await page.goto(f"{dashboard_url}/review?profile=clinic_booking")
    await page.click(f"text={call_id}")
    await page.wait_for_url(f"{dashboard_url}/review/{call_id}")
    kinds = await page.locator("table.timeline td:nth-child(2)").all_text_contents()  # collapsed
    for kind in ("profile", "disclosure", "consent", "turn", "tool", "hangup", "archive", "summary", "end"):
        assert kind in kinds, kind
    assert await page.locator(".summary").count() == 1

    audio = page.locator("audio#recording")
    src = await audio.get_attribute("src") or ""
    url = urlparse(src)
    assert url.netloc == f"127.0.0.1:{stack.ports.moto}" and url.path.endswith(f"{call_id}.wav")
    query = parse_qs(url.query)
    assert "X-Amz-Signature" in query or "Signature" in query  # presigned, never a public link
    assert int(query.get("X-Amz-Expires", ["300"])[0]) <= 300
    duration = await audio.evaluate(
        """a => new Promise((ok, fail) => {
            if (a.readyState >= 1) return ok(a.duration);
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => fail(new Error('audio error ' + (a.error && a.error.code))));
        })"""
    )
    assert duration == pytest.approx(RECORDING_S, abs=0.05)
    played = await audio.evaluate(
        """async a => { a.muted = true; await a.play();
            await new Promise(r => a.addEventListener('ended', r, { once: true }));
            return a.currentTime; }"""
    )  # played to the end
    assert played == pytest.approx(RECORDING_S, abs=0.05)
    await page.screenshot(path=str(screenshot_path(tmp_path, "dashboard-review.png")), full_page=True)

    # Personal data is masked until revealed, and the reveal is logged without the value.
    masked = CALLER_NUMBER[:4] + "•" * 5 + CALLER_NUMBER[-3:]
    assert CALLER_NUMBER not in await page.content() and masked in await page.content()
    with caplog.at_level(logging.INFO, logger="switchboard.dashboard.audit"):
        await page.click("text=Reveal personal data")
        await page.locator(".revealed").wait_for()
    assert CALLER_NUMBER in await page.content()
    lines = [r.getMessage() for r in caplog.records if r.name == "switchboard.dashboard.audit"]
    assert len(lines) == 1 and f"call={call_id}" in lines[0] and f"user={SUPERVISOR}" in lines[0]
    assert CALLER_NUMBER not in lines[0] and CALLER_NUMBER[-3:] not in lines[0].split("at=")[0]
    stored = (stack.home / "dashboard" / "reveals.jsonl").read_text().splitlines()
    assert json.loads(stored[-1])["call_id"] == call_id and CALLER_NUMBER not in stored[-1]
    await page.goto(f"{dashboard_url}/reveals")
    assert call_id in await page.locator("table tbody tr").first.inner_text()

    # The eval bank button: the eval bank's adder when it exists, else a clear 501.
    await page.goto(f"{dashboard_url}/review/{call_id}")
    result = page.locator(".toolbar .result")
    await page.click("text=Add to eval bank")
    await page.wait_for_function(
        "el => /\\b(ok|error)\\b/.test(el.className)", arg=await result.element_handle()
    )
    text = await result.inner_text()
    if importlib.util.find_spec("evals.add") is None:
        assert "not installed" in text and "evals.add.add_call_to_bank" in text
    else:
        assert "added to the eval bank" in text
        assert list((tmp_path / "bank").glob("recorded-*.yaml"))  # there, never in evals/bank/


async def test_unknown_call_is_not_found(page: Any, dashboard_url: str) -> None:
    await sign_in(page, dashboard_url)
    await page.wait_for_url(f"{dashboard_url}/live")
    response = await page.goto(f"{dashboard_url}/review/call-does-not-exist")
    assert response is not None and response.status == 404
