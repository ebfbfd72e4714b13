"""IntakeDeliveryWorkflow on a real dev server with time skipping, sending through SES in moto.

A stand-in for the call's workflow (``AfterHoursCall``) sleeps until the chosen night-time instant
of virtual time and hands the summary over as an abandoned child, as CallWorkflow does; the child
starts at that virtual time without skipping (``disable_propagation``), so the test can look at
the pending matter before it moves the child's clock on to the morning.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

from activities.delivery import DeliveryActivities
from cli.intake import PendingMatter, cmd_intake_pending, list_pending
from infra import services
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard import calendar
from switchboard.config import Settings
from switchboard.messages import DeliverInput, DeliveryResult
from switchboard.models import CallSummary, Delivery, Outcome
from switchboard.search_attributes import CALL_STATUS
from switchboard.temporal import connect_client
from workflows.intake_delivery import (
    DeliveryStatus,
    IntakeDeliveryInput,
    IntakeDeliveryResult,
    IntakeDeliveryWorkflow,
    intake_workflow_id,
)

SYDNEY = "Australia/Sydney"
DUTY = "duty-solicitor@marsh.example"
ON_CALL = "on-call@marsh.example"
PARTNER = "managing-partner@marsh.example"
Deliver = Callable[[DeliverInput], Awaitable[DeliveryResult]]


class HandOver(BaseModel):
    at: datetime
    intake: IntakeDeliveryInput


@workflow.defn(sandboxed=False)  # a test double of CallWorkflow's hand-over; the child is sandboxed
class AfterHoursCall:
    @workflow.run
    async def run(self, inp: HandOver) -> str:
        await workflow.sleep(inp.at - workflow.now())
        child = await workflow.start_child_workflow(
            IntakeDeliveryWorkflow.run,
            inp.intake,
            id=intake_workflow_id(inp.intake.summary.call_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
        return child.id


def _services(settings: Settings) -> Sequence[ServiceSpec]:
    return [services.temporal(settings, time_skipping=True, in_memory=True), services.moto(settings)]


def _durable_services(settings: Settings) -> Sequence[ServiceSpec]:
    return [services.temporal(settings, time_skipping=True)]  # SQLite under home, as `switchboard up`


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("intake"))
    async with running_stack(settings, _services):
        yield settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def skipper(ts_stack: Settings) -> TimeSkipper:
    # Workflows start without skipping; the test moves each clock itself. The child does not
    # inherit the parent's skipping, only its virtual time.
    skipper = TimeSkipper(
        await connect_client(ts_stack), config=TimeSkippingConfig(enabled=False, disable_propagation=True)
    )
    return skipper


def _worker(client: Client, settings: Settings, deliver: Deliver | None = None) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[IntakeDeliveryWorkflow, AfterHoursCall],
        activities=[deliver or DeliveryActivities(settings).deliver],
        activity_executor=ThreadPoolExecutor(4),
        workflow_failure_exception_types=[Exception],
    )


def _summary(call_id: str, *, urgent: bool = False) -> CallSummary:
    return CallSummary(
        call_id=call_id,
        profile="law_intake",
        outcome=Outcome.COMPLETED,
        headline="Call completed: take after-hours enquiries for Marsh & Co Lawyers",
        fields={
            "matter_type": "criminal" if urgent else "conveyancing",
            "description": "Arrested tonight, bail hearing tomorrow" if urgent else "Settlement delayed",
            "urgent": urgent,
            "name": "Jane Citizen",
            "phone": "+61412345678",
            "transcript_excerpt": ["caller: I need a lawyer", "agent: I'll pass this on"],
        },
    )


def _intake(call_id: str, **overrides: Any) -> IntakeDeliveryInput:
    values: dict[str, Any] = {
        "summary": _summary(call_id, urgent=overrides.pop("urgent", False)),
        "delivery": Delivery(email=[DUTY]),
        "recording_key": f"recordings/law_intake/{call_id}.wav",
        "timezone": SYDNEY,
        "on_call": [ON_CALL],
        "escalation": [PARTNER],
    }
    return IntakeDeliveryInput.model_validate(values | overrides)


def _local(day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=calendar.zone(SYDNEY))


def _next_weeknight(after: date) -> date:
    """A Tuesday after ``after`` whose Wednesday is a business day (for a plain night-time call)."""
    hours = calendar.business_hours()
    day = after + timedelta(days=2)
    while not (day.weekday() == calendar.TUE and hours.is_business_day(day + timedelta(days=1))):
        day += timedelta(days=1)
    return day


def _friday_before_monday_holiday(after: date) -> date:
    for holiday in calendar.holidays("AU", after.year) | calendar.holidays("AU", after.year + 1):
        friday = holiday - timedelta(days=3)
        ahead = friday > after + timedelta(days=1)
        if holiday.weekday() == calendar.MON and ahead and calendar.business_hours().is_business_day(friday):
            return friday
    pytest.fail("no Monday public holiday ahead in switchboard/holidays/AU.json: add next year's data")


async def _sent(settings: Settings, call_id: str) -> list[dict[str, Any]]:
    """Mail SES (moto) accepted for this call, from moto's sent-mail store."""
    async with httpx.AsyncClient(timeout=5) as http:
        data = (await http.get(f"{settings.aws_endpoint}/moto-api/data.json")).json()
    return [m for m in data["ses"]["Message"] if f"Call {call_id}:" in m["body"]]


async def _hand_over(
    skipper: TimeSkipper, settings: Settings, night: datetime, intake: IntakeDeliveryInput
) -> WorkflowHandle[Any, IntakeDeliveryResult]:
    """Run the call's stand-in until the night-time hand-over; return the pending delivery."""
    client = skipper.client
    call = await client.start_workflow(
        AfterHoursCall.run,
        HandOver(at=night, intake=intake),
        id=f"call-{intake.summary.call_id}",
        task_queue=settings.task_queue,
    )
    # Past the hand-over: the stand-in finishes there, so the fast-forward ends with it (False).
    await skipper.fast_forward(call, night - datetime.now(UTC) + timedelta(minutes=1))
    child_id = await call.result()
    return client.get_workflow_handle(child_id, result_type=IntakeDeliveryResult)


async def _pending(handle: WorkflowHandle[Any, IntakeDeliveryResult]) -> IntakeDeliveryResult:
    view = await handle.query(IntakeDeliveryWorkflow.view)
    assert view is not None and view.status == DeliveryStatus.PENDING
    return view


async def _listed(client: Client, workflow_id: str) -> PendingMatter:
    for _ in range(50):  # visibility is eventually consistent
        found = [m for m in await list_pending(client) if m.workflow_id == workflow_id]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} is not listed as pending")


async def test_night_call_is_emailed_once_at_8_next_business_morning(
    skipper: TimeSkipper, ts_stack: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    tuesday = _next_weeknight(datetime.now(UTC).date())
    night = _local(tuesday, time(22, 30))
    async with _worker(skipper.client, ts_stack):
        handle = await _hand_over(skipper, ts_stack, night, _intake(call_id))
        view = await _pending(handle)
        assert view.received_at is not None and view.received_at >= night
        assert view.due_at == _local(tuesday + timedelta(days=1), time(8, 0))
        listed = await _listed(skipper.client, handle.id)
        assert (
            listed.call_id == call_id and listed.due_at == view.due_at and listed.status == "pending_delivery"
        )
        assert listed.matter_type == "conveyancing" and not listed.urgent
        assert listed.due_local is not None and listed.due_local.hour == 8
        args = argparse.Namespace(command="intake", intake_command="pending", limit=50)
        assert await asyncio.to_thread(cmd_intake_pending, args, ts_stack) == 0
        printed = capsys.readouterr().out
        assert call_id in printed and "08:00 AEDT" in printed and "Jane" not in printed
        assert await _sent(ts_stack, call_id) == []  # nothing before 8:00

        # Move the matter's clock to one minute before 8: still nothing.
        assert view.due_at is not None
        now = await skipper.get_current_time(handle)
        assert await skipper.fast_forward(handle, view.due_at - now - timedelta(minutes=1))
        assert await _sent(ts_stack, call_id) == []
        await _pending(handle)

        await skipper.fast_forward(handle)  # on to 8:00 and the email
        result = await handle.result()

    assert result.status == DeliveryStatus.DELIVERED
    assert result.delivered_at is not None and result.delivered_at >= view.due_at
    assert result.urgent_notice is None and result.escalated_at is None
    [mail] = await _sent(ts_stack, call_id)
    assert mail["destinations"]["ToAddresses"] == [DUTY]
    assert mail["subject"] == "[law_intake] Call completed: take after-hours enquiries for Marsh & Co Lawyers"
    assert "Settlement delayed" in mail["body"] and "conveyancing" in mail["body"]
    assert f"recordings/law_intake/{call_id}.wav" in mail["body"]
    assert "caller: I need a lawyer" in mail["body"]
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(CALL_STATUS) == DeliveryStatus.DELIVERED.value


class FailingSes:
    """``deliver`` that fails like an SES outage for the first ``failures`` attempts to ``to``,
    then sends for real through DeliveryActivities."""

    def __init__(self, settings: Settings, failures: int, to: str = DUTY) -> None:
        self.real = DeliveryActivities(settings)
        self.failures = failures
        self.to = to
        self.attempts: list[tuple[int, datetime]] = []

    @activity.defn(name="deliver")
    async def deliver(self, inp: DeliverInput) -> DeliveryResult:
        if self.to in inp.delivery.email:
            info = activity.info()
            self.attempts.append((info.attempt, info.current_attempt_scheduled_time))
            if info.attempt <= self.failures:
                raise RuntimeError("SES unavailable (simulated outage)")
        return await self.real.deliver(inp)


async def test_ses_down_at_8_is_retried_and_delivered_once(skipper: TimeSkipper, ts_stack: Settings) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    night = _local(_next_weeknight(datetime.now(UTC).date()), time(23, 50))
    ses = FailingSes(ts_stack, failures=3)
    async with _worker(skipper.client, ts_stack, ses.deliver):
        handle = await _hand_over(skipper, ts_stack, night, _intake(call_id))
        await skipper.fast_forward(handle)
        result = await handle.result()

    assert [a for a, _ in ses.attempts] == [1, 2, 3, 4]
    gaps = [(b - a).total_seconds() for (_, a), (_, b) in zip(ses.attempts, ses.attempts[1:], strict=False)]
    assert gaps[0] >= 30 and gaps[1] >= 60 and gaps[2] >= 120  # backoff, in virtual time
    assert result.status == DeliveryStatus.DELIVERED and result.escalated_at is None
    assert result.due_at is not None and ses.attempts[0][1] >= result.due_at
    [mail] = await _sent(ts_stack, call_id)
    assert mail["destinations"]["ToAddresses"] == [DUTY] and "Settlement delayed" in mail["body"]


async def test_still_failing_after_the_deadline_escalates_and_still_delivers(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    night = _local(_next_weeknight(datetime.now(UTC).date()), time(21, 0))
    ses = FailingSes(ts_stack, failures=3)  # attempts at +0, +30 s, +90 s fail; +210 s works
    intake = _intake(call_id, escalate_after=timedelta(minutes=1))
    async with _worker(skipper.client, ts_stack, ses.deliver):
        handle = await _hand_over(skipper, ts_stack, night, intake)
        await skipper.fast_forward(handle)
        result = await handle.result()

    assert result.status == DeliveryStatus.DELIVERED
    assert result.escalated_at is not None and result.due_at is not None
    assert result.escalated_at >= result.due_at + timedelta(minutes=1)
    assert result.escalation_notice is not None and result.escalation_notice.recipients == [PARTNER]
    mails = await _sent(ts_stack, call_id)
    assert sorted(m["destinations"]["ToAddresses"][0] for m in mails) == sorted([DUTY, PARTNER])
    [late] = [m for m in mails if m["destinations"]["ToAddresses"] == [PARTNER]]
    assert (
        late["subject"].startswith("[law_intake] NOT YET DELIVERED: ")
        and "Settlement delayed" in late["body"]
    )


async def test_urgent_matter_goes_to_on_call_at_once_and_to_the_office_at_8(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    night = _local(_next_weeknight(datetime.now(UTC).date()), time(2, 15))  # Tuesday 2:15 → Tuesday 8:00
    async with _worker(skipper.client, ts_stack):
        handle = await _hand_over(skipper, ts_stack, night, _intake(call_id, urgent=True))
        view = await _pending(handle)
        assert view.urgent and view.due_at == _local(night.date(), time(8, 0))
        for _ in range(100):  # the urgent email goes out in real time, with no skipping
            if await _sent(ts_stack, call_id):
                break
            await asyncio.sleep(0.1)
        [urgent] = await _sent(ts_stack, call_id)
        assert urgent["destinations"]["ToAddresses"] == [ON_CALL]
        assert urgent["subject"].startswith("[law_intake] URGENT: ") and "bail hearing" in urgent["body"]
        await _pending(handle)  # the office copy still waits for 8:00
        await skipper.fast_forward(handle)
        result = await handle.result()

    assert result.urgent_notice is not None and result.urgent_notice.recipients == [ON_CALL]
    mails = await _sent(ts_stack, call_id)
    assert len(mails) == 2 and mails[1]["destinations"]["ToAddresses"] == [DUTY]


async def test_friday_night_with_monday_holiday_waits_for_tuesday_8(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    friday = _friday_before_monday_holiday(datetime.now(UTC).date())
    async with _worker(skipper.client, ts_stack):
        handle = await _hand_over(skipper, ts_stack, _local(friday, time(23, 0)), _intake(call_id))
        view = await _pending(handle)
        tuesday_8 = _local(friday + timedelta(days=4), time(8, 0))
        assert view.due_at == tuesday_8
        await skipper.fast_forward(handle)
        result = await handle.result()
    assert result.delivered_at is not None and result.delivered_at >= tuesday_8
    assert len(await _sent(ts_stack, call_id)) == 1


async def test_worker_restart_before_8_loses_nothing(skipper: TimeSkipper, ts_stack: Settings) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    night = _local(_next_weeknight(datetime.now(UTC).date()), time(22, 0))
    async with _worker(skipper.client, ts_stack):
        handle = await _hand_over(skipper, ts_stack, night, _intake(call_id))
        view = await _pending(handle)
    # No worker at all while the night passes.
    assert view.due_at is not None
    now = await skipper.get_current_time(handle)
    assert await skipper.fast_forward(handle, view.due_at - now - timedelta(seconds=30))
    assert await _sent(ts_stack, call_id) == []
    # A new worker (new process in production: empty cache, replays the history) delivers it.
    fresh = await connect_client(ts_stack)
    async with _worker(fresh, ts_stack):
        await skipper.fast_forward(handle)
        result = await handle.result()
    assert result.status == DeliveryStatus.DELIVERED
    assert len(await _sent(ts_stack, call_id)) == 1


async def test_gave_up_stays_escalated_and_listed_with_the_summary_kept(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    night = _local(_next_weeknight(datetime.now(UTC).date()), time(20, 0))
    ses = FailingSes(ts_stack, failures=10_000)  # the duty inbox never accepts
    intake = _intake(call_id, escalate_after=timedelta(minutes=1), give_up_after=timedelta(minutes=5))
    async with _worker(skipper.client, ts_stack, ses.deliver):
        handle = await _hand_over(skipper, ts_stack, night, intake)
        await skipper.fast_forward(handle)
        result = await handle.result()

    assert result.status == DeliveryStatus.ESCALATED and result.delivery is None
    assert result.escalation_notice is not None and len(ses.attempts) >= 3
    [late] = await _sent(ts_stack, call_id)  # the partner has the whole summary
    assert late["destinations"]["ToAddresses"] == [PARTNER] and "Settlement delayed" in late["body"]
    listed = await _listed(skipper.client, handle.id)
    assert listed.status == "undelivered"
    started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    [kept] = await skipper.client.data_converter.decode(started.input.payloads, [IntakeDeliveryInput])
    assert kept.summary == intake.summary  # the whole summary stays in the history (encrypted)


async def test_restarting_temporal_and_the_worker_before_8_loses_nothing(
    ts_stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Its own Temporal, on a SQLite file (as `switchboard up` runs it), beside the module's moto.
    settings = isolated_settings(
        tmp_path_factory.mktemp("restart"), aws_endpoint_url=ts_stack.aws_endpoint_url
    )
    call_id = f"CA{uuid.uuid4().hex[:12]}"
    night = _local(_next_weeknight(datetime.now(UTC).date()), time(22, 45))
    config = TimeSkippingConfig(enabled=False, disable_propagation=True)
    async with running_stack(settings, _durable_services):
        skipper = TimeSkipper(await connect_client(settings), config=config)
        async with _worker(skipper.client, settings):
            handle = await _hand_over(skipper, settings, night, _intake(call_id))
            view = await _pending(handle)
    assert (settings.home / "temporal.db").exists()

    async with running_stack(settings, _durable_services):  # every process new: server, client, worker
        skipper = TimeSkipper(await connect_client(settings), config=config)
        handle = skipper.client.get_workflow_handle(handle.id, result_type=IntakeDeliveryResult)
        assert await _sent(ts_stack, call_id) == []
        async with _worker(skipper.client, settings):
            assert await _pending(handle) == view
            await skipper.fast_forward(handle)
            result = await handle.result()
    assert result.status == DeliveryStatus.DELIVERED and result.due_at == view.due_at
    assert len(await _sent(ts_stack, call_id)) == 1
