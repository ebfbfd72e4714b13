"""Handing a caller to a person, warm: the person hears the context note before the caller is bridged.

The ``transfer`` activity redirects the live call to ``<Dial>`` the profile's human number. Twilio
runs the ``<Number url>`` TwiML on the person's leg when they answer (the whisper: this workflow's
``handover`` query, read by ``functions/transfer.py``) and posts the dial's result to ``<Dial
action>``; both come back here as ``transfer_progress`` signals. If nobody answers, the caller
hears the profile's line and the call ends as ``transfer_unanswered``: its summary goes to the
team as a callback task, with the note.

A mixin of ``CallWorkflow``: it reads and changes the call's state through the attributes that
workflow defines (``profile``, ``call_id``, ``call_sid``, ``escalation``, ``tool_results``).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from switchboard.handover import handover_note
    from switchboard.messages import Handover, TransferInput, TransferProgress, TransferReady
    from switchboard.models import AgentProfile, ToolResult

FAST = timedelta(seconds=10)
TELEPHONY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)  # hangup too
ANSWERED = "answered"


class Transfers:
    profile: AgentProfile | None
    call_id: str
    call_sid: str | None
    escalation: str | None
    tool_results: list[ToolResult]

    def _init_transfers(self) -> None:
        self.transfer_ready = False
        self.transferred = False
        self.handover: Handover | None = None
        self.transfer_status: str | None = None  # "answered", or the DialCallStatus of a dial nobody took
        self.transfer_apology = ""  # said to the caller before the dial (the agent could not say it)

    async def _transfer_when_ready(self) -> None:
        await workflow.wait_condition(lambda: self.transfer_ready)
        await self._transfer()

    async def _transfer(self, to_number: str | None = None) -> None:
        assert self.profile is not None
        if self.transferred or not self.call_sid:
            return
        self.transferred = True
        guardrails = self.profile.guardrails
        warm = workflow.patched("warm-transfer")
        note = self.escalation or ""
        if warm:
            reason = self.escalation or "a supervisor took the call over"
            note = handover_note(self.profile, reason, self.tool_results)
            self.handover = Handover(note=note, unanswered_line=guardrails.transfer_unanswered_line)
        await workflow.execute_activity(
            "transfer",
            TransferInput(
                call_sid=self.call_sid,
                to_number=to_number or guardrails.escalation_number,
                note=note,
                workflow_id=self.call_id if warm else "",
                timeout_s=guardrails.transfer_ring_seconds,
                say=self.transfer_apology,
            ),
            start_to_close_timeout=FAST,
            retry_policy=TELEPHONY_RETRY,
        )

    @property
    def escalation_note(self) -> str | None:
        """What the person taking the call is told: the hand-over note once a transfer started, else
        the reason the agent gave for escalating."""
        return self.handover.note if self.handover else self.escalation

    async def _transfer_answered(self) -> bool | None:
        """After a warm transfer: True once the person answered (and heard the note), False when the
        dial ended without them; None for a cold transfer or when no word came in time."""
        if self.handover is None or self.profile is None:
            return None
        limit = timedelta(seconds=self.profile.guardrails.transfer_ring_seconds + 30)
        try:
            await workflow.wait_condition(lambda: self.transfer_status is not None, timeout=limit)
        except TimeoutError:
            workflow.logger.warning("no word from the transfer within %s", limit)
            return None
        return self.transfer_status == ANSWERED

    # -- signals and the query the transfer's webhooks use ---------------------------------------

    @workflow.signal
    def transfer_line_played(self, event: TransferReady) -> None:
        if self.escalation is not None:
            self.transfer_ready = True

    @workflow.signal
    def transfer_progress(self, event: TransferProgress) -> None:
        if event.step == "whisper":
            self.transfer_status = ANSWERED
        elif self.transfer_status != ANSWERED:
            self.transfer_status = event.dial_status or "failed"

    @workflow.query(name="handover")
    def get_handover(self) -> Handover | None:
        return self.handover
