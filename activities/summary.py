"""The structured summary of a call, by the profile's schema: deterministic extraction from the
tool calls (their confirmed arguments and results) and the transcript.

``Summariser`` is the seam: an LLM summariser can replace ``ExtractiveSummariser`` when a key
is configured; the schema it must fill stays the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from pydantic import BaseModel
from temporalio import activity

from switchboard.costs import PriceTable, call_cost
from switchboard.messages import SummariseInput
from switchboard.models import CallSummary, Outcome, Speaker


class BookingSummary(BaseModel):
    booked: bool = False
    booking_id: str | None = None
    date: dt.date | None = None
    time: str | None = None
    practitioner: str | None = None
    name: str | None = None
    phone: str | None = None


class IntakeSummary(BaseModel):
    matter_id: str | None = None
    matter_type: str | None = None
    description: str | None = None
    urgent: bool = False
    court_date: dt.date | None = None
    name: str | None = None
    phone: str | None = None
    other_party: str | None = None
    conflict: bool | None = None


class LeadSummary(BaseModel):
    qualified: bool | None = None
    need: str | None = None
    timeframe: str | None = None
    meeting_id: str | None = None
    date: dt.date | None = None
    time: str | None = None


class JobStatusSummary(BaseModel):
    job_id: str | None = None
    status: str | None = None
    technician: str | None = None
    note: str | None = None


class TriageSummary(BaseModel):
    account: str | None = None
    ticket_id: str | None = None
    category: str | None = None
    priority: str | None = None
    summary: str | None = None


SCHEMAS: dict[str, type[BaseModel]] = {
    "booking": BookingSummary,
    "intake": IntakeSummary,
    "lead": LeadSummary,
    "job_status": JobStatusSummary,
    "triage": TriageSummary,
}
HEADLINES = {
    Outcome.COMPLETED: "Call completed",
    Outcome.ESCALATED: "Caller transferred to a person",
    Outcome.CONSENT_REFUSED: "Caller declined recording",
    Outcome.CALLER_HUNG_UP: "Caller hung up",
    Outcome.DROPPED: "Call dropped",
    Outcome.TIMED_OUT: "Call reached its maximum length",
    Outcome.TRANSFER_UNANSWERED: "Callback needed: nobody took the transfer",
}


class Summariser(Protocol):
    def summarise(self, inp: SummariseInput) -> CallSummary: ...


class ExtractiveSummariser:
    """Fills the schema from successful tool calls, latest first; no model, no guessing."""

    def summarise(self, inp: SummariseInput) -> CallSummary:
        schema = SCHEMAS.get(inp.profile.summary_schema, BaseModel)
        found: dict[str, Any] = {}
        for result in inp.tool_results:
            if result.ok:
                found |= {k: v for k, v in result.arguments.items() if k != "confirmed"}
                found |= {k: v for k, v in result.output.items() if k not in ("say", "action")}
        if "booking_id" in found:
            found["booked"] = True
        if "job_id" in found and "note" not in found:
            found.setdefault("note", None)
        fields = schema.model_validate({k: v for k, v in found.items() if k in schema.model_fields})
        headline = HEADLINES.get(inp.outcome, inp.outcome.value.replace("_", " ").capitalize())
        extra: dict[str, Any] = {}
        if inp.escalation_note:
            extra["escalation"] = inp.escalation_note
        if inp.outcome == Outcome.TRANSFER_UNANSWERED:
            extra["callback_requested"] = True  # the team's callback task: the caller was told to expect it
        excerpt = [
            f"{t.speaker.value}: {t.text}"
            for t in inp.transcript
            if t.speaker in (Speaker.CALLER, Speaker.AGENT)
        ]
        extra["transcript_excerpt"] = excerpt[:12]
        return CallSummary(
            call_id=inp.call_id,
            profile=inp.profile.name,
            outcome=inp.outcome,
            headline=f"{headline}: {inp.profile.job}",
            fields=fields.model_dump(mode="json") | extra,
        )


class SummaryActivities:
    def __init__(self, summariser: Summariser | None = None, prices: PriceTable | None = None) -> None:
        self.summariser = summariser or ExtractiveSummariser()
        self.prices = prices or PriceTable()

    @activity.defn(name="summarise")
    async def summarise(self, inp: SummariseInput) -> CallSummary:
        """The profile's summary, with what the call cost at the configured prices."""
        summary = self.summariser.summarise(inp)
        if summary.cost is None:
            summary.cost = call_cost(
                inp.usage, self.prices, seconds=inp.call_seconds, direction=inp.direction
            )
        return summary
