"""The call page of a real call (the barge-in call of test_barge_in: phone network → gateway →
workflow → voice worker ⇄ Realtime engine): in headless Chromium, the picture has the call's turns,
tools and barge-ins where they happened, a click seeks the archived recording; the review queue
lists it with its flags. Screenshots of both go to docs/screenshots/ (SWITCHBOARD_SCREENSHOTS=1)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr
from temporalio.client import Client

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from infra.stack import Stack, free_port
from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import FLAG_LABELS, Flag
from switchboard.config import LOCAL_HOST, Settings
from switchboard.models import CallOutcome, Speaker
from tests.dashboard.a11y import accessibility_problems
from tests.dashboard.conftest import PASSWORD, browser, chromium, page, screenshot_path, sign_in

__all__ = ["browser", "chromium", "page"]  # the browser fixtures of tests/dashboard


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def e2e_dashboard(e2e: tuple[Settings, Stack], e2e_client: Client) -> AsyncIterator[str]:
    ds = DashboardSettings(password=SecretStr(PASSWORD), poll_s=0.5)
    runner = web.AppRunner(create_app(e2e[0], client=e2e_client, dashboard=ds), shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOCAL_HOST, port).start()
    yield f"http://{LOCAL_HOST}:{port}"
    await runner.cleanup()


async def test_the_call_page_draws_a_real_call_and_seeks_its_recording(
    page: Any,
    e2e: tuple[Settings, Stack],
    e2e_dashboard: str,
    barged: tuple[str, CallOutcome],
    tmp_path: Path,
) -> None:
    sid, outcome = barged
    turns = outcome.transcript
    cut = [t for t in turns if t.speaker == Speaker.AGENT and t.interrupted]
    assert cut and outcome.tool_results, [t.text for t in turns]
    await sign_in(page, e2e_dashboard)
    await page.wait_for_url(f"{e2e_dashboard}/live")
    started = time.perf_counter()
    await page.goto(f"{e2e_dashboard}/review/call-{sid}")  # the first view: the waveform read from S3
    first = time.perf_counter() - started
    started = time.perf_counter()
    await page.reload()
    print(
        f"\ncall page: first load {first * 1000:.0f} ms, again {(time.perf_counter() - started) * 1000:.0f} ms"
    )

    svg = page.locator("svg.picture")
    callers = sum(t.speaker == Speaker.CALLER for t in turns)
    assert await svg.locator("rect.turn.caller").count() == callers
    assert await svg.locator("rect.turn.agent").count() == len(turns) - callers
    assert await svg.locator(".marker.tool").count() == len(outcome.tool_results)
    assert await svg.locator(".marker.barge-in").count() == len(cut)
    assert await svg.locator(".marker.disclosure").count() == 1
    assert await svg.locator(".marker.consent.ok").count() >= 1  # (an answer given twice shows twice)
    graded = [t for t in turns if t.first_audio_ms is not None]
    assert graded and await svg.locator("rect.latency").count() == len(graded)
    assert await page.locator("ol.conversation li.bubble").count() == len(turns)

    # Events sit where they happened on the recording's clock: the consent after the disclosure, the
    # job lookup after the caller's consent answer and before the answer the caller talked over.
    seek = [float(await m.get_attribute("data-seek") or -1) for m in await svg.locator(".marker.tool").all()]
    consent_at = float(await svg.locator(".marker.consent").get_attribute("data-seek") or -1)
    first_caller = next(t for t in turns if t.speaker == Speaker.CALLER)
    assert turns[0].start_ms / 1000 < consent_at, consent_at
    lookups = [s for s, r in zip(seek, outcome.tool_results, strict=True) if r.name != "record_consent"]
    assert lookups and (first_caller.end_ms or 0) / 1000 < lookups[0] < cut[0].start_ms / 1000 + 0.5, (
        lookups,
        first_caller,
        cut[0],
    )

    # Clicking the interrupted answer seeks the archived recording to its start, and highlights it.
    audio = page.locator("audio#recording")
    duration = await audio.evaluate(
        "a => a.readyState >= 1 ? a.duration : new Promise(r => a.addEventListener('loadedmetadata', () => r(a.duration), { once: true }))"
    )
    assert duration == pytest.approx(float(await svg.get_attribute("data-duration") or 0), abs=0.5)
    target = svg.locator("rect.turn.interrupted").first
    await target.click()
    assert await audio.evaluate("a => a.currentTime") == pytest.approx(cut[0].start_ms / 1000, abs=0.05)
    index = await target.get_attribute("data-turn")
    assert await page.locator(f"li.bubble.current[data-turn='{index}']").count() == 1
    await page.screenshot(path=str(screenshot_path(tmp_path, "screenshots/call-page.png")), full_page=True)
    assert await accessibility_problems(page) == []

    # The call's record flagged it (the answer it was talked over came late); the queue lists it with
    # the record's reasons, and the call page's review card says the same.
    record = CallRecordStore.of(e2e[0]).get(f"call-{sid}")
    assert record is not None and record.flags and record.barge_ins == len(cut)
    labels = [FLAG_LABELS[f] for f in record.flags]
    assert await page.locator(".card.review a.reason").all_inner_texts() == labels
    await page.goto(f"{e2e_dashboard}/queue")
    row = page.locator(f"table.queue tr[data-call='call-{sid}']")
    assert await row.locator("a.reason").all_inner_texts() == labels
    why = " ".join(await row.locator(".why").all_inner_texts())
    if Flag.SLOW_TURN in record.flags:  # how slow: the slowest answer the caller waited for
        slowest = max(record.latency.turn_to_first_audio_ms or [t.first_audio_ms or 0 for t in turns])
        assert f"worst {slowest / 1000:.1f} s" in why, why
    await page.screenshot(path=str(screenshot_path(tmp_path, "screenshots/review-queue.png")), full_page=True)
    assert await accessibility_problems(page) == []
