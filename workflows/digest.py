"""ReviewDigestWorkflow: the weekly review digest, started by a Temporal Schedule every Monday at
08:00 in the business's zone (``ensure_digest_schedule``, run at every worker start).

The script: which Monday 08:00 this is (``switchboard.digest.digest_due``; started early, it
sleeps on a durable timer until then) → read last week from the call records (``gather_digest``)
→ email the team (``send_digest``), retried with backoff like every delivery.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.digest import GatherInput, SendInput
    from switchboard.config import Settings
    from switchboard.digest import DIGEST_AT, DigestInput, DigestResult, WeeklyDigest, digest_due, week_of

SCHEDULE_ID = "review-digest"
WORKFLOW_ID = "review-digest"  # the schedule appends each run's time


@workflow.defn
class ReviewDigestWorkflow:
    @workflow.run
    async def run(self, inp: DigestInput) -> DigestResult:
        due = digest_due(workflow.now(), inp.timezone)
        if due > workflow.now():
            await workflow.sleep(due - workflow.now(), summary="until Monday 08:00")
        start, end = week_of(due)
        digest = await workflow.execute_activity(
            "gather_digest",
            GatherInput(start=start, end=end, timezone=inp.timezone, dashboard_url=inp.dashboard_url),
            result_type=WeeklyDigest,
            start_to_close_timeout=timedelta(seconds=60),
        )
        return await workflow.execute_activity(
            "send_digest",
            SendInput(digest=digest, recipients=inp.recipients),
            result_type=DigestResult,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=inp.give_up_after,
            retry_policy=RetryPolicy(
                initial_interval=inp.retry_initial, backoff_coefficient=2.0, maximum_interval=inp.retry_max
            ),
        )


def digest_schedule(settings: Settings) -> Schedule:
    recipients = [a.strip() for a in settings.review_digest_to.split(",") if a.strip()]
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReviewDigestWorkflow.run,
            DigestInput(
                timezone=settings.business_timezone,
                recipients=recipients,
                dashboard_url=settings.dashboard_url,
            ),
            id=WORKFLOW_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_week=[ScheduleRange(1)],  # Monday (Sunday is 0)
                    hour=[ScheduleRange(DIGEST_AT.hour)],
                    minute=[ScheduleRange(DIGEST_AT.minute)],
                    second=[ScheduleRange(0)],
                    comment="the weekly review digest",
                )
            ],
            time_zone_name=settings.business_timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=6)),
    )


async def ensure_digest_schedule(client: Client, settings: Settings) -> bool:
    """Create the digest's schedule, or bring an existing one up to the settings; idempotent.
    No recipients: no schedule (an existing one is left alone). Returns whether it exists now."""
    if not settings.review_digest_to.strip():
        return False
    schedule = digest_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(update)
    return True


__all__ = ["SCHEDULE_ID", "ReviewDigestWorkflow", "digest_schedule", "ensure_digest_schedule"]
