"""Replay one case through the real path: phone network → gateway → CallWorkflow → voice worker ⇄
Realtime engine (or OpenAI), and collect what happened on both sides of the call.

Inbound cases dial the case's number from a simulated caller. Outbound cases register the
lead's phone on the phone network and post the signed web form to the gateway, exactly as the
demo does; the first attempt's call workflow (``callback-<submission>-a1``) is the one scored,
and the callback workflow is then cancelled so its retries do not ring on during the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from evals.case import Case, KnownIssue
from evals.scorer import Check, score
from evals.voices import ensure_rendered
from infra import services
from infra.phone.client import SimClient
from infra.stack import ServiceSpec
from switchboard.config import Settings
from switchboard.models import CallOutcome
from workflows.call import CallWorkflow
from workflows.callback import OutboundCallbackWorkflow


def eval_services(settings: Settings) -> list[ServiceSpec]:
    """The whole local stack as processes (Temporal in memory: an eval run keeps no state)."""
    return services.call_stack(settings)


class CaseResult(BaseModel):
    """One case's replay and its score."""

    case_id: str
    profile: str
    modes: list[str]
    call_id: str = ""
    passed: bool = False
    checks: list[Check] = []
    error: str | None = None
    known_issue: KnownIssue | None = None
    wall_s: float = 0.0
    attempt: int = 1  # which round of a repeated run (``--repeat``)
    barge_in_expected: bool | None = None  # the case asks the agent to stop for the caller
    outcome: CallOutcome | None = None
    phone: dict[str, Any] = {}

    @property
    def passed_checks(self) -> int:
        return sum(c.passed for c in self.checks)


@dataclass
class Replayer:
    """What a replay needs: the stack's settings, a Temporal client and the phone network."""

    settings: Settings
    client: Client
    sim: SimClient
    today: date = field(default_factory=date.today)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    _lead_numbers: dict[str, str] = field(default_factory=dict)

    async def run(self, case: Case) -> CaseResult:
        started = time.perf_counter()
        result = CaseResult(
            case_id=case.id,
            profile=case.profile,
            modes=case.modes,
            known_issue=case.known_issue,
            barge_in_expected=case.expect.barge_in,
        )
        try:
            ensure_rendered(case)
            script = case.script(self.today)
            async with self._faults(case):
                if case.outbound is None:
                    call_id, sid, outcome = await self._inbound(case, script)
                else:
                    call_id, sid, outcome = await self._outbound(case, script)
            result.call_id = call_id
            result.outcome = outcome
            result.phone = _phone_summary(await self.sim.call(sid)) if sid else {}
            result.checks = score(case.expected(self.today), outcome, result.phone)
            result.passed = bool(result.checks) and all(c.passed for c in result.checks)
        except Exception as exc:  # a case that cannot run is a failed case, not a crashed run
            result.error = f"{type(exc).__name__}: {exc}"
        result.wall_s = time.perf_counter() - started
        return result

    @contextlib.asynccontextmanager
    async def _faults(self, case: Case) -> AsyncIterator[None]:
        """The case's Realtime faults, armed on the local engine for the call's next sessions."""
        if not case.realtime_faults:
            yield
            return
        from infra.realtime_engine import arm, disarm

        url = self.settings.realtime_url
        await disarm(url)
        for f in case.realtime_faults:
            await arm(
                url, fault=f.fault, refuse=f.refuse, max_session_s=f.max_session_s, connections=f.connections
            )
        try:
            yield
        finally:
            await disarm(url)

    async def _inbound(self, case: Case, script: dict[str, Any]) -> tuple[str, str, CallOutcome]:
        sid = await self.sim.inbound_call(
            {"from": case.caller_number, "to": case.number, "caller": {"script": script}}
        )
        call_id = f"call-{sid}"
        await self.sim.wait(sid, timeout_s=case.timeout_s)
        handle = self.client.get_workflow_handle_for(CallWorkflow.run, call_id)
        outcome = await asyncio.wait_for(handle.result(), 150)
        return call_id, sid, outcome

    async def _outbound(self, case: Case, script: dict[str, Any]) -> tuple[str, str, CallOutcome]:
        assert case.outbound is not None
        lead_phone = self._lead_number(case.id)
        callee: dict[str, Any] = {"answer": case.outbound.answer, "rings": case.outbound.rings}
        if case.outbound.answer == "human":
            callee["script"] = script
        await self.sim.register(lead_phone, callee)
        submission = f"eval-{case.id}-{self.run_id}"
        accepted = await post_form_for(self.settings, submission, lead_phone, case.outbound.reason)
        call_id = f"{accepted['call_id']}-a1"
        handle = self.client.get_workflow_handle_for(CallWorkflow.run, call_id)
        outcome = await _result_when_started(handle, case.timeout_s + 150)
        callback = self.client.get_workflow_handle_for(OutboundCallbackWorkflow.run, accepted["call_id"])
        with contextlib.suppress(RPCError):  # its retries would dial the lead again while the bank runs
            await callback.cancel()
        calls = [c for c in await self.sim.calls() if c.get("to") == lead_phone]
        sid = str(calls[-1]["sid"]) if calls else ""
        if sid:
            await self.sim.wait(sid, timeout_s=60)
        await self.sim.forget(lead_phone)
        return call_id, sid, outcome

    def _lead_number(self, case_id: str) -> str:
        # ACMA's drama range for mobiles (0491 570 xxx), one number per outbound case in the run.
        if case_id not in self._lead_numbers:
            self._lead_numbers[case_id] = f"+61491570{200 + len(self._lead_numbers):03d}"
        return self._lead_numbers[case_id]


async def post_form_for(settings: Settings, submission: str, phone: str, reason: str) -> dict[str, Any]:
    """The eval lead's web form, posted exactly as ``make demo`` posts one."""
    from infra.demo import post_form

    return await post_form(settings, submission, name="Eval Lead", phone=phone, reason=reason)


async def _result_when_started(handle: Any, timeout_s: float) -> CallOutcome:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await handle.describe()
            break
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    outcome: CallOutcome = await asyncio.wait_for(handle.result(), max(1.0, deadline - time.monotonic()))
    return outcome


def _phone_summary(call: dict[str, Any]) -> dict[str, Any]:
    """The phone side, without audio or numbers: status, barge-ins and timeline notes."""
    keep = ("status", "barge_ins", "heard_audio_ms", "stream_ms", "clears", "marks_echoed", "duration")
    out = {k: call[k] for k in keep if k in call}
    timeline: Sequence[dict[str, Any]] = call.get("timeline") or []
    out["notes"] = [e for e in timeline if e.get("kind") in ("note", "hangup", "stop")][-10:]
    return out


__all__ = ["CaseResult", "Replayer", "eval_services", "post_form_for"]
