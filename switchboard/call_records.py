"""One record per finished call, for the review queue, the overview and the weekly digest.

``CallFacts`` is what the call's workflow knows when the call ends, with nothing personal in it:
ids, the outcome, counts, timings and latencies (never a number, a name or a word said).
``build_record`` turns it into a ``CallRecord``: what the dashboard shows and counts, including the
review **flags** (the reasons a person should listen to the call). Both are pure, so the rules are
tested without a stack; ``switchboard/call_record_store.py`` keeps the records in DynamoDB.

The record is erasure-safe by design (#20): it holds no personal data, so ``switchboard forget``
has nothing to shred in it. The reviewer's note is the one free text; the dashboard asks for no
caller details in it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from switchboard.budgets import FIRST_AUDIO_MS
from switchboard.models import CallOutcome, LatencySlices, Outcome, Speaker

__all__ = [
    "ANSWERED_OUTCOMES",
    "FLAG_LABELS",
    "LONG_SILENCE_MS",
    "CallFacts",
    "CallRecord",
    "ConsentState",
    "Flag",
    "RecordResult",
    "ToolTally",
    "ToolUse",
    "TurnTiming",
    "Verdict",
    "build_record",
    "compute_flags",
    "percentile",
    "record_time",
]

LONG_SILENCE_MS = 8000  # nobody spoke for this long, mid-call: a caller left waiting, or a stuck agent
NOT_ANSWERED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED})
ANSWERED_OUTCOMES = frozenset(o for o in Outcome if o not in NOT_ANSWERED)
CONTAINED_OUTCOMES = frozenset({Outcome.COMPLETED, Outcome.CONSENT_REFUSED})
ESCALATED_OUTCOMES = frozenset({Outcome.ESCALATED, Outcome.TRANSFER_UNANSWERED})
TROUBLED_SESSION = frozenset({"dropped", "attempt_failed", "reconnected", "gave_up"})

ConsentState = Literal["given", "refused", "unknown"]


class Flag(StrEnum):
    """Why a person should hear a call. Computed when the call ends; stored and searchable."""

    ESCALATED = "escalated"  # escalated or transferred to a person
    TOOL_REFUSED = "tool_refused"  # the orchestrator refused a tool call the agent made
    TOOL_FAILED = "tool_failed"  # a tool ran and failed
    CONSENT_REFUSED = "consent_refused"
    CALLER_HUNG_UP = "caller_hung_up"  # the caller hung up before the agent finished
    SLOW_TURN = "slow_turn"  # a turn's first audio over the budget (700 ms)
    DROPPED = "dropped"  # the call dropped, or the agent's Realtime session was lost and resumed
    MAX_LENGTH = "max_length"  # the profile's maximum length was reached
    LONG_SILENCE = "long_silence"  # nobody spoke for LONG_SILENCE_MS or more


FLAG_LABELS: dict[Flag, str] = {
    Flag.ESCALATED: "Escalated or transferred",
    Flag.TOOL_REFUSED: "A tool was refused",
    Flag.TOOL_FAILED: "A tool failed",
    Flag.CONSENT_REFUSED: "Consent refused",
    Flag.CALLER_HUNG_UP: "Caller hung up mid-task",
    Flag.SLOW_TURN: "A turn over the latency budget",
    Flag.DROPPED: "Dropped or resumed",
    Flag.MAX_LENGTH: "Maximum length reached",
    Flag.LONG_SILENCE: "Long silence",
}


class Verdict(StrEnum):
    FINE = "fine"
    AGENT_ERROR = "agent_error"
    TOOL_ERROR = "tool_error"
    CALLER_ISSUE = "caller_issue"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnTiming(_Model):
    """A turn without its words: who, when, whether cut off, its first-audio latency."""

    speaker: Speaker
    start_ms: int = 0
    end_ms: int | None = None
    interrupted: bool = False
    first_audio_ms: float | None = None


class ToolUse(_Model):
    name: str
    ok: bool
    elapsed_ms: float | None = None


class CallFacts(_Model):
    """What the call's workflow hands the ``record_call`` activity when the call ends (no personal data)."""

    call_id: str
    profile: str
    direction: str = ""
    started_at: datetime
    ended_at: datetime
    outcome: Outcome
    consent: ConsentState = "unknown"
    tools: list[ToolUse] = Field(default_factory=list)
    refused_tools: list[str] = Field(default_factory=list, description="Tool calls the validator refused.")
    escalated: bool = False
    transferred: bool = False
    max_length: bool = False
    turns: list[TurnTiming] = Field(default_factory=list)
    latency: LatencySlices = Field(default_factory=LatencySlices)
    realtime_events: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    cost_usd: Decimal | None = None
    timezone: str | None = Field(default=None, description="The business's zone, when the profile names one.")

    @classmethod
    def of(
        cls,
        outcome: CallOutcome,
        *,
        profile: str,
        direction: str,
        started_at: datetime,
        ended_at: datetime,
        refused_tools: Sequence[str] = (),
        escalated: bool = False,
        transferred: bool = False,
        max_length: bool = False,
        timezone: str | None = None,
    ) -> CallFacts:
        """The facts of a finished call: its ``CallOutcome`` less everything personal, plus what only
        the workflow knows (refusals, the hand-over, the length cut)."""
        consent: ConsentState = "unknown"
        if outcome.consent is not None:
            consent = "given" if outcome.consent.recording else "refused"
        return cls(
            call_id=outcome.call_id,
            profile=profile,
            direction=direction,
            started_at=started_at,
            ended_at=ended_at,
            outcome=outcome.outcome,
            consent=consent,
            tools=[ToolUse(name=r.name, ok=r.ok, elapsed_ms=r.elapsed_ms) for r in outcome.tool_results],
            refused_tools=list(refused_tools),
            escalated=escalated,
            transferred=transferred,
            max_length=max_length,
            turns=[
                TurnTiming(
                    speaker=t.speaker,
                    start_ms=t.start_ms,
                    end_ms=t.end_ms,
                    interrupted=t.interrupted,
                    first_audio_ms=t.first_audio_ms,
                )
                for t in outcome.transcript
            ],
            latency=outcome.latency,
            realtime_events=list(outcome.realtime_events),
            duration_s=outcome.duration_s,
            cost_usd=outcome.cost.total_usd if outcome.cost is not None else None,
            timezone=timezone,
        )


class RecordResult(_Model):
    """What the call's history keeps of the record's write: the reasons the call was flagged."""

    call_id: str
    flags: list[Flag] = Field(default_factory=list)


class ToolTally(_Model):
    calls: int = 0
    failures: int = 0
    refusals: int = 0


class CallRecord(_Model):
    """One finished call as the dashboard and the digest see it. Review fields are set by a person."""

    call_id: str
    profile: str
    direction: str = ""
    timezone: str = "UTC"
    started_at: datetime
    ended_at: datetime
    day: date = Field(description="The call's date in the business's zone.")
    outcome: Outcome
    answered: bool = True
    contained: bool = Field(default=False, description="Finished by the agent, no human needed.")
    escalated: bool = False
    transferred: bool = False
    consent: ConsentState = "unknown"
    tools: dict[str, ToolTally] = Field(default_factory=dict)
    caller_turns: int = 0
    agent_turns: int = 0
    barge_ins: int = 0
    latency: LatencySlices = Field(default_factory=LatencySlices)
    first_audio_p50_ms: float | None = None
    first_audio_p95_ms: float | None = None
    slow_turns: int = 0
    reconnects: int = 0
    drops: int = 0
    max_length: bool = False
    long_silences: int = 0
    longest_silence_ms: int = 0
    duration_s: float = 0.0
    cost_usd: Decimal | None = None
    flags: list[Flag] = Field(default_factory=list)
    # The review, written by a person through the store's ``mark_reviewed``.
    reviewed_at: datetime | None = None
    verdict: Verdict | None = None
    note: str = ""
    reviewer: str = ""

    @property
    def pending_review(self) -> bool:
        return bool(self.flags) and self.reviewed_at is None

    @property
    def tool_failures(self) -> int:
        return sum(t.failures for t in self.tools.values())


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` (0–100) percentile by the nearest-rank method; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def silences(turns: Sequence[TurnTiming]) -> list[int]:
    """The gaps, in ms, in which nobody spoke: from the end of everything said so far to the next turn."""
    gaps: list[int] = []
    spoken_until: int | None = None
    for turn in sorted(turns, key=lambda t: t.start_ms):
        if spoken_until is not None and turn.start_ms > spoken_until:
            gaps.append(turn.start_ms - spoken_until)
        end = turn.end_ms if turn.end_ms is not None else turn.start_ms
        spoken_until = max(spoken_until or 0, end)
    return gaps


def first_audio_ms(facts: CallFacts) -> list[float]:
    """Each answer's first-audio time: the voice worker's latency slice, else the turns' own."""
    return facts.latency.turn_to_first_audio_ms or [
        t.first_audio_ms for t in facts.turns if t.first_audio_ms is not None
    ]


def compute_flags(facts: CallFacts, gaps: Sequence[int] | None = None) -> list[Flag]:
    """The reasons a person should hear this call, in ``Flag`` order (empty for a clean call);
    ``gaps``: its silences, when the caller has them already."""
    first_audio = first_audio_ms(facts)
    gaps = silences(facts.turns) if gaps is None else gaps
    found = {
        Flag.ESCALATED: facts.escalated or facts.transferred or facts.outcome in ESCALATED_OUTCOMES,
        Flag.TOOL_REFUSED: bool(facts.refused_tools),
        Flag.TOOL_FAILED: any(not t.ok for t in facts.tools),
        Flag.CONSENT_REFUSED: facts.consent == "refused",
        Flag.CALLER_HUNG_UP: facts.outcome == Outcome.CALLER_HUNG_UP,
        Flag.SLOW_TURN: any(ms > FIRST_AUDIO_MS for ms in first_audio),
        Flag.DROPPED: facts.outcome == Outcome.DROPPED
        or any(e in TROUBLED_SESSION for e in facts.realtime_events),
        Flag.MAX_LENGTH: facts.max_length or facts.outcome == Outcome.TIMED_OUT,
        Flag.LONG_SILENCE: any(gap >= LONG_SILENCE_MS for gap in gaps),
    }
    return [flag for flag in Flag if found[flag]]


def record_time(moment: datetime) -> datetime:
    """A time as the records keep it: aware, in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def build_record(facts: CallFacts, default_zone: str) -> CallRecord:
    """The record of a finished call; dated in ``facts.timezone``, else the business's ``default_zone``."""
    zone = facts.timezone or default_zone
    started = record_time(facts.started_at)
    tools: dict[str, ToolTally] = {}
    for use in facts.tools:
        tally = tools.setdefault(use.name, ToolTally())
        tally.calls += 1
        tally.failures += 0 if use.ok else 1
    for name in facts.refused_tools:
        tools.setdefault(name, ToolTally()).refusals += 1
    first_audio = first_audio_ms(facts)
    latency = facts.latency.model_copy(update={"turn_to_first_audio_ms": first_audio}, deep=True)
    gaps = silences(facts.turns)
    flags = compute_flags(facts, gaps)
    escalated = Flag.ESCALATED in flags
    return CallRecord(
        call_id=facts.call_id,
        profile=facts.profile,
        direction=facts.direction,
        timezone=zone,
        started_at=started,
        ended_at=record_time(facts.ended_at),
        day=started.astimezone(ZoneInfo(zone)).date(),
        outcome=facts.outcome,
        answered=facts.outcome in ANSWERED_OUTCOMES,
        contained=facts.outcome in CONTAINED_OUTCOMES and not escalated,
        escalated=escalated,
        transferred=facts.transferred,
        consent=facts.consent,
        tools=tools,
        caller_turns=sum(t.speaker == Speaker.CALLER for t in facts.turns),
        agent_turns=sum(t.speaker == Speaker.AGENT for t in facts.turns),
        barge_ins=sum(t.interrupted for t in facts.turns),
        latency=latency,
        first_audio_p50_ms=percentile(first_audio, 50),
        first_audio_p95_ms=percentile(first_audio, 95),
        slow_turns=sum(ms > FIRST_AUDIO_MS for ms in first_audio),
        reconnects=facts.realtime_events.count("reconnected"),
        drops=facts.realtime_events.count("dropped") + (facts.outcome == Outcome.DROPPED),
        max_length=Flag.MAX_LENGTH in flags,
        long_silences=sum(gap >= LONG_SILENCE_MS for gap in gaps),
        longest_silence_ms=max(gaps, default=0),
        duration_s=round(facts.duration_s, 3),
        cost_usd=facts.cost_usd,
        flags=flags,
    )
