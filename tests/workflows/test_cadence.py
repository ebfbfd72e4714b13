"""The outbound cadence on a dev server with time skipping, moto and the phone network's texts.

The dials are scripted per attempt (``ScriptedNetwork``, as in test_callback.py); the texts are
real: ``send_sms`` through the twilio SDK to the in-process phone network. A lead's reply is the
``lead_reply`` signal the SMS function sends (its own path, signature and lookup, is in
tests/functions/test_sms_received.py and the e2e test). Each test picks a zone where it is now
a weekday's calling time, so the first attempt runs at once; later ones are reached by skipping.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from activities.tools.profiles import load_profile
from functions._runtime import opted_out
from infra import services
from infra.phone.app import running_network
from infra.phone.network import PhoneNetwork
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.cadence import Cadence
from switchboard.calendar import AU_TELEMARKETING, holidays, is_open
from switchboard.config import Settings
from switchboard.messages import (
    CallbackOutcome,
    CallbackPolicy,
    CallbackRequest,
    ConsentAnswer,
    ConverseInput,
    ConverseResult,
    DialInput,
    DialResult,
    EndReason,
    LeadReply,
    ToolCallRequest,
)
from switchboard.models import Lead, Outcome, ToolResult
from switchboard.temporal import connect_client
from tests.support.keys import TEST_KEYS
from tests.workflows.test_call_workflow import tool
from tests.workflows.test_callback import ScriptedNetwork
from workflows.call import CallWorkflow
from workflows.callback import OutboundCallbackWorkflow


def _services(settings: Settings) -> Sequence[ServiceSpec]:
    return [services.temporal(settings, time_skipping=True, in_memory=True), services.moto(settings)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("cadence"))
    async with running_stack(settings, _services):
        yield settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def phone(ts_stack: Settings) -> AsyncIterator[PhoneNetwork]:
    async with running_network(ts_stack) as network:
        yield network


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def skipper(ts_stack: Settings) -> TimeSkipper:
    """A client of the time-skipping stack; exporting replay fixtures, it encrypts under the test
    key, as the ``temporal_client`` fixture does (moto's KMS keys die with moto)."""
    client = await connect_client(ts_stack, keys=TEST_KEYS if EXPORTING else None)
    return TimeSkipper(client, config=TimeSkippingConfig(enabled=False, disable_propagation=True))


_CADENCE = load_profile("lead_qualification").cadence
assert _CADENCE is not None
PROFILE_CADENCE: Cadence = _CADENCE
HISTORIES = Path(__file__).parent.parent / "histories"
# The STOP run's workflow id: a replay fixture's file is named by its workflow id.
STOP_FIXTURE = "callback_cadence_stop_encrypted"


class ConversingNetwork(ScriptedNetwork):
    """As ``ScriptedNetwork``; an answered call is driven as the voice worker drives it for the
    engine: the consent answer, then the tool calls of the next conversation, each an Update."""

    def __init__(self, client: Client, plan: list[str], conversations: list[list[ToolCallRequest]]) -> None:
        super().__init__(client, plan)
        self.conversations = conversations
        self.answered: set[str] = set()
        self.openings: list[str] = []
        self.results: list[ToolResult] = []

    @activity.defn(name="dial")
    async def dial(self, req: DialInput) -> DialResult:
        if self.plan[:1] == ["answer"]:
            self.answered.add(req.call_id)
        return await ScriptedNetwork.dial(self, req)

    @activity.defn(name="converse")
    async def converse(self, inp: ConverseInput) -> ConverseResult:
        if inp.call_id not in self.answered:  # the machine: the voicemail message, then the end
            return await ScriptedNetwork.converse(self, inp)
        self.openings.append(inp.opening_line or "")
        handle = self.client.get_workflow_handle_for(CallWorkflow.run, inp.call_id)
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        for request in self.conversations.pop(0):
            self.results.append(await handle.execute_update(CallWorkflow.run_tool, request))
        return ConverseResult(end_reason=EndReason.AGENT_ENDED)


QUALIFY = tool("qualify_lead", need="solar panels on the roof", timeframe="this month")


def daytime_zone(now: datetime) -> str:
    """A zone where it is now 10:00-16:00 on a calling day whose next day is a calling day too."""
    for name in sorted(available_timezones()):
        if not name.startswith(("Australia/", "Asia/", "Europe/", "America/", "Pacific/", "Africa/")):
            continue
        local = now.astimezone(ZoneInfo(name))
        tomorrow = local.date() + timedelta(days=1)
        if (
            time(10) <= local.time() <= time(16)
            and local.weekday() < 5
            and AU_TELEMARKETING.is_business_day(local.date())
            and AU_TELEMARKETING.is_business_day(tomorrow)
        ):
            return name
    pytest.skip("no zone is in its calling hours at this instant")


def new_lead(tz: str) -> Lead:
    return Lead(
        submission_id=uuid.uuid4().hex[:12],
        name="Sam Lee",
        phone=f"+6141{random.randint(1_000_000, 9_999_999)}",
        timezone=tz,
        consent_to_contact=True,
    )


def texts_to(network: PhoneNetwork, number: str) -> list[str]:
    return [m.body for m in network.texts.messages if m.to == number and m.direction == "outbound-api"]


async def until(predicate: object, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)


async def status(handle: WorkflowHandle[OutboundCallbackWorkflow, CallbackOutcome]) -> CallbackOutcome:
    return await handle.query(OutboundCallbackWorkflow.view)


EXPORTING = os.environ.get("SWITCHBOARD_EXPORT_HISTORIES") == "1"


async def start(
    skipper: TimeSkipper, settings: Settings, lead: Lead, cadence: Cadence, wf_id: str = ""
) -> WorkflowHandle[OutboundCallbackWorkflow, CallbackOutcome]:
    return await skipper.client.start_workflow(
        OutboundCallbackWorkflow.run,
        CallbackRequest(lead=lead, policy=CallbackPolicy(hours=AU_TELEMARKETING, cadence=cadence)),
        id=wf_id or f"callback-{lead.submission_id}",
        task_queue=settings.task_queue,
    )


async def test_voicemail_text_reply_and_the_call_back_at_three_tomorrow(
    skipper: TimeSkipper, ts_stack: Settings, phone: PhoneNetwork
) -> None:
    tz = daytime_zone(datetime.now(UTC))
    lead = new_lead(tz)
    network = ConversingNetwork(skipper.client, ["voicemail", "answer"], [[QUALIFY]])
    main, voice = network.workers(ts_stack)
    async with main, voice:
        handle = await start(skipper, ts_stack, lead, PROFILE_CADENCE)
        await until(lambda: len(texts_to(phone, lead.phone)) == 1)
        sent = texts_to(phone, lead.phone)[0]
        assert "Brightside Solar" in sent and sent.endswith("Reply STOP to opt out.")
        await handle.signal(
            OutboundCallbackWorkflow.lead_reply, LeadReply(text="tomorrow after 3", message_sid="SM1")
        )
        await handle.signal(
            OutboundCallbackWorkflow.lead_reply, LeadReply(text="tomorrow after 3", message_sid="SM1")
        )
        for _ in range(50):
            view = await status(handle)
            if view.next_attempt_why.startswith("the lead asked"):
                break
            await asyncio.sleep(0.1)
        await skipper.fast_forward(handle)
        outcome = await handle.result()
    assert [a.outcome for a in outcome.attempts] == [Outcome.VOICEMAIL, Outcome.COMPLETED]
    assert outcome.outcome == Outcome.COMPLETED
    second = outcome.attempts[1].dialled_at
    assert second is not None
    local = second.astimezone(ZoneInfo(tz))
    today = outcome.attempts[0].at.astimezone(ZoneInfo(tz)).date()
    assert local.date() == today + timedelta(days=1) and (local.hour, local.minute) == (15, 0)
    assert is_open(second, AU_TELEMARKETING, tz)
    assert [e.kind for e in outcome.events].count("reply") == 1  # Twilio's retry of SM1 is dropped
    assert len(texts_to(phone, lead.phone)) == 1  # the time was allowed: nothing more to tell
    history = await skipper.client.get_workflow_handle(outcome.attempts[1].call_id).fetch_history()
    converse = next(
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.activity_task_scheduled_event_attributes.activity_type.name == "converse"
    )
    (said,) = await skipper.client.data_converter.decode(converse.input.payloads, [ConverseInput])
    assert said.opening_line and "calling back as you asked" in said.opening_line
    assert "tomorrow after 3" in said.profile.instructions  # the agent knows the history
    call = await skipper.client.get_workflow_handle_for(
        CallWorkflow.run, outcome.attempts[1].call_id
    ).result()
    (qualified,) = [r for r in call.tool_results if r.name == "qualify_lead"]
    assert qualified.ok and qualified.output["qualified"] is True  # answered → qualified
    assert network.openings == [said.opening_line]


def friday_before_a_monday_holiday(after: date) -> date:
    for year in (after.year, after.year + 1):
        for day in holidays("AU", year):
            friday = day - timedelta(days=3)
            if day.weekday() == 0 and friday > after and AU_TELEMARKETING.is_business_day(friday):
                return day - timedelta(days=3)
    pytest.skip("no Monday public holiday ahead in the holiday data")


async def test_friday_evening_monday_morning_moves_past_the_holiday(
    skipper: TimeSkipper, ts_stack: Settings, phone: PhoneNetwork
) -> None:
    tz = daytime_zone(datetime.now(UTC))
    zone = ZoneInfo(tz)
    lead = new_lead(tz)
    friday = friday_before_a_monday_holiday(datetime.now(zone).date())
    evening = datetime.combine(friday, time(19, 30), tzinfo=zone)
    span = evening - datetime.now(UTC)
    cadence = PROFILE_CADENCE.model_copy(
        update={"follow_ups": (), "stop_after_s": int(span.total_seconds()) + 6 * 86400}
    )
    network = ScriptedNetwork(skipper.client, ["no-answer", "answer"])
    main, voice = network.workers(ts_stack)
    async with main, voice:
        handle = await start(skipper, ts_stack, lead, cadence)
        await until(lambda: len(texts_to(phone, lead.phone)) == 1)
        await skipper.fast_forward(handle, evening - datetime.now(UTC))  # nothing skipped so far

        await handle.signal(
            OutboundCallbackWorkflow.lead_reply, LeadReply(text="Monday morning", message_sid="SM2")
        )
        await until(lambda: len(texts_to(phone, lead.phone)) == 2)
        view = await status(handle)
        await skipper.fast_forward(handle)
        outcome = await handle.result()
    tuesday = friday + timedelta(days=4)
    assert view.next_attempt_at is not None
    assert view.next_attempt_at.astimezone(zone) == datetime.combine(tuesday, time(9), tzinfo=zone)
    told = texts_to(phone, lead.phone)[1]
    assert tuesday.strftime("%A") in told and "9:00 am" in told
    dialled = outcome.attempts[-1].dialled_at
    assert outcome.outcome == Outcome.COMPLETED and dialled is not None
    assert abs(dialled - datetime.combine(tuesday, time(9), tzinfo=zone)) < timedelta(seconds=5)


async def test_stop_opts_out_with_one_confirmation_and_no_further_call(
    skipper: TimeSkipper, ts_stack: Settings, phone: PhoneNetwork
) -> None:
    lead = new_lead(daytime_zone(datetime.now(UTC)))
    network = ScriptedNetwork(skipper.client, ["voicemail"])
    main, voice = network.workers(ts_stack)
    async with main, voice:
        handle = await start(skipper, ts_stack, lead, PROFILE_CADENCE, STOP_FIXTURE)
        await until(lambda: len(texts_to(phone, lead.phone)) == 1)
        await handle.signal(OutboundCallbackWorkflow.lead_reply, LeadReply(text="STOP", message_sid="SM3"))
        outcome = await handle.result()
        assert outcome.outcome == Outcome.OPTED_OUT and outcome.opted_out
        assert len(outcome.attempts) == 1 and network.plan == []
        texts = texts_to(phone, lead.phone)
        assert len(texts) == 2 and "unsubscribed" in texts[1] and "STOP" not in texts[1]
        # A new web form from the same number: refused at the function, and never dialled.
        assert opted_out(ts_stack, lead.phone)
        if EXPORTING:  # the cadence path's replay fixture (workflow.patched callback-cadence)
            history = await handle.fetch_history()
            (HISTORIES / f"{handle.id}.json").write_text(history.to_json())
        again = lead.model_copy(update={"submission_id": uuid.uuid4().hex[:12]})
        refused = await (await start(skipper, ts_stack, again, PROFILE_CADENCE)).result()
    assert refused.do_not_call and refused.attempts == []
    assert len(texts_to(phone, lead.phone)) == 2


async def test_three_days_unanswered_is_unreachable_after_the_declared_attempts(
    skipper: TimeSkipper, ts_stack: Settings, phone: PhoneNetwork
) -> None:
    tz = daytime_zone(datetime.now(UTC))
    lead = new_lead(tz)
    network = ScriptedNetwork(skipper.client, ["no-answer"] * 5)
    main, voice = network.workers(ts_stack)
    async with main, voice:
        handle = await start(skipper, ts_stack, lead, PROFILE_CADENCE)
        await skipper.fast_forward(handle)
        outcome = await handle.result()
    assert outcome.outcome == Outcome.UNREACHABLE
    assert len(outcome.attempts) == PROFILE_CADENCE.attempts == 3
    first, second, third = (a.dialled_at for a in outcome.attempts)
    assert first and second and third
    assert second - outcome.attempts[0].at >= timedelta(hours=2)
    local = third.astimezone(ZoneInfo(tz))
    assert (local.hour, local.minute) == (9, 0) and local.date() > first.astimezone(ZoneInfo(tz)).date()
    end = next(e for e in outcome.events if e.kind == "end")
    assert end.at - first >= timedelta(days=3) - timedelta(minutes=1)
    assert len(texts_to(phone, lead.phone)) == 1


async def test_call_me_back_later_on_the_call_reschedules_like_a_reply(
    skipper: TimeSkipper, ts_stack: Settings, phone: PhoneNetwork
) -> None:
    """ "Call me back tomorrow after 3" said on the call: the agent's schedule_callback reads the
    time back, the call ends ``callback_requested`` (no missed-call text), and the cadence calls at
    15:00 the next day in the lead's zone, where the lead is qualified."""
    tz = daytime_zone(datetime.now(UTC))
    lead = new_lead(tz)
    later = tool("schedule_callback", when="tomorrow after 3")
    network = ConversingNetwork(skipper.client, ["answer", "answer"], [[later], [QUALIFY]])
    main, voice = network.workers(ts_stack)
    async with main, voice:
        handle = await start(skipper, ts_stack, lead, PROFILE_CADENCE)
        for _ in range(100):
            view = await status(handle)
            if view.next_attempt_why == "the lead asked on the call":
                break
            await asyncio.sleep(0.1)
        await skipper.fast_forward(handle)
        outcome = await handle.result()
    assert [a.outcome for a in outcome.attempts] == [Outcome.CALLBACK_REQUESTED, Outcome.COMPLETED]
    first, second = outcome.attempts
    assert second.dialled_at is not None
    local = second.dialled_at.astimezone(ZoneInfo(tz))
    tomorrow = first.at.astimezone(ZoneInfo(tz)).date() + timedelta(days=1)
    assert local.date() == tomorrow and (local.hour, local.minute) == (15, 0)
    read_back = network.results[0]
    assert (
        read_back.ok and read_back.output["say"] == f"I'll call you back on {tomorrow:%A %-d %B} at 3:00 pm."
    )
    assert not read_back.output["moved"]
    reply = next(e for e in outcome.events if e.kind == "reply")
    assert reply.detail == "on the call: tomorrow after 3"
    moved = next(e for e in outcome.events if e.kind == "reschedule")
    assert moved.detail == "the lead asked on the call" and moved.due is not None
    assert timedelta(0) <= second.dialled_at - moved.due < timedelta(seconds=5)
    assert texts_to(phone, lead.phone) == []  # answered: no missed-call text, the time was allowed
    assert "calling back as you asked" in network.openings[1]
    assert [r.name for r in network.results] == ["schedule_callback", "qualify_lead"]
