"""CallWorkflow: one phone call, from connecting to archived. Its history is the call's audit trail.

The script: load the profile → wait for the voice worker that holds the media stream → run the
conversation there (disclosure and consent first, spoken verbatim) → hang up or transfer →
keep or delete the recording, per consent → summarise → deliver.

Tools arrive as ``run_tool`` Updates (``workflows/tool_calls.py``), supervisor actions as
``supervise`` Updates (``workflows/supervision.py``), and the call's record is written by
``workflows/call_record.py``: mixins of this workflow, so that each of its files stays one concern.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.commands import LiveCommands
from workflows.failures import failure_kind

with workflow.unsafe.imports_passed_through():
    from switchboard.costs import TokenUsage
    from switchboard.messages import (
        ArchiveInput,
        ArchiveResult,
        CallStatus,
        CallView,
        ConsentAnswer,
        ConverseResult,
        DeliverInput,
        EndReason,
        HangupInput,
        RealtimeSession,
        StreamAttached,
        SummariseInput,
        TelephonyEvent,
        ToolRejected,
        TurnBatch,
    )
    from switchboard.models import (
        AgentProfile,
        CallOutcome,
        CallRequest,
        CallSummary,
        Consent,
        LatencySlices,
        Outcome,
        ToolResult,
        Turn,
    )
    from switchboard.privacy import mask_phone
    from switchboard.search_attributes import AGENT_PROFILE, CALL_OUTCOME, CALL_STATUS
    from workflows.call_record import CallRecord
    from workflows.intake_delivery import IntakeDeliveryInput, IntakeDeliveryWorkflow, intake_workflow_id
    from workflows.resume import Resumes
    from workflows.tool_calls import ToolCalls
    from workflows.transfers import TELEPHONY_RETRY, Transfers

CONNECT_TIMEOUT = timedelta(seconds=90)
FAST = timedelta(seconds=10)
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
END_REASON_OUTCOME = {
    EndReason.AGENT_ENDED: Outcome.COMPLETED,
    EndReason.CALLER_HUNG_UP: Outcome.CALLER_HUNG_UP,
    EndReason.TRANSFER: Outcome.ESCALATED,
    EndReason.MAX_LENGTH: Outcome.TIMED_OUT,
    EndReason.STREAM_ERROR: Outcome.DROPPED,
    EndReason.CANCELLED: Outcome.CALLER_HUNG_UP,
}


@workflow.defn  # LiveCommands and Transfers first: their _command, _transfer, not the stubs of Supervision
class CallWorkflow(LiveCommands, Transfers, ToolCalls, Resumes, CallRecord):
    def __init__(self) -> None:
        self._init_supervision()
        self._init_transfers()
        self._init_commands()
        self._init_resumes()
        self.call_id = ""
        self.profile: AgentProfile | None = None
        self.status = CallStatus.CONNECTING
        self.stream: StreamAttached | None = None
        self.call_sid: str | None = None
        self.consent: Consent | None = None
        self.consent_answers: list[ConsentAnswer] = []
        self.transcript: list[Turn] = []
        self.tool_results: list[ToolResult] = []
        self.rejections: list[ToolRejected] = []
        self.escalation: str | None = None
        self.telephony: list[TelephonyEvent] = []
        self.caller_gone = False
        self.voicemail = False
        self.max_length_cut = False
        self.realtime_sessions: list[RealtimeSession] = []
        self.latency = LatencySlices()  # as the voice worker measures it, live; its final set at the end
        self.recording_epoch: datetime | None = None  # the first stream's start: the recording's zero
        self.request: CallRequest | None = None
        self.started_at: datetime | None = None
        self.finished = False
        self.outcome: Outcome | None = None

    # -- the script ------------------------------------------------------------------------

    @workflow.run
    async def run(self, req: CallRequest) -> CallOutcome:
        self.call_id = req.call_id
        self.call_sid = req.call_sid
        self.request = req
        self.started_at = workflow.now()
        self.profile = await workflow.execute_local_activity(
            "get_profile", req.profile, result_type=AgentProfile, start_to_close_timeout=FAST
        )
        started = workflow.now()
        self._set_status(CallStatus.CONNECTING, profile=req.profile)

        attached = await self._wait(lambda: self.stream is not None or self.caller_gone, CONNECT_TIMEOUT)
        if not attached or self.stream is None:
            if workflow.patched("unanswered-without-summary"):
                return await self._recorded(self._unanswered(started))  # nothing to summarise or send
            return await self._finish(self._unanswered_outcome(), None, started)

        self._set_status(CallStatus.DISCLOSURE)
        resumable = workflow.patched("resume-on-another-host")  # the TwiML's <Redirect> asks to resume
        result = await (self._converse_resumable() if resumable else self._converse(self.stream.host))
        self.latency = result.latency if not result.latency.empty() else self.latency
        self._set_status(CallStatus.WRAP_UP)
        if self.escalation is not None and not self.transferred and result.end_reason == EndReason.TRANSFER:
            await self._transfer()
        elif self.call_sid and (
            result.end_reason in (EndReason.AGENT_ENDED, EndReason.MAX_LENGTH)
            or (resumable and result.end_reason == EndReason.STREAM_ERROR)  # <Redirect> keeps the call up
        ):
            await workflow.execute_activity(
                "hangup",
                HangupInput(call_sid=self.call_sid),
                start_to_close_timeout=FAST,
                retry_policy=TELEPHONY_RETRY,
            )
        outcome = Outcome.VOICEMAIL if self.voicemail else END_REASON_OUTCOME[result.end_reason]
        if self.transferred and await self._transfer_answered() is False:
            outcome = Outcome.TRANSFER_UNANSWERED  # the caller heard the profile's line; a callback is owed
        outcome = self._tools_outcome(outcome)  # consent refused, or a call back asked for
        archive = await self._archive(result, started)
        return await self._recorded(await self._finish(outcome, result, started, archive))

    async def _enforce_max_length(self, handle: workflow.ActivityHandle[ConverseResult] | None) -> None:
        """At the profile's maximum length: a polite wrap-up; if the call still runs, cut it."""
        assert self.profile is not None
        await workflow.sleep(timedelta(seconds=self.profile.guardrails.max_call_seconds))
        self._command("say_and_end", self.profile.wrap_up, "max_length")
        await workflow.sleep(timedelta(seconds=30))
        self.max_length_cut = True
        live = handle or self.live_converse  # resumable: whichever host holds the call now
        if live is not None:
            live.cancel()

    async def _archive(self, result: ConverseResult, started: datetime) -> ArchiveResult | None:
        assert self.profile is not None and self.stream is not None
        lost_host = not result.recording_path  # the host died: what it shipped is all there is
        if lost_host and not workflow.patched("archive-shipped-segments"):
            return None
        keep = bool(self.consent and self.consent.recording)
        try:
            return await workflow.execute_activity(
                "archive_recording" if keep else "delete_recording",
                ArchiveInput(
                    call_id=self.call_id,
                    recording_path=result.recording_path or "",
                    profile=self.profile.name,
                    consent=keep,
                    duration_s=result.duration_s,
                    started_at=started,
                ),
                result_type=ArchiveResult,
                task_queue=workflow.info().task_queue if lost_host else f"voice-{self.stream.host}",
                schedule_to_start_timeout=timedelta(seconds=60),
                start_to_close_timeout=timedelta(seconds=120),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as err:
            workflow.logger.warning("recording not archived: %s", failure_kind(err))
            return ArchiveResult(key=None, note="the recording's host was unavailable")

    async def _finish(
        self,
        outcome: Outcome,
        result: ConverseResult | None,
        started: datetime,
        archive: ArchiveResult | None = None,
    ) -> CallOutcome:
        assert self.profile is not None
        self.outcome = outcome
        summary = await workflow.execute_activity(
            "summarise",
            SummariseInput(
                call_id=self.call_id,
                profile=self.profile,
                outcome=outcome,
                transcript=self.transcript,
                tool_results=self.tool_results,
                escalation_note=self.escalation_note,
                usage=result.usage if result else TokenUsage(),
                call_seconds=result.duration_s if result else 0.0,
                direction=self.request.direction.value if self.request else "",
            ),
            result_type=CallSummary,
            start_to_close_timeout=timedelta(seconds=30),
        )
        recording_key = archive.key if archive else None
        after_hours = self.profile.after_hours
        if after_hours is not None and workflow.patched("intake-delivery-workflow"):
            # Its own workflow delivers at the next business morning; it outlives this call.
            await workflow.start_child_workflow(
                IntakeDeliveryWorkflow.run,
                IntakeDeliveryInput(
                    summary=summary,
                    delivery=self.profile.delivery,
                    recording_key=recording_key,
                    timezone=after_hours.timezone,
                    hours=after_hours.hours,
                    deliver_at=after_hours.deliver_at,
                    on_call=after_hours.on_call,
                    escalation=after_hours.escalation,
                    escalate_after=after_hours.escalate_after,
                ),
                id=intake_workflow_id(self.call_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        elif self.profile.delivery.email or self.profile.delivery.webhook_url:
            await workflow.execute_activity(
                "deliver",
                DeliverInput(summary=summary, delivery=self.profile.delivery, recording_key=recording_key),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=10),
            )
        self.finished = True
        self._set_status(CallStatus.ARCHIVED, outcome=outcome)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CallOutcome(
            call_id=self.call_id,
            outcome=outcome,
            consent=self.consent,
            tool_results=self.tool_results,
            transcript=self.transcript,
            summary=summary,
            recording_key=recording_key,
            latency=result.latency if result else LatencySlices(),
            duration_s=(workflow.now() - started).total_seconds(),
            realtime_events=[e.kind for e in self.realtime_sessions],
            usage=result.usage if result else TokenUsage(),
            cost=summary.cost,
            resumes=self.resumes,
        )

    def _unanswered(self, started: datetime) -> CallOutcome:
        """Busy, no answer or a failed dial: the outcome is recorded, and the callback retries."""
        self.outcome = self._unanswered_outcome()
        self.finished = True
        self._set_status(CallStatus.ARCHIVED, outcome=self.outcome)
        return CallOutcome(
            call_id=self.call_id,
            outcome=self.outcome,
            duration_s=(workflow.now() - started).total_seconds(),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _unanswered_outcome(self) -> Outcome:
        final = next((e.status for e in reversed(self.telephony) if e.status in FINAL_STATUSES), None)
        return {"busy": Outcome.BUSY, "no-answer": Outcome.NO_ANSWER, "canceled": Outcome.NO_ANSWER}.get(
            final or "", Outcome.FAILED
        )

    async def _wait(self, condition: Callable[[], bool], limit: timedelta) -> bool:
        try:
            await workflow.wait_condition(condition, timeout=limit)
        except TimeoutError:
            return False
        return True

    def _set_status(
        self, status: CallStatus, *, profile: str | None = None, outcome: Outcome | None = None
    ) -> None:
        self.status = status
        updates = [CALL_STATUS.value_set(status.value)]
        if profile is not None:
            updates.append(AGENT_PROFILE.value_set(profile))
        if outcome is not None:
            updates.append(CALL_OUTCOME.value_set(outcome.value))
        workflow.upsert_search_attributes(updates)

    # -- signals ---------------------------------------------------------------------------

    @workflow.signal
    def stream_attached(self, event: StreamAttached) -> None:
        if self.stream is None:
            self.stream = event
            self.recording_epoch = event.started_at
            self.call_sid = self.call_sid or event.call_sid
        self.latest_stream = event  # a new stream mid-call is a resume (workflows/resume.py)

    @workflow.signal
    def add_turns(self, batch: TurnBatch) -> None:
        self._place_results()
        self.transcript.extend(batch.turns)
        if batch.latency is not None:
            self.latency.extend(batch.latency)

    @workflow.signal
    def telephony_event(self, event: TelephonyEvent) -> None:
        self.telephony.append(event)
        self.call_sid = self.call_sid or event.call_sid
        if event.status in FINAL_STATUSES:
            self.caller_gone = True
        if (event.answered_by or "").startswith("machine") and not self.voicemail and self.profile:
            self.voicemail = True
            message = self.profile.voicemail_message or ""
            self._command("say_and_end", message, "voicemail")

    @workflow.signal
    def realtime_session(self, event: RealtimeSession) -> None:
        """The voice worker replaced (or could not replace) the agent's Realtime session."""
        self.realtime_sessions.append(event)
        if event.kind == "gave_up" and self.profile is not None and not self.transferred:
            self.escalation = self.escalation or f"the agent lost its voice connection ({event.reason})"
            self.transfer_apology = self.profile.guardrails.realtime_lost_line
            self.transfer_ready = True  # the stream is still open: the hand-over runs now

    # -- queries ---------------------------------------------------------------------------

    @workflow.query(name="transcript")
    def get_transcript(self) -> list[Turn]:
        return self.transcript

    @workflow.query(name="tool_calls")
    def get_tool_calls(self) -> list[ToolResult]:
        return self.tool_results

    @workflow.query(name="status")
    def view(self) -> CallView:
        return CallView(
            call_id=self.call_id,
            profile=self.profile.name if self.profile else "",
            status=self.status,
            consent=self.consent,
            turns=len(self.transcript),
            tool_calls=len(self.tool_results),
            escalation=self.escalation_note,
            outcome=self.outcome,
            direction=self.request.direction.value if self.request else "",
            caller=mask_phone(self._other_party()),
            started_at=self.started_at,
            pending_approvals=list(self.pending_approvals.values()),
            whispers=len(self.whispers),
            reconnecting=bool(self.realtime_sessions) and self.realtime_sessions[-1].kind == "dropped",
            latency=self.latency,
        )

    def _other_party(self) -> str:
        if self.request is None:
            return ""
        return self.request.from_number if self.request.direction == "inbound" else self.request.to_number
