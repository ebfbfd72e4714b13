"""The call page in a real browser: the picture of a finished call (turns on two lanes over the
waveform, its tools, consent and barge-in), seeking the recording from it, and the layout a person reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from switchboard.config import Settings
from switchboard.messages import ConsentAnswer, EndReason, RealtimeSession, ToolCallRequest
from switchboard.models import Speaker, ToolCall
from tests.dashboard.a11y import accessibility_problems, axe_installed
from tests.dashboard.conftest import sign_in
from tests.dashboard.simulated import simulated_call
from workflows.call import CallWorkflow

RECORDING_S = 20.0


async def talked_over_call(client: Client, stack: Settings, tmp_path: Path) -> str:
    """Disclosure, consent, a question, a tool, an answer the caller talks over, a slow answer, goodbye."""
    async with simulated_call(client, stack, tmp_path, recording_s=RECORDING_S) as call:
        await call.say(Speaker.AGENT, "Hi, I'm the clinic's AI assistant. May I record this call?")
        await call.say(Speaker.CALLER, "Yes, that's fine.")
        await call.handle.execute_update(
            CallWorkflow.record_consent, ConsentAnswer(granted=True, said="Yes, that's fine.")
        )
        await call.say(Speaker.CALLER, "Anything on Monday morning? I'm on 0412 345 678.")
        check = ToolCall(call_id="fc_1", name="check_availability", arguments={"date": "2030-01-07"})
        await call.handle.execute_update(CallWorkflow.run_tool, ToolCallRequest(call=check))
        await call.say(
            Speaker.AGENT, "Monday has nine, ten and eleven free, and also…", 520.0, interrupted=True
        )
        await call.say(Speaker.CALLER, "Ten is good.")
        # The agent's voice session drops and is resumed while the caller talks (#16's events).
        for kind, at_ms in (("dropped", 12600), ("reconnected", 13400)):
            await call.handle.signal(CallWorkflow.realtime_session, RealtimeSession(kind=kind, at_ms=at_ms))
        await call.say(Speaker.AGENT, "Ten o'clock Monday. Anything else?", 1210.0)
        await call.say(Speaker.CALLER, "No, goodbye.")
        await call.handle.execute_update(
            CallWorkflow.run_tool, ToolCallRequest(call=ToolCall(call_id="fc_2", name="end_call"))
        )
        outcome = await call.finish(EndReason.AGENT_ENDED)
    assert outcome.recording_key
    return call.call_id


async def test_the_call_page_draws_the_call_and_seeks_the_recording(
    page: Any, dashboard_url: str, temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    call_id = await talked_over_call(temporal_client, stack, tmp_path)
    await sign_in(page, dashboard_url)
    await page.wait_for_url(f"{dashboard_url}/live")
    await page.goto(f"{dashboard_url}/review/{call_id}")

    svg = page.locator("svg.picture")
    assert await svg.locator("rect.turn.caller").count() == 4
    assert await svg.locator("rect.turn.agent").count() == 3
    assert await svg.locator(".marker.barge-in").count() == 1
    assert await svg.locator(".marker.consent.ok").count() == 1
    assert await svg.locator(".marker.disclosure").count() == 1
    resumed = [
        float(await m.get_attribute("data-seek") or 0) for m in await svg.locator(".marker.realtime").all()
    ]
    assert resumed == [12.6, 13.4]  # on the stream's clock, where they happened
    tools = await svg.locator(".marker.tool").all()
    assert len(tools) >= 1 and "check_availability" in (await tools[0].get_attribute("aria-label") or "")
    assert await svg.locator(".latency.ok").count() == 1 and await svg.locator(".latency.red").count() == 1
    assert (
        await svg.locator("path.wave.caller").count() == 1
        and await svg.locator("path.wave.agent").count() == 1
    )
    # The turns line up with the stream clock: the third caller turn starts at 12.5 s of 20.
    third = svg.locator("rect.turn.caller").nth(2)
    assert float(await third.get_attribute("data-seek") or 0) == pytest.approx(12.5)

    # A tool's result shows on focus; nothing personal unmasked (the number is masked everywhere).
    await tools[0].focus()
    shown = await page.locator("#marker-detail").inner_text()
    assert "check_availability(date: 2030-01-07) → date: 2030-01-07, times: none" in shown, shown
    assert "0412 345 678" not in await page.content()

    # Clicking a turn seeks the recording there, and that turn is highlighted in both views.
    audio = page.locator("audio#recording")
    await audio.evaluate(
        "a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r, { once: true }))"
    )
    await third.click()
    assert await audio.evaluate("a => a.currentTime") == pytest.approx(12.5, abs=0.05)
    index = await third.get_attribute("data-turn")
    assert await page.locator(f"li.bubble.current[data-turn='{index}']").count() == 1
    # …and so does the keyboard: focus the slow answer and press Enter.
    slow = svg.locator("rect.turn.agent.slow-red")
    slow_index = await slow.get_attribute("data-turn")
    await slow.focus()
    await page.keyboard.press("Enter")
    assert await audio.evaluate("a => a.currentTime") == pytest.approx(15.0, abs=0.05)
    # The arrow keys walk the call in time: from the slow answer to the caller's goodbye after it.
    await page.keyboard.press("ArrowRight")
    after = await page.evaluate(
        "() => [document.activeElement.dataset.seek, document.activeElement.dataset.turn]"
    )
    assert float(after[0]) == pytest.approx(17.5) and after[1] == str(int(slow_index or 0) + 1)
    await page.keyboard.press("ArrowLeft")
    assert await page.evaluate("() => document.activeElement.dataset.turn") == slow_index
    # While it plays, the highlight follows: from the quiet gap before the slow answer into it.
    await audio.evaluate("a => { a.muted = true; a.currentTime = 14.6; }")
    await page.wait_for_function("() => !document.querySelector('.current[data-turn]')")
    await audio.evaluate("a => a.play()")
    await page.locator(f"li.bubble.current[data-turn='{slow_index}']").wait_for(timeout=5000)
    assert await svg.locator(f"rect.turn.current[data-turn='{slow_index}']").count() == 1
    assert await audio.evaluate("a => { a.pause(); return a.currentTime; }") >= 15.0

    # The conversation reads as bubbles, the summary as a card, the raw timeline stays collapsed.
    assert await page.locator("ol.conversation li.bubble").count() == 7
    assert await page.locator("li.bubble.interrupted .chip.cut").count() == 1
    assert await page.locator(".card.summary dt").count() >= 3
    assert not await page.locator("details.raw").evaluate("d => d.open")

    # Accessible: axe-core's WCAG A/AA rules (when npm could install it) and our checklist find nothing.
    assert await accessibility_problems(page) == []
    # (and they do see: an unlabelled field in grey on white is found by both)
    await page.evaluate(
        """() => { const main = document.querySelector("main");
            main.insertAdjacentHTML("beforeend", "<input id=x><p id=faint>faint</p>");
            document.getElementById("faint").style.color = "#bbb"; }"""
    )
    found = " ".join(await accessibility_problems(page))
    assert "no accessible name: <input" in found and 'contrast 1.79:1 for "faint"' in found
    assert not axe_installed() or ("label" in found and "color-contrast" in found), found
