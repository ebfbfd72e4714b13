"""The cadence half of ``OutboundCallbackWorkflow``: call, text, listen for replies, call back.

One loop over one piece of state, ``next_at`` (when the next call is due, and why): it sleeps
until then or until a reply arrives (the ``lead_reply`` signal), whichever is first. A reply is
understood by an activity (``understand_reply``: words and ``dateparser``) and then either ends
the cadence (opt-out: the do-not-contact list, one confirmation text), moves ``next_at`` (a time,
"call me now": within the calling hours, else to the nearest allowed time, and the lead is told
by text), or becomes a note in the lead's history. Before each call the calling hours are waited
for and do-not-call is asked again (the register changes). No answer until the cadence's end →
outcome ``unreachable``, after exactly the attempts the profile declares (plus any the lead asked
for). Everything that happens is a ``CadenceEvent``: the audit and the next call's context.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from switchboard import calendar
    from switchboard.cadence import Cadence, allowed_at, spoken
    from switchboard.messages import (
        CadenceEvent,
        CallbackAttempt,
        CallbackOutcome,
        CallbackRequest,
        ConverseInput,
        DoNotCallCheck,
        LeadReply,
        ReplyInput,
        ReplyMeaning,
        SmsInput,
        SmsResult,
        TextStatus,
    )
    from switchboard.models import AgentProfile, Outcome
    from switchboard.search_attributes import CALL_STATUS

RETRY_OUTCOMES = {Outcome.BUSY, Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.FAILED}
QUICK = timedelta(seconds=10)
TEXT_RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=["TelephonyRefused"])


class CadenceRun:
    """State and steps of a cadence; ``OutboundCallbackWorkflow`` holds one and forwards signals."""

    def __init__(self, req: CallbackRequest, cadence: Cadence, started: datetime) -> None:
        self.req, self.cadence = req, cadence
        self.lead, self.hours, self.tz = req.lead, req.policy.hours, req.lead.timezone
        self.deadline = started + timedelta(seconds=cadence.stop_after_s)
        self.next_at: datetime | None = started
        self.next_why = "the web form"
        self.inbox: list[LeadReply] = []
        self.seen: set[str] = set()
        self.events: list[CadenceEvent] = []
        self.texts = 0
        self.status = ""
        self.opted_out = False

    # -- signals ---------------------------------------------------------------------------------

    def reply(self, reply: LeadReply) -> None:
        if reply.message_sid and reply.message_sid in self.seen:
            return  # Twilio retried the webhook: the same message once
        self.seen.add(reply.message_sid)
        self.inbox.append(reply)

    def text_status(self, status: TextStatus) -> None:
        self._event("text_status", f"{status.message_sid} {status.status}")

    # -- the loop --------------------------------------------------------------------------------

    async def next_call(self) -> bool:
        """Wait for the next call's moment, handling replies meanwhile; False when the cadence
        ends without one (its time is up, or the lead opted out: see ``opted_out``)."""
        self.opted_out = False
        while True:
            if self.inbox:
                if await self._understand(self.inbox.pop(0)):
                    self.opted_out = True
                    return False
                continue
            now = workflow.now()
            target = self.next_at or self.deadline
            if target > now:
                if self.status != "waiting_for_attempt":  # one upsert per wait, not per loop
                    self.status = "waiting_for_attempt"
                    workflow.upsert_search_attributes([CALL_STATUS.value_set(self.status)])
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: bool(self.inbox), timeout=target - now)
                continue
            if self.next_at is None:
                return False
            allowed = calendar.next_open(now, self.hours, self.tz)
            if allowed > now:
                self.next_at, self.next_why = allowed, f"{self.next_why} (calling hours)"
                continue
            self.next_at, self.status = None, "dialling"
            return True

    def after_attempt(self, number: int, record: CallbackAttempt) -> None:
        self._event("attempt", f"{record.call_id}: {record.outcome.value}")
        follow = self.cadence.follow_ups
        if number - 1 < len(follow) and not self._asked_for:
            step = follow[number - 1]
            due = step.due(workflow.now(), self.hours, self.tz)
            if due <= self.deadline:
                self.next_at, self.next_why = due, f"follow-up: {step.describe()}"

    @property
    def _asked_for(self) -> bool:
        return self.next_at is not None  # a reply during the call already set the next time

    async def missed(self, number: int) -> None:
        if number in self.cadence.text_after_attempts:
            await self.text(self.cadence.missed_text, opt_out_line=True)

    # -- replies ---------------------------------------------------------------------------------

    async def _understand(self, reply: LeadReply) -> bool:
        """Act on one reply; True when it was an opt-out (the cadence ends)."""
        self._event("reply", reply.text if reply.source == "sms" else f"on the call: {reply.text}")
        if reply.at is not None:  # understood already: the call's schedule_callback read it back
            await self.reschedule(reply.at, "the lead asked on the call")
            return False
        meaning = await workflow.execute_activity(
            "understand_reply",
            ReplyInput(text=reply.text, now=workflow.now(), timezone=self.tz, hours=self.hours),
            result_type=ReplyMeaning,
            start_to_close_timeout=QUICK,
        )
        if meaning.kind == "opt_out":
            await workflow.execute_activity(
                "record_opt_out", DoNotCallCheck(phone=self.lead.phone), start_to_close_timeout=QUICK
            )
            self._event("opt_out", "the lead opted out: on the do-not-contact list")
            await self.text(self.cadence.opted_out_text, opt_out_line=False, any_hour=True)
            return True
        if meaning.kind == "note":
            self._event("note", "a reply that asks for nothing: noted, the cadence goes on")
            return False
        wanted = workflow.now() if meaning.kind == "call_now" else (meaning.at or workflow.now())
        await self.reschedule(
            wanted, "the lead asked by text" if reply.source == "sms" else "the lead asked on the call"
        )
        return False

    async def reschedule(self, wanted: datetime, why: str) -> None:
        at, moved = allowed_at(max(wanted, workflow.now()), self.hours, self.tz)
        self.next_at, self.next_why = at, why
        self.deadline = max(self.deadline, at + timedelta(hours=1))
        self._event("reschedule", why + (" (moved into the calling hours)" if moved else ""), due=at)
        if moved:
            await self.text(self.cadence.moved_text.replace("{when}", spoken(at, self.tz)), opt_out_line=True)

    # -- texts -----------------------------------------------------------------------------------

    async def text(self, template: str, *, opt_out_line: bool, any_hour: bool = False) -> None:
        """Send one text within the texting hours (an opt-out's confirmation goes at once)."""
        now = workflow.now()
        allowed = now if any_hour else calendar.next_open(now, self.cadence.text_hours, self.tz)
        if allowed > now:
            await workflow.sleep(allowed - now)
        body = template.format(first_name=self.lead.name.split()[0], business=self.cadence.business)
        if opt_out_line:
            body = f"{body} {self.cadence.opt_out_line}"
        self.texts += 1
        wf_id = workflow.info().workflow_id
        try:
            sent = await workflow.execute_activity(
                "send_sms",
                SmsInput(
                    to_number=self.lead.phone,
                    body=body,
                    key=f"{wf_id}-t{self.texts}",
                    status_callback_workflow=wf_id,
                ),
                result_type=SmsResult,
                start_to_close_timeout=QUICK,
                retry_policy=TEXT_RETRY,
            )
        except ActivityError:
            self._event("text", f"not sent: {body}")
            return
        self._event("text", f"{sent.message_sid} {sent.status}: {body}")

    # -- the record ------------------------------------------------------------------------------

    def _event(self, kind: str, detail: str, due: datetime | None = None) -> None:
        self.events.append(CadenceEvent(kind=kind, at=workflow.now(), detail=detail, due=due))

    def context(self) -> str:
        """What the agent on the next call knows: the earlier attempts, texts and replies."""
        if not self.events:
            return ""
        lines = [
            f"- {e.at.astimezone(calendar.zone(self.tz)):%a %H:%M} {e.kind}: {e.detail}"
            for e in self.events
            if e.kind != "text_status"
        ]
        asked = any(e.kind == "reschedule" for e in self.events)
        lead_in = (
            "This is the call back the lead asked for: open by saying you are calling back as they asked."
            if asked
            else "This is a follow-up call: earlier attempts did not reach the lead."
        )
        return lead_in + " What happened before this call:\n" + "\n".join(lines[-12:])

    def outcome(self, base: CallbackOutcome) -> CallbackOutcome:
        return base.model_copy(
            update={
                "events": list(self.events),
                "next_attempt_at": self.next_at,
                "next_attempt_why": self.next_why if self.next_at else "",
            }
        )

    def end(self, outcome: Outcome | None, note: str) -> None:
        self._event("end", note)
        self.next_at = None


def converse_input(call_id: str, profile: AgentProfile, context: str) -> ConverseInput:
    """A call's profile and first words. A call that follows earlier attempts (``context``, from
    ``CadenceRun.context``) carries what happened before in the instructions and opens with the
    profile's callback line."""
    if not context:
        return ConverseInput(call_id=call_id, profile=profile, opening_line=profile.disclosure)
    informed = profile.model_copy(update={"instructions": f"{profile.instructions}\n\n{context}"})
    opening = profile.callback_disclosure or profile.disclosure
    return ConverseInput(call_id=call_id, profile=informed, opening_line=opening)


__all__ = ["RETRY_OUTCOMES", "CadenceRun", "converse_input"]
