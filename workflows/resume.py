"""A live call survives its voice host: the conversation resumes on another one (issue #15).

The call's TwiML ends with a ``<Redirect>`` after ``</Connect>``: when the stream ends (its worker
killed, drained past its timeout, or the conversation over), Twilio asks ``POST /twilio/resume``,
which asks this workflow with the ``resume`` Update. A call still in conversation goes on with a
fresh ``<Connect><Stream>`` through the load balancer; a call that is ending (agent goodbye,
transfer, consent refused, maximum length, caller gone) hangs up; a call lost too many times (no
healthy host: each stream that cannot connect comes straight back here) is handed to a person
after an apology, with the hand-over note.

The new stream's ``stream_attached`` (a new stream sid, usually another host) is the resume:
the workflow stops waiting on the lost ``converse`` (it cancels it and does not wait for a dead
host to answer or for the heartbeat timeout) and starts ``converse`` on the new host's queue with
a :class:`ResumeContext`: the turns, consent, tool results (never run again) and calls still held
for approval. A reconnect (one Realtime session), a rollover and this resume (one voice host) are
the same mechanism at three depths: a new session given the conversation so far.

A mixin of ``CallWorkflow``: it reads and changes the call's state through the attributes that
workflow and its other mixins define.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.commands import PUSH_PATCH
from workflows.failures import failure_kind

with workflow.unsafe.imports_passed_through():
    from activities.tools.system import END_CALL
    from switchboard.handover import handover_note
    from switchboard.messages import (
        ConversationCommand,
        ConverseResult,
        EndReason,
        Handover,
        ResumeContext,
        ResumeDecision,
        ResumeRequest,
        StreamAttached,
    )
    from switchboard.models import AgentProfile, CallRequest, Consent, ToolCall, ToolResult, Turn
    from workflows.cadence import converse_input

HEARTBEAT_TIMEOUT = timedelta(seconds=10)
NO_RETRY = RetryPolicy(maximum_attempts=1)
MAX_RESUMES = 3  # streams ended mid-call that are answered with a new one; then a person takes it
RESUME_GRACE = timedelta(seconds=15)  # after a host's converse failed: how long a new stream may take
RESUME_LINE = "Sorry, the line dropped for a moment."
GAVE_UP = "the call could not be resumed after its voice host was lost"


class Resumes:
    call_id: str
    profile: AgentProfile | None
    stream: StreamAttached | None
    consent: Consent | None
    transcript: list[Turn]
    tool_results: list[ToolResult]
    pending_approvals: dict[str, ToolCall]
    escalation: str | None
    transferred: bool
    transfer_ready: bool
    handover: Handover | None
    commands: list[ConversationCommand]
    recording_epoch: datetime | None
    caller_gone: bool
    finished: bool
    max_length_cut: bool
    request: CallRequest | None

    def _init_resumes(self) -> None:
        self.latest_stream: StreamAttached | None = None
        self.pushing = False  # commands pushed to the live conversation (patched push-commands)
        self.resume_requests = 0  # streams that ended mid-call, as Twilio asked
        self.resumes = 0  # conversations started again on a new stream
        self.resume_gave_up = False
        self.conversing = False
        self.live_converse: workflow.ActivityHandle[ConverseResult] | None = None
        self.result_after_turns: list[int] = []  # where each tool result came, among the turns

    def _start_converse(
        self,
        host: str,
        resume: ResumeContext | None,
        cancellation: workflow.ActivityCancellationType = workflow.ActivityCancellationType.TRY_CANCEL,
    ) -> workflow.ActivityHandle[ConverseResult]:
        """``converse`` on ``host``'s queue; with ``resume``, the call goes on there (no opening)."""
        assert self.profile is not None
        inp = converse_input(self.call_id, self.profile, self._context())
        inp = inp.model_copy(update={"recording_epoch": self.recording_epoch})  # the recording's clock
        if resume is not None:  # the agent carries on: no opening line
            inp = inp.model_copy(update={"opening_line": None, "resume": resume})
        return workflow.start_activity(
            "converse",
            inp,
            result_type=ConverseResult,
            task_queue=f"voice-{host}",
            schedule_to_start_timeout=timedelta(seconds=20),
            start_to_close_timeout=timedelta(seconds=self.profile.guardrails.max_call_seconds + 60),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=NO_RETRY,  # a lost host is resumed by a new stream instead
            cancellation_type=cancellation,
        )

    def _context(self) -> str:
        """What happened before this call (a callback's earlier attempts and replies), or ''."""
        request = self.request
        return request.context if request is not None else ""

    def _enforce_max_length(self, handle: Any) -> Any:
        raise NotImplementedError

    def _push_commands(self, host: str) -> Any:
        raise NotImplementedError

    async def _transfer_when_ready(self) -> None:
        raise NotImplementedError

    # -- the conversation, wherever it runs --------------------------------------------------

    async def _converse_resumable(self) -> ConverseResult:
        """Run the conversation; each new stream of the call (after its host was lost) resumes it there."""
        assert self.stream is not None
        self.conversing = True
        transfer = asyncio.ensure_future(self._transfer_when_ready())
        limit = asyncio.ensure_future(self._enforce_max_length(None))
        resume: ResumeContext | None = None
        self.pushing = workflow.patched(PUSH_PATCH)  # commands go to the host that holds the call
        try:
            while (result := await self._converse_on(self.stream, resume)) is None:
                assert self.latest_stream is not None
                self.stream = self.latest_stream  # the conversation (and its recording) is there now
                self.resumes += 1
                resume = self._resume_context()
            return result
        finally:
            self.conversing = False
            limit.cancel()
            if not (self.transfer_ready and self.transferred and not transfer.done()):
                transfer.cancel()
            else:
                await transfer  # the hand-over is under way (its redirect ended the stream)

    async def _converse_on(
        self, stream: StreamAttached, resume: ResumeContext | None
    ) -> ConverseResult | None:
        """The conversation on the host that holds ``stream``: its result, or None when a new stream
        took the call over (the caller's line came back through another host)."""
        handle = self.live_converse = self._start_converse(stream.host, resume)
        push = asyncio.ensure_future(self._push_commands(stream.host)) if self.pushing else None
        try:
            await workflow.wait_condition(lambda: handle.done() or self._moved(stream))
        finally:
            if push is not None:
                push.cancel()  # a command cut off on its way is sent again to the next host
        if handle.done():
            try:
                return handle.result()
            except ActivityError as err:
                if self.max_length_cut:
                    return ConverseResult(end_reason=EndReason.MAX_LENGTH)
                workflow.logger.warning("conversation lost: %s", failure_kind(err))
                try:  # its host went (drained or lost): a new stream may be on its way
                    await workflow.wait_condition(lambda: self._moved(stream), timeout=RESUME_GRACE)
                except TimeoutError:
                    return ConverseResult(end_reason=EndReason.STREAM_ERROR)
        else:
            handle.cancel()  # a lost host cannot answer: the handle resolves at once (TRY_CANCEL)
        if self.resume_gave_up:
            return ConverseResult(end_reason=EndReason.TRANSFER)
        if self.caller_gone and self.latest_stream is stream:
            return ConverseResult(end_reason=EndReason.CALLER_HUNG_UP)
        return None

    async def _converse(self, host: str) -> ConverseResult:
        """The conversation as it ran before resuming (histories without the patch replay through
        this): one host, and a host lost is a dropped call."""
        assert self.profile is not None and self.stream is not None
        handle = self._start_converse(
            host, None, workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
        )
        transfer = asyncio.ensure_future(self._transfer_when_ready())
        limit = asyncio.ensure_future(self._enforce_max_length(handle))
        push = asyncio.ensure_future(self._push_commands(host)) if workflow.patched(PUSH_PATCH) else None
        try:
            return await handle
        except ActivityError as err:  # the voice worker died (heartbeat timeout) or the stream broke
            if self.max_length_cut:  # we cut it: the wrap-up did not end the call in time
                return ConverseResult(end_reason=EndReason.MAX_LENGTH)
            workflow.logger.warning("conversation ended abnormally: %s", failure_kind(err))
            return ConverseResult(end_reason=EndReason.STREAM_ERROR)
        finally:
            limit.cancel()
            if push is not None:
                push.cancel()
            in_flight = self.transfer_ready and self.transferred and not transfer.done()
            if in_flight and workflow.patched("transfer-not-cut"):
                await transfer  # the hand-over is under way (its redirect ended the stream): let it finish
            else:
                transfer.cancel()

    def _moved(self, stream: StreamAttached) -> bool:
        """A new stream holds the call, or it cannot be resumed any more."""
        latest = self.latest_stream
        gone = self.caller_gone and self.resume_requests > self.resumes  # hung up while the line was down
        return (latest is not None and latest.stream_sid != stream.stream_sid) or self.resume_gave_up or gone

    def _resume_context(self) -> ResumeContext:
        self._place_results()
        return ResumeContext(
            attempt=self.resumes,
            turns=self.transcript,
            tool_results=self.tool_results,
            result_after_turns=self.result_after_turns,
            consent=self.consent,
            pending=list(self.pending_approvals.values()),
            line=RESUME_LINE,
        )

    def _place_results(self) -> None:
        """Tool results that came since the last turns are placed after them (the order heard)."""
        new = len(self.tool_results) - len(self.result_after_turns)
        self.result_after_turns.extend([len(self.transcript)] * max(0, new))

    def _ending(self) -> str | None:
        """Why the call must not go on after its stream ended (None: it should)."""
        assert self.profile is not None
        refused = self.consent is not None and not self.consent.recording
        if self.finished or not self.conversing:
            return "the conversation is over"
        if self.caller_gone:
            return "the caller hung up"
        if self.transferred or self.escalation is not None:
            return "the call is being transferred"
        ending = [c for c in self.commands if c.kind == "say_and_end"]
        if ending:
            return f"the call is ending ({ending[-1].reason})"
        if any(r.ok and r.name == END_CALL for r in self.tool_results):
            return "the agent ended the call"
        if refused and self.profile.guardrails.on_consent_refused == "end_call":
            return "consent refused"
        return None

    # -- POST /twilio/resume ---------------------------------------------------------------------

    @workflow.update
    async def resume(self, req: ResumeRequest) -> ResumeDecision:
        """The call's stream ended and Twilio asks what comes next (``functions/resume.py``)."""
        assert self.profile is not None
        ending = self._ending()
        if ending is not None:
            return ResumeDecision(action="hangup", reason=ending)
        self.resume_requests += 1
        if self.resume_requests <= MAX_RESUMES:
            return ResumeDecision(action="stream", attempt=self.resume_requests)
        guardrails = self.profile.guardrails
        self.escalation = GAVE_UP
        self.transferred = True  # the route's TwiML dials the person, with this note as the whisper
        note = handover_note(self.profile, GAVE_UP, self.tool_results)
        self.handover = Handover(note=note, unanswered_line=guardrails.transfer_unanswered_line)
        self.resume_gave_up = True
        return ResumeDecision(
            action="transfer",
            attempt=self.resume_requests,
            reason=GAVE_UP,
            say=guardrails.realtime_lost_line,
            to_number=guardrails.escalation_number,
        )

    @resume.validator
    def _validate_resume(self, req: ResumeRequest) -> None:
        if self.profile is None:
            raise ValueError("the call is not connected yet")
