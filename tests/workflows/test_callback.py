"""OutboundCallbackWorkflow on a dev server with time skipping: calling hours, retries, voicemail.

The child CallWorkflows are real; the telephony is scripted per attempt by activities registered
under the real names (``dial``, ``hangup``, ``converse``), which signal the child the way the
status callbacks and the voice worker would. The real path is in tests/e2e.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

from activities.contact import FileDoNotCall
from infra import services
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.calendar import ALWAYS, AU_TELEMARKETING, holidays, is_open
from switchboard.config import Settings
from switchboard.messages import (
    CallbackOutcome,
    CallbackPolicy,
    CallbackRequest,
    ConverseInput,
    ConverseResult,
    DialInput,
    DialResult,
    EndReason,
    HangupInput,
    StreamAttached,
    TelephonyEvent,
)
from switchboard.models import Lead, Outcome
from switchboard.temporal import connect_client
from voice.live_commands import CommandActivities, LiveConversations
from workflows.callback import OutboundCallbackWorkflow
from workflows.worker import build_worker


def _services(settings: Settings) -> Sequence[ServiceSpec]:
    return [services.temporal(settings, time_skipping=True, in_memory=True), services.moto(settings)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("callback"))
    async with running_stack(settings, _services):
        yield settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def skipper(ts_stack: Settings) -> TimeSkipper:
    client = await connect_client(ts_stack)
    return TimeSkipper(client, config=TimeSkippingConfig(enabled=False, disable_propagation=True))


class ScriptedNetwork:
    """Each dial plays the next behaviour: busy, no-answer, voicemail or answer."""

    def __init__(self, client: Client, plan: list[str]) -> None:
        self.client = client
        self.plan = plan
        self.host = f"test-{uuid.uuid4().hex[:6]}"
        self.voicemail_lines: list[str] = []
        self.live = LiveConversations()

    @activity.defn(name="dial")
    async def dial(self, req: DialInput) -> DialResult:
        behaviour = self.plan.pop(0)
        sid = f"CA{uuid.uuid4().hex}"
        call = self.client.get_workflow_handle(req.call_id)
        if behaviour in ("busy", "no-answer"):
            await call.signal("telephony_event", TelephonyEvent(call_sid=sid, status=behaviour))
        else:
            await call.signal(
                "stream_attached", StreamAttached(host=self.host, stream_sid="MZ", call_sid=sid)
            )
            if behaviour == "voicemail":
                event = TelephonyEvent(call_sid=sid, status="in-progress", answered_by="machine_end_beep")
                await call.signal("telephony_event", event)
        return DialResult(call_sid=sid, status="queued")

    @activity.defn(name="hangup")
    async def hangup(self, req: HangupInput) -> str:
        return "completed"

    @activity.defn(name="converse")
    async def converse(self, inp: ConverseInput) -> ConverseResult:
        commands = self.live.open(inp.call_id)
        try:  # a voicemail: the workflow pushes the message, then the call ends
            command = await asyncio.wait_for(commands.get(), 2.0)
            if command.reason == "voicemail":
                self.voicemail_lines.append(command.line)
        except TimeoutError:
            pass
        finally:
            self.live.close(inp.call_id)
        return ConverseResult(end_reason=EndReason.AGENT_ENDED)

    def workers(self, settings: Settings) -> tuple[Worker, Worker]:
        main = build_worker(self.client, settings, overrides={"dial": self.dial, "hangup": self.hangup})
        deliver = CommandActivities(self.live).deliver_command
        voice = Worker(self.client, task_queue=f"voice-{self.host}", activities=[self.converse, deliver])
        return main, voice


def evening_zone(now: datetime) -> tuple[str, datetime]:
    """A zone where it is now between 20:30 and 23:59 local time (past the calling hours)."""
    for name in sorted(available_timezones()):
        if not name.startswith(("Australia/", "Asia/", "Europe/", "America/", "Pacific/", "Africa/")):
            continue
        local = now.astimezone(ZoneInfo(name))
        if time(20, 30) <= local.time() <= time(23, 59):
            return name, local
    pytest.skip("no zone has an evening at this instant")


def next_calling_day(after: date) -> date:
    """The standard allows Monday–Saturday, except national public holidays."""
    day = after + timedelta(days=1)
    while day.weekday() == 6 or day in holidays("AU", day.year):
        day += timedelta(days=1)
    return day


def lead(tz: str) -> Lead:
    return Lead(
        submission_id=uuid.uuid4().hex[:12],
        name="Sam",
        phone="+61412345678",
        timezone=tz,
        consent_to_contact=True,
    )


async def run(
    skipper: TimeSkipper, settings: Settings, plan: list[str], req: CallbackRequest
) -> tuple[CallbackOutcome, ScriptedNetwork]:
    network = ScriptedNetwork(skipper.client, plan)
    main, voice = network.workers(settings)
    async with main, voice:
        handle = await skipper.client.start_workflow(
            OutboundCallbackWorkflow.run,
            req,
            id=f"callback-{req.lead.submission_id}",
            task_queue=settings.task_queue,
        )
        for _ in range(20):  # skip each timer (calling hours, backoff) as the workflow reaches it
            if not await skipper.fast_forward(handle):
                break
        result = await handle.result()
    return result, network


async def test_evening_form_is_dialled_at_nine_on_the_next_calling_day(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    tz, local_now = evening_zone(datetime.now(UTC))
    req = CallbackRequest(lead=lead(tz), policy=CallbackPolicy(hours=AU_TELEMARKETING))
    outcome, _ = await run(skipper, ts_stack, ["answer"], req)
    assert outcome.outcome == Outcome.COMPLETED
    dialled = outcome.attempts[0].dialled_at
    assert dialled is not None
    local = dialled.astimezone(ZoneInfo(tz))
    assert local.date() == next_calling_day(local_now.date()) and (local.hour, local.minute) == (9, 0)
    assert is_open(dialled, AU_TELEMARKETING, tz)


async def test_busy_then_answered_takes_two_attempts(skipper: TimeSkipper, ts_stack: Settings) -> None:
    req = CallbackRequest(lead=lead("UTC"), policy=CallbackPolicy(hours=ALWAYS))
    outcome, _ = await run(skipper, ts_stack, ["busy", "answer"], req)
    assert [a.outcome for a in outcome.attempts] == [Outcome.BUSY, Outcome.COMPLETED]
    assert outcome.outcome == Outcome.COMPLETED
    first, second = outcome.attempts
    assert (
        second.dialled_at and first.at and second.dialled_at - first.at >= timedelta(seconds=120)
    )  # the backoff


async def test_voicemail_leaves_the_message_and_retries(skipper: TimeSkipper, ts_stack: Settings) -> None:
    req = CallbackRequest(lead=lead("UTC"), policy=CallbackPolicy(hours=ALWAYS, max_attempts=2))
    outcome, network = await run(skipper, ts_stack, ["voicemail", "no-answer"], req)
    assert [a.outcome for a in outcome.attempts] == [Outcome.VOICEMAIL, Outcome.NO_ANSWER]
    assert network.voicemail_lines and "Brightside Solar" in network.voicemail_lines[0]


async def test_do_not_call_is_never_dialled(skipper: TimeSkipper, ts_stack: Settings) -> None:
    listed = lead("UTC")
    (ts_stack.home / "do_not_call.txt").write_text(f"# the register\n{listed.phone}\n")
    try:
        outcome, _ = await run(skipper, ts_stack, [], CallbackRequest(lead=listed))
    finally:
        (ts_stack.home / "do_not_call.txt").unlink()
    assert outcome.do_not_call and outcome.attempts == []


def test_the_do_not_call_file_applies_edits_at_once(tmp_path: Path) -> None:
    register = FileDoNotCall(tmp_path / "do_not_call.txt")
    assert not register.listed("+61491570156")  # no file: nobody is listed
    register.path.write_text("# the register\n+61491570156  # asked on 3 May\n")
    assert register.listed("+61491570156") and not register.listed("+61491570157")
    register.path.write_text("+61491570157\n")  # an edit
    assert register.listed("+61491570157") and not register.listed("+61491570156")
    register.path.unlink()
    assert not register.listed("+61491570157")
