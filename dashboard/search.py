"""Finding finished calls: a validated filter becomes a visibility query over the search attributes;
consent, which is in the call's result rather than its attributes, is filtered after reading it."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from switchboard.calendar import zone
from switchboard.codec import PayloadErased
from switchboard.models import CallOutcome, Outcome
from switchboard.search_attributes import AGENT_PROFILE, CALL_OUTCOME
from workflows.call import CallWorkflow

_NAME = re.compile(r"^[a-z0-9_\-]{1,64}$")
ConsentFilter = Literal["", "granted", "refused", "none"]


class FilterError(ValueError):
    """A search field the visibility query will not accept."""


@dataclass(frozen=True)
class ReviewFilter:
    day: date | None = None
    profile: str = ""
    outcome: str = ""
    consent: ConsentFilter = ""
    tz: str = "UTC"  # the zone whose calendar ``day`` is in (the business's)

    @classmethod
    def parse(cls, query: dict[str, str], tz: str = "UTC") -> ReviewFilter:
        raw_day = query.get("date", "").strip()
        try:
            day = date.fromisoformat(raw_day) if raw_day else None
        except ValueError:
            raise FilterError(f"not a date: {raw_day!r} (use YYYY-MM-DD)") from None
        profile = query.get("profile", "").strip()
        if profile and not _NAME.match(profile):
            raise FilterError("a profile name is lower-case letters, digits, _ and -")
        outcome = query.get("outcome", "").strip()
        if outcome and outcome not in {o.value for o in Outcome}:
            raise FilterError(f"unknown outcome {outcome!r}")
        consent = query.get("consent", "").strip()
        if consent not in ("", "granted", "refused", "none"):
            raise FilterError(f"unknown consent filter {consent!r}")
        return cls(day=day, profile=profile, outcome=outcome, consent=consent, tz=tz)  # type: ignore[arg-type]

    def visibility_query(self) -> str:
        # Every value is validated above, so quoting cannot be broken out of.
        parts = ["WorkflowType='CallWorkflow'", "CallStatus='archived'"]
        if self.profile:
            parts.append(f"AgentProfile='{self.profile}'")
        if self.outcome:
            parts.append(f"CallOutcome='{self.outcome}'")
        if self.day:
            start = datetime.combine(self.day, time(0), tzinfo=zone(self.tz)).astimezone(UTC)
            end = datetime.combine(self.day + timedelta(days=1), time(0), tzinfo=zone(self.tz)).astimezone(
                UTC
            )
            parts.append(
                f"StartTime >= '{start:%Y-%m-%dT%H:%M:%S}Z' AND StartTime < '{end:%Y-%m-%dT%H:%M:%S}Z'"
            )
        return " AND ".join(parts)

    def keeps(self, result: CallOutcome | None) -> bool:
        if not self.consent:
            return True
        if result is None or result.consent is None:
            return self.consent == "none"
        return self.consent == ("granted" if result.consent.recording else "refused")


@dataclass
class FinishedCall:
    call_id: str
    profile: str
    outcome: str
    started: datetime | None
    result: CallOutcome | None
    erased: bool = False  # the caller was erased: nothing of the call can be read


def _erased(err: BaseException | None) -> bool:
    while err is not None:
        if isinstance(err, PayloadErased):
            return True
        err = err.__cause__
    return False


async def read_result(client: Client, call_id: str) -> tuple[CallOutcome | None, bool]:
    """The call's result (read from its close event only), or None when it did not complete; and
    whether its person was erased (then there is no result to read either)."""
    handle = client.get_workflow_handle_for(CallWorkflow.run, call_id)
    try:
        return await handle.result(follow_runs=False), False
    except Exception as err:  # failed, cancelled, terminated, or erased: no result to show
        return None, _erased(err)


async def finished_result(client: Client, call_id: str) -> CallOutcome | None:
    return (await read_result(client, call_id))[0]


async def find_finished(client: Client, flt: ReviewFilter, limit: int = 50) -> list[FinishedCall]:
    found: list[FinishedCall] = []
    async for wf in client.list_workflows(flt.visibility_query(), limit=limit * 4 if flt.consent else limit):
        attrs = wf.typed_search_attributes
        found.append(
            FinishedCall(
                call_id=wf.id,
                profile=attrs.get(AGENT_PROFILE) or "",
                outcome=attrs.get(CALL_OUTCOME) or "",
                started=wf.start_time,
                result=None,
            )
        )
    gate = asyncio.Semaphore(8)

    async def read(call: FinishedCall) -> None:
        async with gate:
            call.result, call.erased = await read_result(client, call.call_id)

    await asyncio.gather(*(read(c) for c in found))
    return [c for c in found if flt.keeps(c.result)][:limit]


async def is_finished(client: Client, call_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(call_id).describe()
    except RPCError:
        return False
    return desc.status == WorkflowExecutionStatus.COMPLETED
