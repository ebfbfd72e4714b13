"""The waiting-leads page, from a real cadence on the test stack: the first call reaches voicemail
(scripted at the dial and the voice worker's activity, as in tests/workflows/test_callback.py), a
text goes out, and the cadence waits two hours for its follow-up; the page lists the lead with when
and why, and without its number or name."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.tools.profiles import load_profile
from dashboard.waiting import waiting_leads
from switchboard.calendar import ALWAYS
from switchboard.config import Settings
from switchboard.messages import CallbackPolicy, CallbackRequest, SmsInput, SmsResult
from switchboard.models import Lead
from tests.dashboard.conftest import PASSWORD, SUPERVISOR
from tests.workflows.test_callback import ScriptedNetwork
from workflows.callback import OutboundCallbackWorkflow
from workflows.worker import build_worker


@activity.defn(name="send_sms")
async def send_sms(req: SmsInput) -> SmsResult:
    return SmsResult(message_sid=f"SM{uuid.uuid4().hex}", status="queued")


async def test_a_lead_between_attempts_is_listed_with_when_and_why(
    dashboard_url: str, temporal_client: Client, stack: Settings
) -> None:
    cadence = load_profile("lead_qualification").cadence
    assert cadence is not None
    lead = Lead(
        submission_id=f"wait-{uuid.uuid4().hex[:8]}",
        name="Robin Example",
        phone="+61491570158",
        timezone="Australia/Sydney",
        consent_to_contact=True,
    )
    policy = CallbackPolicy(hours=ALWAYS, cadence=cadence.model_copy(update={"text_hours": ALWAYS}))
    network = ScriptedNetwork(temporal_client, ["voicemail"])
    overrides: dict[str, Callable[..., Any]] = {
        "dial": network.dial,
        "hangup": network.hangup,
        "send_sms": send_sms,
    }
    main = build_worker(temporal_client, stack, overrides=overrides)
    voice = Worker(temporal_client, task_queue=f"voice-{network.host}", activities=[network.converse])
    async with main, voice:
        handle = await temporal_client.start_workflow(
            OutboundCallbackWorkflow.run,
            CallbackRequest(lead=lead, policy=policy),
            id=f"callback-{lead.submission_id}",
            task_queue=stack.task_queue,
        )
        try:
            for _ in range(150):  # the voicemail call, the text, then the wait (visibility catches up)
                leads = [w for w in await waiting_leads(temporal_client) if w.workflow_id == handle.id]
                if leads:
                    break
                await asyncio.sleep(0.1)
            (waiting,) = leads
            view = await handle.query(OutboundCallbackWorkflow.view)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                await http.post(f"{dashboard_url}/login", data={"user": SUPERVISOR, "password": PASSWORD})
                async with http.get(f"{dashboard_url}/waiting") as res:
                    assert res.status == 200 and res.url.path == "/waiting"
                    html = await res.text()
        finally:
            await handle.terminate("test over")
    assert waiting.attempts == 1 and waiting.last == "text" and waiting.lead_id == lead.submission_id
    assert waiting.why == "follow-up: 2 h after the last attempt"
    assert view.next_attempt_at is not None and waiting.next_at == view.next_attempt_at
    assert timedelta(hours=2) <= waiting.next_at - view.attempts[0].at < timedelta(hours=2, seconds=5)
    row = html.split(f"<td>{lead.submission_id}</td>", 1)[0].rsplit("<tr>", 1)[1]
    local = waiting.next_at.astimezone(ZoneInfo(stack.business_timezone))
    assert local.strftime("%a %-d %b %H:%M") in row and "follow-up: 2 h after the last attempt" in row
    assert lead.phone not in html and lead.phone[-6:] not in html and "Robin" not in html
    assert 'href="/waiting" aria-current="page"' in html


async def test_the_waiting_page_needs_a_session(dashboard_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{dashboard_url}/waiting") as res:
        assert res.url.path == "/login" and "Leads waiting" not in await res.text()
