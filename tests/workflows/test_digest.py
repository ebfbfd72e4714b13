"""The weekly review digest on a dev server with time skipping, mailing through SES in moto: the
Monday 08:00 email with the week's counts, sent once, retried when SES fails; and the Schedule
that starts it, created idempotently."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

from activities.digest import DigestActivities, SendInput
from infra import services
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import CallFacts, ToolUse, Verdict, build_record
from switchboard.config import Settings
from switchboard.digest import DigestInput, DigestResult, digest_due
from switchboard.models import Outcome
from switchboard.temporal import connect_client
from workflows.digest import SCHEDULE_ID, ReviewDigestWorkflow, ensure_digest_schedule

SYDNEY = ZoneInfo("Australia/Sydney")
TEAM = "clinic-team@harbourside.example"


def _services(settings: Settings) -> Sequence[ServiceSpec]:
    return [services.temporal(settings, time_skipping=True, in_memory=True), services.moto(settings)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("digest"), review_digest_to=TEAM)
    async with running_stack(settings, _services):
        yield settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def skipper(ts_stack: Settings) -> TimeSkipper:
    return TimeSkipper(await connect_client(ts_stack), config=TimeSkippingConfig(enabled=False))


def _worker(client: Client, settings: Settings, send: Any = None) -> Worker:
    digest = DigestActivities(settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ReviewDigestWorkflow],
        activities=[digest.gather_digest, send or digest.send_digest],
        activity_executor=ThreadPoolExecutor(4),
        workflow_failure_exception_types=[Exception],
    )


def _seed(settings: Settings, monday: datetime) -> dict[str, str]:
    """Calls of the week before ``monday`` (and one of the week before that), written to the store."""
    store = CallRecordStore.of(settings)

    def put(name: str, at: datetime, **changes: Any) -> str:
        facts = CallFacts(
            call_id=f"call-{name}-{uuid.uuid4().hex[:6]}",
            profile="clinic_booking",
            started_at=at,
            ended_at=at + timedelta(minutes=2),
            outcome=Outcome.COMPLETED,
            consent="given",
        ).model_copy(update=changes)
        store.put(build_record(facts, settings.business_timezone))
        return facts.call_id

    week = monday - timedelta(days=7)
    ids = {
        "clean": put("clean", week + timedelta(days=1, hours=10)),
        "escalated": put("escalated", week + timedelta(days=2, hours=11), outcome=Outcome.ESCALATED),
        "reviewed": put("reviewed", week + timedelta(days=3, hours=9), consent="refused"),
        "failed": put(
            "failed", week + timedelta(days=6, hours=23), tools=[ToolUse(name="book_appointment", ok=False)]
        ),
        "older": put("older", week - timedelta(days=2), outcome=Outcome.CALLER_HUNG_UP),
        "next": put("next", monday + timedelta(hours=1)),  # after the week: not counted
    }
    store.mark_reviewed(ids["reviewed"], Verdict.CALLER_ISSUE, "", "sam")
    return ids


async def _mail(settings: Settings, week: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        data = (await http.get(f"{settings.aws_endpoint}/moto-api/data.json")).json()
    return [m for m in data["ses"]["Message"] if f"Weekly call review {week}" in m["subject"]]


class FailingSes:
    def __init__(self, settings: Settings, failures: int) -> None:
        self.real = DigestActivities(settings)
        self.failures = failures
        self.attempts: list[int] = []

    @activity.defn(name="send_digest")
    async def send_digest(self, inp: SendInput) -> DigestResult:
        self.attempts.append(activity.info().attempt)
        if activity.info().attempt <= self.failures:
            raise RuntimeError("SES unavailable (simulated outage)")
        return await self.real.send_digest(inp)


async def _run(skipper: TimeSkipper, settings: Settings, send: Any = None) -> tuple[DigestResult, datetime]:
    """Start the digest now (not a Monday morning): it sleeps to the next Monday 08:00 and sends."""
    client = skipper.client
    async with _worker(client, settings, send):
        handle = await client.start_workflow(
            ReviewDigestWorkflow.run,
            DigestInput(timezone="Australia/Sydney", recipients=[TEAM], dashboard_url="https://dash.example"),
            id=f"review-digest-test-{uuid.uuid4().hex[:6]}",
            task_queue=settings.task_queue,
        )
        now = await skipper.get_current_time(handle)
        due = digest_due(now, "Australia/Sydney")
        assert due > now  # it waits for Monday 08:00
        await skipper.fast_forward(handle)
        result = await handle.result()
        sent_at = await skipper.get_current_time(handle)
    return result, sent_at


async def test_the_monday_8am_email_has_the_weeks_counts_and_is_sent_once(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    due = digest_due(datetime.now(UTC), "Australia/Sydney")
    assert due.weekday() == 0 and due.time() == time(8, 0) and due.tzinfo == SYDNEY
    ids = _seed(ts_stack, datetime.combine(due.date(), time(0), SYDNEY))
    result, sent_at = await _run(skipper, ts_stack)

    assert sent_at.astimezone(SYDNEY) >= due and sent_at.astimezone(SYDNEY) - due < timedelta(minutes=1)
    assert (result.calls, result.flagged, result.unreviewed) == (4, 3, 3)  # the older one is unreviewed too
    assert result.first_day == (due - timedelta(days=7)).date() and result.recipients == [TEAM]
    [mail] = await _mail(ts_stack, f"{result.first_day:%-d %b}")
    assert mail["destinations"]["ToAddresses"] == [TEAM]
    assert mail["subject"].endswith(": 4 calls, 3 flagged, 3 to review")
    body = mail["body"]
    assert "Calls: <b>4</b>" in body and "<b>3</b> of 4 answered (75%)" in body
    for flagged in ("escalated", "reviewed", "failed"):
        assert f'href="https://dash.example/review/{ids[flagged]}"' in body
    unreviewed = body.split("Not yet reviewed", 1)[1]
    assert ids["older"] in unreviewed and ids["escalated"] in unreviewed and ids["reviewed"] not in unreviewed
    assert ids["clean"] not in body and ids["next"] not in body


async def test_ses_down_at_8_is_retried_and_the_digest_sent_once(
    skipper: TimeSkipper, ts_stack: Settings
) -> None:
    before = len(await _mail(ts_stack, ""))
    ses = FailingSes(ts_stack, failures=2)
    result, _ = await _run(skipper, ts_stack, ses.send_digest)
    assert ses.attempts == [1, 2, 3] and result.message_id
    assert len(await _mail(ts_stack, "")) == before + 1


async def test_the_schedule_is_mondays_8am_in_the_business_zone_and_made_once(ts_stack: Settings) -> None:
    client = await connect_client(ts_stack)
    assert await ensure_digest_schedule(client, ts_stack)
    assert await ensure_digest_schedule(
        client, ts_stack
    )  # again, at the next worker start: no error, one schedule
    ids = [s.id async for s in await client.list_schedules()]
    assert ids.count(SCHEDULE_ID) == 1
    desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
    assert desc.schedule.spec.time_zone_name == "Australia/Sydney"
    upcoming = [t.astimezone(SYDNEY) for t in desc.info.next_action_times]
    assert upcoming and all(t.weekday() == 0 and (t.hour, t.minute) == (8, 0) for t in upcoming)
    assert not await ensure_digest_schedule(client, ts_stack.model_copy(update={"review_digest_to": ""}))
