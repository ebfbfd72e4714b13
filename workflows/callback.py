"""OutboundCallbackWorkflow: call a web-form lead back within minutes, within the contact rules.

The script: do-not-call check → wait (durable timer) for the next minute the lead may be called
in their own time zone → start the call's workflow, then dial → busy, no answer or voicemail:
back off and try again within the hours, up to the policy's attempts → record the outcome.

Round trips (each one a workflow task on the server and the worker): the do-not-call check is a
local activity (a cheap lookup, recorded as a marker), and a placed call is reported to the call's
workflow by its own status callbacks, which carry the CallSid; the callback workflow signals it
only when the dial failed, since then no callback will come. Both are behind one
``workflow.patched`` (one marker per run), so callbacks already running on the older sequence
replay unchanged (``tests/histories/callback_busy_attempt_before_patches.json``).

A request with a cadence (``CallbackPolicy.cadence``, from the outbound profile) runs the cadence
instead (``workflows/cadence.py``: texts, replies that reschedule, ``unreachable`` after its last
day), behind ``workflow.patched(CADENCE)``; callbacks started without one keep the plain retries.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from switchboard import calendar
    from switchboard.messages import (
        CallbackAttempt,
        CallbackOutcome,
        CallbackRequest,
        DialInput,
        DialResult,
        DoNotCallCheck,
        LeadReply,
        TelephonyEvent,
        TextStatus,
    )
    from switchboard.models import CallOutcome, CallRequest, Direction, Outcome
    from switchboard.search_attributes import CALL_OUTCOME, CALL_STATUS
    from workflows.cadence import CadenceRun
    from workflows.call import CallWorkflow

RETRY_OUTCOMES = {Outcome.BUSY, Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.FAILED}
FAST = timedelta(seconds=10)
# The workflow.patched id of the sequence with fewer round trips (local do-not-call check, no
# "queued" signal to the call's workflow after a successful dial).
FEWER_ROUND_TRIPS = "callback-fewer-round-trips"
CADENCE = "callback-cadence"  # the workflow.patched id of the cadence (texts, replies, reschedules)


@workflow.defn
class OutboundCallbackWorkflow:
    def __init__(self) -> None:
        self.lead_id = ""
        self.attempts: list[CallbackAttempt] = []
        self.next_attempt_at: str | None = None
        self.cadence: CadenceRun | None = None
        self.early: list[LeadReply] = []  # replies before the run set the cadence up (none in practice)

    @workflow.run
    async def run(self, req: CallbackRequest) -> CallbackOutcome:
        lead, policy = req.lead, req.policy
        self.lead_id = lead.submission_id
        if policy.cadence is not None and workflow.patched(CADENCE):
            return await self._run_cadence(req)
        wf_id = workflow.info().workflow_id
        listed = await self._do_not_call(lead.phone)
        if listed or not lead.consent_to_contact:
            return self._done(CallbackOutcome(lead_id=lead.submission_id, outcome=None, do_not_call=True))

        hours = policy.hours
        outcome: Outcome | None = None
        for attempt in range(1, policy.max_attempts + 1):
            await self._wait_until_allowed(hours, lead.timezone)
            call_id, dialled_at = f"{wf_id}-a{attempt}", workflow.now()
            outcome = await self._attempt(call_id, req)
            attempt_record = CallbackAttempt(
                call_id=call_id, outcome=outcome, at=workflow.now(), dialled_at=dialled_at
            )
            self.attempts.append(attempt_record)
            if outcome not in RETRY_OUTCOMES or attempt == policy.max_attempts:
                break
            delay = policy.retry_after_s[min(attempt - 1, len(policy.retry_after_s) - 1)]
            await workflow.sleep(timedelta(seconds=delay))
        return self._done(
            CallbackOutcome(lead_id=lead.submission_id, outcome=outcome, attempts=self.attempts)
        )

    async def _run_cadence(self, req: CallbackRequest) -> CallbackOutcome:
        assert req.policy.cadence is not None
        run = self.cadence = CadenceRun(req, req.policy.cadence, workflow.now())
        for reply in self.early:
            run.reply(reply)
        lead, wf_id = req.lead, workflow.info().workflow_id
        base = CallbackOutcome(lead_id=lead.submission_id, outcome=None)
        if not lead.consent_to_contact or await self._do_not_call(lead.phone):
            run.end(None, "on a do-not-call list, or no consent: never called")
            return self._done(run.outcome(base.model_copy(update={"do_not_call": True})))
        outcome: Outcome | None = None
        while await run.next_call():
            if await self._do_not_call(lead.phone):  # asked again before every attempt
                run.end(None, "on a do-not-call list since the last attempt")
                return self._done(
                    run.outcome(base.model_copy(update={"do_not_call": True, "attempts": self.attempts}))
                )
            number = len(self.attempts) + 1
            call_id, dialled_at = f"{wf_id}-a{number}", workflow.now()
            outcome = await self._attempt(call_id, req, run.context())
            record = CallbackAttempt(
                call_id=call_id, outcome=outcome, at=workflow.now(), dialled_at=dialled_at
            )
            self.attempts.append(record)
            run.after_attempt(number, record)
            if outcome not in RETRY_OUTCOMES and outcome != Outcome.CALLBACK_REQUESTED:
                run.end(outcome, f"reached: {outcome.value}")
                return self._done(
                    run.outcome(base.model_copy(update={"outcome": outcome, "attempts": self.attempts}))
                )
            if outcome in RETRY_OUTCOMES:  # not when the lead answered and asked for another time
                await run.missed(number)
        if run.opted_out:
            return self._done(
                run.outcome(
                    base.model_copy(
                        update={"outcome": Outcome.OPTED_OUT, "attempts": self.attempts, "opted_out": True}
                    )
                )
            )
        run.end(Outcome.UNREACHABLE, f"unreachable after {len(self.attempts)} attempts")
        return self._done(
            run.outcome(base.model_copy(update={"outcome": Outcome.UNREACHABLE, "attempts": self.attempts}))
        )

    @workflow.signal(name="lead_reply")
    def lead_reply(self, reply: LeadReply) -> None:
        if self.cadence is None:
            self.early.append(reply)
        else:
            self.cadence.reply(reply)

    @workflow.signal(name="text_status")
    def text_status(self, status: TextStatus) -> None:
        if self.cadence is not None:
            self.cadence.text_status(status)

    async def _do_not_call(self, phone: str) -> bool:
        check = DoNotCallCheck(phone=phone)
        if workflow.patched(FEWER_ROUND_TRIPS):  # the run's first call of it: the marker goes here
            return await workflow.execute_local_activity(
                "check_do_not_call", check, result_type=bool, start_to_close_timeout=FAST
            )
        return await workflow.execute_activity(
            "check_do_not_call", check, result_type=bool, start_to_close_timeout=FAST
        )

    async def _wait_until_allowed(self, hours: calendar.Hours, tz: str) -> None:
        now = workflow.now()
        allowed = calendar.next_open(now, hours, tz)
        if allowed > now:
            self.next_attempt_at = allowed.isoformat()
            workflow.upsert_search_attributes([CALL_STATUS.value_set("waiting_for_hours")])
            await workflow.sleep(allowed - now)
        self.next_attempt_at = None

    async def _attempt(self, call_id: str, req: CallbackRequest, context: str = "") -> Outcome:
        workflow.upsert_search_attributes([CALL_STATUS.value_set("dialling")])
        call = await workflow.start_child_workflow(
            CallWorkflow.run,
            CallRequest(
                call_id=call_id,
                direction=Direction.OUTBOUND,
                profile=req.policy.profile,
                to_number=req.lead.phone,
                from_number="",
                lead=req.lead,
                context=context,
                hours=req.policy.hours,
            ),
            id=call_id,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            parent_close_policy=ParentClosePolicy.ABANDON,  # a live call outlives a cancelled callback
        )
        try:
            dialled = await workflow.execute_activity(
                "dial",
                DialInput(call_id=call_id, to_number=req.lead.phone, status_callback_workflow=call_id),
                result_type=DialResult,
                start_to_close_timeout=FAST,
                retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=["TelephonyRefused"]),
            )
        except ActivityError:  # no call was placed: no status callback will end the call's workflow
            await call.signal(CallWorkflow.telephony_event, TelephonyEvent(call_sid="", status="failed"))
        else:
            if not workflow.patched(FEWER_ROUND_TRIPS):  # the same answer for the whole run
                await call.signal(
                    CallWorkflow.telephony_event, TelephonyEvent(call_sid=dialled.call_sid, status="queued")
                )
        result: CallOutcome = await call
        return result.outcome

    def _done(self, outcome: CallbackOutcome) -> CallbackOutcome:
        final = (
            "do_not_call" if outcome.do_not_call else (outcome.outcome.value if outcome.outcome else "none")
        )
        workflow.upsert_search_attributes([CALL_STATUS.value_set("done"), CALL_OUTCOME.value_set(final)])
        return outcome

    @workflow.query(name="status")
    def view(self) -> CallbackOutcome:
        last = self.attempts[-1].outcome if self.attempts else None
        view = CallbackOutcome(lead_id=self.lead_id, outcome=last, attempts=self.attempts)
        return self.cadence.outcome(view) if self.cadence is not None else view
