"""The overview in Chromium, from real finished calls: CallWorkflow runs each call (the conversation
scripted at the voice worker's activity), its record_call activity stores the record, and the page's
totals are those calls. Keyboard, labels and contrast are checked in the page; the screenshot is
``docs/screenshots/overview.png`` with SWITCHBOARD_SCREENSHOTS=1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from infra.stack import free_port
from switchboard import aws
from switchboard.call_record_store import create_table
from switchboard.config import LOCAL_HOST, Settings
from switchboard.costs import TokenUsage
from switchboard.messages import ConsentAnswer, EndReason, TurnBatch
from switchboard.models import CallOutcome, LatencySlices, Outcome, Speaker, Turn
from tests.dashboard.conftest import PASSWORD, screenshot_path, sign_in
from tests.workflows.test_call_workflow import next_weekday, run_call, tool
from workflows.call import CallWorkflow

USAGE = TokenUsage(responses=6, input_text=5200, input_audio=3100, cached_text=3900, cached_audio=1800,
                   output_text=300, output_audio=2100)  # fmt: skip

# The page's own check of its text contrast (WCAG AA: 4.5:1, 3:1 for large text), from computed styles.
CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('main *, header *')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const st = getComputedStyle(el); if (st.visibility === 'hidden' || st.display === 'none') continue;
    if (el.closest('svg')) continue;  // chart text is checked as SVG fill below
    const a = lum(rgb(st.color)) + 0.05, b = lum(bg(el)) + 0.05, ratio = Math.max(a, b) / Math.min(a, b);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && +st.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  for (const r of document.querySelectorAll('svg.bars rect[fill]')) {
    const a = lum(rgb(getComputedStyle(r).fill)) + 0.05, ratio = 1.05 / a;
    if (ratio < 3) bad.push(`bar ${r.getAttribute('fill')} ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def script(*, consent: bool, end: EndReason, first_audio: list[float], tools: bool = True) -> Any:
    day = next_weekday().isoformat()

    async def run(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=consent, said="-"))
        turns = []
        for i, ms in enumerate(first_audio):
            start = 4000 + i * 6000
            turns += [
                Turn(speaker=Speaker.CALLER, text="…", start_ms=start, end_ms=start + 2000),
                Turn(speaker=Speaker.AGENT, text="…", start_ms=start + 2000 + int(ms), end_ms=start + 5000,
                     first_audio_ms=ms),
            ]  # fmt: skip
        latency = LatencySlices(turn_to_first_audio_ms=first_audio, tool_round_trip_ms=[180.0, 240.0])
        await handle.signal(CallWorkflow.add_turns, TurnBatch(turns=turns, latency=latency))
        if tools:
            await handle.execute_update(CallWorkflow.run_tool, tool("check_availability", date=day))
        if end == EndReason.AGENT_ENDED:
            await handle.execute_update(CallWorkflow.run_tool, tool("end_call"))
        return end

    return run


@pytest_asyncio.fixture(loop_scope="session")
async def own_records(stack: Settings, temporal_client: Client) -> AsyncIterator[tuple[Settings, str]]:
    """The stack with a call records table of this test's own, and a dashboard reading it."""
    settings = stack.model_copy(update={"call_records_table": f"records-{uuid.uuid4().hex[:8]}"})
    create_table(aws.client("dynamodb", settings), settings.call_records_table)
    ds = DashboardSettings(password=SecretStr(PASSWORD), poll_s=0.2)
    runner = web.AppRunner(create_app(settings, client=temporal_client, dashboard=ds), shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOCAL_HOST, port).start()
    yield settings, f"http://{LOCAL_HOST}:{port}"
    await runner.cleanup()


async def test_the_overview_totals_are_the_calls_made(
    own_records: tuple[Settings, str], temporal_client: Client, page: Any, tmp_path: Path
) -> None:
    settings, base = own_records
    calls = [
        ("clinic_booking", script(consent=True, end=EndReason.AGENT_ENDED, first_audio=[420, 510, 630])),
        ("clinic_booking", script(consent=True, end=EndReason.AGENT_ENDED, first_audio=[380, 560])),
        ("clinic_booking", script(consent=False, end=EndReason.AGENT_ENDED, first_audio=[450], tools=False)),
        ("clinic_booking", script(consent=True, end=EndReason.CALLER_HUNG_UP, first_audio=[690, 980])),
        (
            "support_triage",
            script(consent=True, end=EndReason.AGENT_ENDED, first_audio=[470, 520], tools=False),
        ),
    ]
    outcomes = []
    for profile, run in calls:
        outcome = await run_call(
            temporal_client, settings, tmp_path, run, profile=profile, usage=USAGE, duration_s=95.0
        )
        outcomes.append(outcome.outcome)
    assert outcomes == [Outcome.COMPLETED, Outcome.COMPLETED, Outcome.CONSENT_REFUSED,
                        Outcome.CALLER_HUNG_UP, Outcome.COMPLETED]  # fmt: skip

    await sign_in(page, base)
    await page.wait_for_url(f"{base}/live")
    await page.goto(f"{base}/overview")

    async def figure(name: str) -> str:
        return await page.locator(f"[data-figure={name}] dd").first.inner_text()

    assert await figure("calls") == "5"
    assert await figure("containment") == "80%"  # 4 of 5 answered finished by the agent (not the hang-up)
    assert await figure("consent-refused") == "1"
    assert await figure("flagged") == "2"  # the refusal; the hang-up (also slow: 980 ms)
    assert await figure("first-audio") == "980 ms"  # p95 of the ten turns (nearest rank): over budget
    assert "over" in (await page.locator("[data-figure=first-audio]").get_attribute("class") or "")
    day_rows = page.locator("#days-table tbody tr")
    totals = [
        int(await day_rows.nth(i).locator("td").last.text_content() or 0)
        for i in range(await day_rows.count())
    ]
    assert sum(totals) == 5 and len(totals) == 7
    tools = await page.locator("#tools-table tbody").inner_text()
    assert "check_availability\t3" in tools and "end_call\t4" in tools
    profiles = await page.locator("#profiles-table tbody").inner_text()
    assert "clinic_booking\t4" in profiles and "support_triage\t1" in profiles
    assert (
        await page.locator("svg.bars rect").count() == 3
    )  # today's bar: completed, consent refused, hung up

    # Labelled controls, reached and changed by keyboard alone.
    for control in ("ov-days", "ov-profile"):
        assert await page.locator(f"label[for={control}]").count() == 1
    await page.focus("#ov-days")
    await page.keyboard.press("ArrowDown")  # Last 30 days
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")  # past the profile select, onto Show
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "days=30" in page.url and await figure("calls") == "5"
    assert await page.locator("#days-table tbody tr").count() == 30
    await page.select_option("#ov-profile", "support_triage")
    async with page.expect_navigation():
        await page.click("form.filters button")
    assert await figure("calls") == "1" and await figure("containment") == "100%"
    assert await page.evaluate(CONTRAST) == []

    await page.goto(f"{base}/overview?days=7")
    assert await page.evaluate(CONTRAST) == []
    shot = screenshot_path(tmp_path, "screenshots/overview.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shot), full_page=True)
