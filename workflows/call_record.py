"""The call's record, written once the call has ended: ``CallFacts`` (no personal data:
``switchboard/call_records.py``) for the review queue, the overview and the weekly digest.

A mixin of ``CallWorkflow`` (behind ``workflow.patched("call-record")``): it reads the call's state
through the attributes that workflow and its other mixins define.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.failures import failure_kind

with workflow.unsafe.imports_passed_through():
    from switchboard.call_records import CallFacts, RecordResult
    from switchboard.messages import ConversationCommand, ToolRejected
    from switchboard.models import AgentProfile, CallOutcome, CallRequest, LatencySlices

FAST = timedelta(seconds=10)


class CallRecord:
    profile: AgentProfile | None
    request: CallRequest | None
    started_at: datetime | None
    rejections: list[ToolRejected]
    escalation: str | None
    transferred: bool
    max_length_cut: bool
    commands: list[ConversationCommand]
    latency: LatencySlices

    async def _recorded(self, outcome: CallOutcome) -> CallOutcome:
        """The call's record (no personal data: ``switchboard/call_records.py``) for the review
        queue, the overview and the digest. A record that cannot be written does not fail the call."""
        if not workflow.patched("call-record") or self.profile is None:
            return outcome
        zone = self.profile.after_hours.timezone if self.profile.after_hours else None
        facts = CallFacts.of(
            outcome,
            profile=self.profile.name,
            direction=self.request.direction.value if self.request else "",
            started_at=self.started_at or workflow.now(),
            ended_at=workflow.now(),
            refused_tools=[r.call.name for r in self.rejections],
            escalated=self.escalation is not None,
            transferred=self.transferred,
            max_length=self.max_length_cut or any(c.reason == "max_length" for c in self.commands),
            timezone=zone,
        )
        if facts.latency.empty():  # the voice worker's final set is empty: what it sent during the call
            facts.latency = self.latency
        try:
            await workflow.execute_activity(
                "record_call",
                facts,
                result_type=RecordResult,
                start_to_close_timeout=FAST,
                schedule_to_close_timeout=timedelta(minutes=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
        except ActivityError as err:
            workflow.logger.warning("call record not written: %s", failure_kind(err))
        return outcome
