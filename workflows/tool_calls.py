"""The agent's tool calls, as Updates on the call's workflow: the consent answer and ``run_tool``.

The validator enforces the profile (allowed tools, valid arguments, the consent question before
any business tool, confirmed write-backs, nothing from an interrupted response) and the handler
runs the tool as a local activity with an idempotency key (a slow tool as a regular activity).
The orchestrator enforces what a prompt cannot.

A mixin of ``CallWorkflow``: it reads and changes the call's state through the attributes and
helpers that workflow defines (``profile``, ``consent``, ``finished``, ``_set_status``).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.tools import REGISTRY
    from activities.tools.sales import SCHEDULE_CALLBACK
    from activities.tools.system import END_CALL, ESCALATE, RECORD_CONSENT, SYSTEM_TOOLS
    from switchboard.messages import (
        CallStatus,
        ConsentAnswer,
        LeadReply,
        ToolCallRequest,
        ToolInvocation,
        ToolRejected,
    )
    from switchboard.models import AgentProfile, CallRequest, Consent, Outcome, ToolResult
    from workflows.supervision import Supervision

FAST = timedelta(seconds=10)
SLOW = timedelta(seconds=30)


class ToolCalls(Supervision):
    call_id: str
    profile: AgentProfile | None
    request: CallRequest | None
    finished: bool
    consent: Consent | None
    consent_answers: list[ConsentAnswer]
    tool_results: list[ToolResult]
    rejections: list[ToolRejected]

    def _set_status(
        self, status: CallStatus, *, profile: str | None = None, outcome: Outcome | None = None
    ) -> None:
        raise NotImplementedError

    @workflow.signal
    def tool_rejected(self, event: ToolRejected) -> None:
        self.rejections.append(event)

    # -- Updates ---------------------------------------------------------------------------

    @workflow.update
    async def record_consent(self, answer: ConsentAnswer) -> ToolResult:
        """The caller's answer to the disclosure; the first answer stands, every answer is in the history."""
        assert self.profile is not None
        self.consent_answers.append(answer)
        if self.consent is None:
            self.consent = Consent(
                recording=answer.granted,
                said=answer.said,
                at=workflow.now(),
                over_disclosure=answer.over_disclosure,
            )
            self._set_status(CallStatus.CONVERSATION)
        granted = self.consent.recording
        output: dict[str, object] = {"granted": granted}
        if not granted:
            if self.profile.guardrails.on_consent_refused == "end_call":
                output |= {"action": "end_call", "say": f"No problem. {self.profile.goodbye}"}
            else:
                output["say"] = "No problem, this call won't be recorded. How can I help?"
        else:
            output["say"] = "Thank you. How can I help?"
        return ToolResult(
            call_id=answer.tool_call_id or "consent", name=RECORD_CONSENT, ok=True, output=output
        )

    @record_consent.validator
    def _validate_consent(self, answer: ConsentAnswer) -> None:
        self._live_profile()

    @workflow.update
    async def run_tool(self, req: ToolCallRequest) -> ToolResult:
        assert self.profile is not None
        call = req.call
        if call.name == END_CALL:
            result = ToolResult(
                call_id=call.call_id,
                name=END_CALL,
                ok=True,
                output={"action": "end_call", "say": self.profile.goodbye},
            )
        elif call.name == ESCALATE:
            self.escalation = str(call.arguments.get("reason") or "caller asked for a person")
            result = ToolResult(
                call_id=call.call_id,
                name=ESCALATE,
                ok=True,
                output={"action": "transfer", "say": "I'll put you through to a person now. Please hold."},
            )
        elif (
            (spec := self.profile.tool(call.name))
            and spec.requires_approval
            and (refused := await self._await_approval(req))
        ):
            result = refused
        else:
            tool = REGISTRY[call.name]
            invocation = ToolInvocation(
                call_id=self.call_id,
                tool=call.name,
                arguments=call.arguments | self._tool_context(call.name),
                idempotency_key=f"{self.call_id}:{call.call_id}",
                tool_call_id=call.call_id,
            )
            if tool.slow:
                result = await workflow.execute_activity(
                    "run_tool",
                    invocation,
                    result_type=ToolResult,
                    start_to_close_timeout=SLOW,
                )
            else:
                result = await workflow.execute_local_activity(
                    "run_tool", invocation, result_type=ToolResult, start_to_close_timeout=FAST
                )
        if (
            self.consent is None
            and call.name not in SYSTEM_TOOLS
            and self.profile.guardrails.require_recording_consent
        ):  # the validator refuses this; the flag shows it if that rule is ever lost
            result = result.model_copy(update={"before_consent": True})
        self.tool_results.append(result)
        if result.ok and call.name == SCHEDULE_CALLBACK:
            await self._tell_cadence(result)
        return result

    def _tool_context(self, name: str) -> dict[str, object]:
        """What a tool needs that the model must not supply: for ``schedule_callback``, this
        workflow's clock and the lead's zone and calling hours."""
        if name != SCHEDULE_CALLBACK or self.request is None or self.request.lead is None:
            return {}
        hours = self.request.hours.model_dump(mode="json") if self.request.hours else None
        return {"now": workflow.now().isoformat(), "timezone": self.request.lead.timezone, "hours": hours}

    async def _tell_cadence(self, result: ToolResult) -> None:
        """The lead asked on the call to be rung back: the cadence (this call's parent, the
        callback workflow) gets the ``lead_reply`` signal a text reply sends, with the time."""
        parent = workflow.info().parent
        if parent is None:
            return
        reply = LeadReply(
            text=str(result.arguments.get("when", "")),
            message_sid=f"{self.call_id}:{result.call_id}"[:64],  # a retried signal is one reply
            source="call",
            at=result.output["at"],
        )
        await workflow.get_external_workflow_handle(parent.workflow_id).signal("lead_reply", reply)

    def _tools_outcome(self, outcome: Outcome) -> Outcome:
        """What the tool calls make of a call that ended normally: consent refused and nothing
        served, or a call back asked for (the cadence calls again then)."""
        if outcome != Outcome.COMPLETED:
            return outcome
        if any(r.ok and r.name == SCHEDULE_CALLBACK for r in self.tool_results):
            return Outcome.CALLBACK_REQUESTED
        served = any(r.ok and r.name not in SYSTEM_TOOLS for r in self.tool_results)
        if self.consent is not None and not self.consent.recording and not served:
            return Outcome.CONSENT_REFUSED
        return outcome

    @run_tool.validator
    def _validate_tool(self, req: ToolCallRequest) -> None:
        profile = self._live_profile()
        spec = profile.tool(req.call.name)
        if spec is None or req.call.name == RECORD_CONSENT:
            raise ValueError(f"{req.call.name} is not a tool of this agent")
        model = (
            SYSTEM_TOOLS[req.call.name][1]
            if req.call.name in SYSTEM_TOOLS
            else REGISTRY[req.call.name].input_model
        )
        try:
            args = model.model_validate(req.call.arguments)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"invalid arguments for {req.call.name}: {problems}") from None
        if (
            self.consent is None
            and profile.guardrails.require_recording_consent
            and req.call.name not in SYSTEM_TOOLS
        ):
            raise ValueError(
                "first ask the recording consent question and record the answer (record_consent)"
            )
        if spec.write_back:
            if req.cancelled:
                raise ValueError("the caller interrupted; confirm the details again before saving")
            if not getattr(args, "confirmed", False):
                fields = ", ".join(spec.confirm_arguments) or "the details"
                raise ValueError(
                    f"read back {fields} to the caller and get a yes, then call with confirmed=true"
                )
