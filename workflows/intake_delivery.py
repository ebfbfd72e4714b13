"""IntakeDeliveryWorkflow: an after-hours intake summary, in the duty solicitor's inbox at 8 the next
business morning — and at once to the on-call address when the matter is urgent.

The script: work out when the office next reads mail (``calendar.delivery_due``: 8:00 on the next
business day in the firm's zone, or now during office hours) → urgent? email the on-call address
now → sleep on a durable timer until then → email the summary (``deliver``), retried with backoff
for as long as it takes → not delivered by the deadline? mark the matter ``escalated`` and email
the escalation address, and keep trying. The summary lives in the workflow until it is delivered:
a worker restart, an SES outage or a crash loses nothing.

``CallStatus`` (search attribute) is ``pending_delivery`` → ``delivered``, or ``escalated`` while
late; the memo carries the due time and the matter's type and urgency for ``switchboard intake
pending`` (no personal details in either).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.failures import failure_kind

with workflow.unsafe.imports_passed_through():
    from switchboard import calendar
    from switchboard.calendar import Hours, business_hours
    from switchboard.messages import DeliverInput, DeliveryResult
    from switchboard.models import CallSummary, Delivery
    from switchboard.search_attributes import AGENT_PROFILE, CALL_STATUS

SEND_TIMEOUT = timedelta(seconds=30)


class DeliveryStatus(StrEnum):
    """The ``CallStatus`` values of an intake delivery."""

    PENDING = "pending_delivery"
    DELIVERED = "delivered"
    ESCALATED = "escalated"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntakeDeliveryInput(_Model):
    """One intake summary to deliver. Start with id ``intake_workflow_id(call_id)``."""

    summary: CallSummary
    delivery: Delivery = Field(description="The firm's inbox (the profile's delivery).")
    recording_key: str | None = None
    timezone: str = Field(default="Australia/Sydney", description="IANA zone of the firm.")
    hours: Hours = Field(default_factory=business_hours, description="The firm's business days and hours.")
    deliver_at: time = Field(default=time(8, 0), description="Local time of the morning delivery.")
    on_call: list[str] = Field(default_factory=list, description="Emailed at once for urgent matters.")
    escalation: list[str] = Field(default_factory=list, description="Emailed when delivery is late.")
    escalate_after: timedelta = Field(
        default=timedelta(hours=1), description="Escalate if not delivered this long after the due time."
    )
    give_up_after: timedelta = Field(
        default=timedelta(days=7), description="Stop retrying the delivery (it stays escalated)."
    )
    retry_initial: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=10)


class IntakeDeliveryResult(_Model):
    """The workflow's state, its query answer and its result."""

    call_id: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    urgent: bool = False
    matter_type: str | None = None
    timezone: str = "Australia/Sydney"
    received_at: datetime | None = None
    due_at: datetime | None = None
    delivered_at: datetime | None = None
    delivery: DeliveryResult | None = None
    urgent_notice: DeliveryResult | None = None
    escalated_at: datetime | None = None
    escalation_notice: DeliveryResult | None = None


def intake_workflow_id(call_id: str) -> str:
    return f"intake-{call_id}"


def _retitled(summary: CallSummary, prefix: str) -> CallSummary:
    return summary.model_copy(update={"headline": f"{prefix}: {summary.headline}"})


@workflow.defn
class IntakeDeliveryWorkflow:
    def __init__(self) -> None:
        self.state: IntakeDeliveryResult | None = None

    @workflow.run
    async def run(self, inp: IntakeDeliveryInput) -> IntakeDeliveryResult:
        received = workflow.now()
        due = calendar.delivery_due(received, inp.timezone, inp.hours, inp.deliver_at)
        matter_type = inp.summary.fields.get("matter_type")
        self.state = state = IntakeDeliveryResult(
            call_id=inp.summary.call_id,
            urgent=bool(inp.summary.fields.get("urgent")),
            matter_type=str(matter_type) if matter_type else None,
            timezone=inp.timezone,
            received_at=received,
            due_at=due,
        )
        if due.year not in calendar.covered_years("AU") and "AU" in inp.hours.holiday_regions:
            workflow.logger.warning("no AU holiday data for %s; weekends only", due.year)
        self._publish(DeliveryStatus.PENDING, profile=inp.summary.profile)

        urgent = None
        if state.urgent and not inp.on_call:
            workflow.logger.warning("urgent matter with no on-call address: it waits for the morning")
        elif state.urgent:
            urgent = workflow.start_activity(
                "deliver",
                DeliverInput(
                    summary=_retitled(inp.summary, "URGENT"),
                    delivery=Delivery(email=inp.on_call),
                    recording_key=inp.recording_key,
                ),
                result_type=DeliveryResult,
                start_to_close_timeout=SEND_TIMEOUT,
                retry_policy=self._retry(inp),
            )

        if due > received:
            await workflow.sleep(due - received, summary="until the next business morning")

        primary = workflow.start_activity(
            "deliver",
            DeliverInput(summary=inp.summary, delivery=inp.delivery, recording_key=inp.recording_key),
            result_type=DeliveryResult,
            start_to_close_timeout=SEND_TIMEOUT,
            schedule_to_close_timeout=inp.give_up_after,
            retry_policy=self._retry(inp),
        )
        late_by = due + inp.escalate_after - workflow.now()
        if late_by > timedelta(0):
            await workflow.wait([primary], timeout=late_by.total_seconds())
        escalation = None if primary.done() else self._escalate(inp)
        try:
            state.delivery = await primary
            state.delivered_at = workflow.now()
            self._publish(DeliveryStatus.DELIVERED)
        except ActivityError as err:  # gave up: stays escalated (listed as undelivered), summary in history
            workflow.logger.error("intake summary not delivered: %s", failure_kind(err))
            if escalation is None:
                escalation = self._escalate(inp)
        if urgent is not None:
            state.urgent_notice = await self._settle(urgent)
        if escalation is not None:
            state.escalation_notice = await self._settle(escalation)
        return state

    def _escalate(self, inp: IntakeDeliveryInput) -> workflow.ActivityHandle[DeliveryResult] | None:
        assert self.state is not None
        self.state.escalated_at = workflow.now()
        self._publish(DeliveryStatus.ESCALATED)
        if not inp.escalation:
            return None
        return workflow.start_activity(
            "deliver",
            DeliverInput(
                summary=_retitled(inp.summary, "NOT YET DELIVERED"),
                delivery=Delivery(email=inp.escalation),
                recording_key=inp.recording_key,
            ),
            result_type=DeliveryResult,
            start_to_close_timeout=SEND_TIMEOUT,
            schedule_to_close_timeout=inp.give_up_after,
            retry_policy=self._retry(inp),
        )

    async def _settle(self, handle: workflow.ActivityHandle[DeliveryResult] | None) -> DeliveryResult | None:
        if handle is None:
            return None
        try:
            return await handle
        except ActivityError as err:
            workflow.logger.error("notice not delivered: %s", failure_kind(err))
            return None

    @staticmethod
    def _retry(inp: IntakeDeliveryInput) -> RetryPolicy:
        return RetryPolicy(
            initial_interval=inp.retry_initial, backoff_coefficient=2.0, maximum_interval=inp.retry_max
        )

    def _publish(self, status: DeliveryStatus, *, profile: str | None = None) -> None:
        assert self.state is not None and self.state.due_at is not None
        self.state.status = status
        updates = [CALL_STATUS.value_set(status.value)]
        if profile is not None:
            updates.append(AGENT_PROFILE.value_set(profile))
        workflow.upsert_search_attributes(updates)
        workflow.upsert_memo(
            {
                "call_id": self.state.call_id,
                "due_at": self.state.due_at.isoformat(),
                "timezone": self.state.timezone,
                "urgent": self.state.urgent,
                "matter_type": self.state.matter_type,
                "status": status.value,
            }
        )

    @workflow.query(name="delivery")
    def view(self) -> IntakeDeliveryResult | None:
        return self.state


__all__ = [
    "DeliveryStatus",
    "IntakeDeliveryInput",
    "IntakeDeliveryResult",
    "IntakeDeliveryWorkflow",
    "intake_workflow_id",
]
