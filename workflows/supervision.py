"""What a supervisor can do to a live call, as Updates on the call's workflow (so each action is
validated and recorded in the history): whisper to the agent, take the call over, end it, and
approve or reject a tool call that the profile holds for approval.

A mixin of ``CallWorkflow``: it reads and changes the call's state through the attributes and
helpers that workflow defines (``profile``, ``finished``, ``_command``, ``_transfer``).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from switchboard.messages import SupervisorAction, SupervisorResult, ToolCallRequest
    from switchboard.models import AgentProfile, ToolCall, ToolResult

APPROVAL_TIMEOUT = timedelta(minutes=2)


class Supervision:
    profile: AgentProfile | None
    finished: bool
    escalation: str | None

    def _init_supervision(self) -> None:
        self.pending_approvals: dict[str, ToolCall] = {}
        self.approvals: dict[str, bool] = {}
        self.whispers: list[str] = []
        self.take_over_to: str | None = None

    def _live_profile(self) -> AgentProfile:
        """For every Update's validator: the call must be connected and not yet ended."""
        if self.profile is None:
            raise ValueError("the call is not connected yet")
        if self.finished:
            raise ValueError("the call has ended")
        return self.profile

    def _command(self, kind: str, line: str, reason: str) -> None:
        raise NotImplementedError

    async def _transfer(self, to_number: str | None = None) -> None:
        raise NotImplementedError

    async def _await_approval(self, req: ToolCallRequest) -> ToolResult | None:
        """Hold a tool call until a supervisor decides; a refusal (or no answer) is the tool's result."""
        call = req.call
        self.pending_approvals[call.call_id] = call
        try:
            await workflow.wait_condition(lambda: call.call_id in self.approvals, timeout=APPROVAL_TIMEOUT)
        except TimeoutError:
            self.approvals[call.call_id] = False
        finally:
            self.pending_approvals.pop(call.call_id, None)
        if self.approvals[call.call_id]:
            return None
        reason = "a supervisor did not approve this request"
        return ToolResult(
            call_id=call.call_id, name=call.name, ok=False, error=reason, output={"error": reason}
        )

    @workflow.update
    async def supervise(self, action: SupervisorAction) -> SupervisorResult:
        assert self.profile is not None
        if action.kind == "whisper":
            self.whispers.append(action.text)
            self._command("whisper", action.text, "supervisor")
        elif action.kind == "end_call":
            self._command("say_and_end", self.profile.goodbye, "supervisor")
        elif action.kind in ("approve", "reject"):
            self.approvals[action.tool_call_id or ""] = action.kind == "approve"
        else:  # take over: hand the caller to the supervisor with the context so far
            self.escalation = action.text or "taken over by a supervisor"
            self.take_over_to = action.to_number or self.profile.guardrails.escalation_number
            await self._transfer(self.take_over_to)
        return SupervisorResult(accepted=True, detail=action.kind)

    @supervise.validator
    def _validate_supervise(self, action: SupervisorAction) -> None:
        self._live_profile()
        if action.kind == "whisper" and not action.text.strip():
            raise ValueError("a whisper needs some text")
        if action.kind in ("approve", "reject") and action.tool_call_id not in self.pending_approvals:
            raise ValueError("no tool call is waiting for that approval")
