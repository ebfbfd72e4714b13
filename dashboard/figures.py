"""The overview's figures, from stored call records (``switchboard/call_records.py``): pure, no I/O.

A period is the last 7 or 30 days in the business's zone, today included. Percentiles pool every
measurement of the period's calls (a p95 of turns, not a median of per-call p95s).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from switchboard import budgets
from switchboard.call_records import CallRecord, percentile
from switchboard.models import Outcome

PERIODS = (7, 30)

# The outcomes in stacking order (the agent's own first), each with a colour that keeps 3:1 against
# white for the bars and a label a manager reads.
OUTCOME_STYLE: dict[Outcome, tuple[str, str]] = {
    Outcome.COMPLETED: ("#1b6e2b", "Completed by the agent"),
    Outcome.CONSENT_REFUSED: ("#00708a", "Consent refused"),
    Outcome.ESCALATED: ("#1f5fbf", "Escalated to a person"),
    Outcome.TRANSFER_UNANSWERED: ("#6a3fb0", "Transfer unanswered"),
    Outcome.CALLER_HUNG_UP: ("#b86e00", "Caller hung up"),
    Outcome.TIMED_OUT: ("#8a5a00", "Maximum length"),
    Outcome.DROPPED: ("#b3261e", "Dropped"),
    Outcome.VOICEMAIL: ("#3d5a80", "Voicemail"),
    Outcome.NO_ANSWER: ("#5b6475", "No answer"),
    Outcome.BUSY: ("#6f4e37", "Busy"),
    Outcome.FAILED: ("#7a1f4c", "Failed to connect"),
}

# The latency slices against the seed's budget lines (switchboard/budgets.py).
SLICES: tuple[tuple[str, str, float], ...] = (
    ("turn_to_first_audio_ms", "Caller stops → agent's first audio", budgets.FIRST_AUDIO_MS),
    ("tool_round_trip_ms", "Tool round trip", budgets.TOOL_ROUND_TRIP_MS),
    ("barge_in_to_clear_ms", "Interruption → agent silent", budgets.BARGE_IN_TO_CLEAR_MS),
    ("goodbye_heard_to_hangup_ms", "Goodbye heard → hung up", budgets.HANGUP_MS),
)


@dataclass(frozen=True)
class Period:
    days: int
    zone: str
    first: date
    last: date

    @classmethod
    def ending(cls, now: datetime, days: int, zone: str) -> Period:
        today = now.astimezone(ZoneInfo(zone)).date()
        return cls(days=days, zone=zone, first=today - timedelta(days=days - 1), last=today)

    @property
    def start(self) -> datetime:
        """Midnight of the first day, in the zone (aware)."""
        return datetime.combine(self.first, time(0), ZoneInfo(self.zone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), ZoneInfo(self.zone))

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]


@dataclass
class SliceFigure:
    key: str
    label: str
    budget_ms: float
    count: int
    p50: float | None
    p95: float | None

    @property
    def over(self) -> bool:
        return self.p95 is not None and self.p95 > self.budget_ms


@dataclass
class ToolFigure:
    name: str
    calls: int = 0
    failures: int = 0
    refusals: int = 0


@dataclass
class ProfileRow:
    profile: str
    calls: int
    containment: float | None
    first_audio_p95: float | None
    cost_per_call: Decimal | None
    flagged: int


@dataclass
class Overview:
    period: Period
    profile: str
    calls: int = 0
    answered: int = 0
    contained: int = 0
    consent_asked: int = 0
    consent_refused: int = 0
    flagged: int = 0
    unreviewed: int = 0
    cost_total: Decimal = Decimal(0)
    costed: int = 0
    by_day: dict[date, Counter[Outcome]] = field(default_factory=dict)
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    slices: list[SliceFigure] = field(default_factory=list)
    tools: list[ToolFigure] = field(default_factory=list)
    profiles: list[ProfileRow] = field(default_factory=list)

    @property
    def containment(self) -> float | None:
        return self.contained / self.answered if self.answered else None

    @property
    def cost_per_call(self) -> Decimal | None:
        return (self.cost_total / self.costed).quantize(Decimal("0.0001")) if self.costed else None

    @property
    def outcomes_shown(self) -> list[Outcome]:
        """The outcomes of the period, in stacking order."""
        return [o for o in OUTCOME_STYLE if self.outcomes[o]]


def _cost(records: Sequence[CallRecord]) -> tuple[Decimal, int]:
    costs = [r.cost_usd for r in records if r.cost_usd is not None]
    return sum(costs, Decimal(0)), len(costs)


def _profile_row(profile: str, records: Sequence[CallRecord]) -> ProfileRow:
    answered = [r for r in records if r.answered]
    total, costed = _cost(records)
    turns = [ms for r in records for ms in r.latency.turn_to_first_audio_ms]
    return ProfileRow(
        profile=profile,
        calls=len(records),
        containment=sum(r.contained for r in answered) / len(answered) if answered else None,
        first_audio_p95=percentile(turns, 95),
        cost_per_call=(total / costed).quantize(Decimal("0.0001")) if costed else None,
        flagged=sum(bool(r.flags) for r in records),
    )


def overview(records: Sequence[CallRecord], period: Period, profile: str = "") -> Overview:
    """The period's figures of ``records`` (already read for the period; of one profile, or all)."""
    ov = Overview(period=period, profile=profile)
    ov.by_day = {d: Counter() for d in period.dates()}
    tools: dict[str, ToolFigure] = {}
    for r in records:
        local_day = r.started_at.astimezone(ZoneInfo(period.zone)).date()
        if local_day not in ov.by_day:
            continue
        ov.calls += 1
        ov.by_day[local_day][r.outcome] += 1
        ov.outcomes[r.outcome] += 1
        ov.answered += r.answered
        ov.contained += r.contained
        ov.consent_asked += r.consent != "unknown"
        ov.consent_refused += r.consent == "refused"
        ov.flagged += bool(r.flags)
        ov.unreviewed += r.pending_review
        for name, tally in r.tools.items():
            t = tools.setdefault(name, ToolFigure(name))
            t.calls, t.failures, t.refusals = (
                t.calls + tally.calls,
                t.failures + tally.failures,
                t.refusals + tally.refusals,
            )
    kept = [r for r in records if r.started_at.astimezone(ZoneInfo(period.zone)).date() in ov.by_day]
    ov.cost_total, ov.costed = _cost(kept)
    for key, label, budget_ms in SLICES:
        values = [ms for r in kept for ms in getattr(r.latency, key)]
        ov.slices.append(
            SliceFigure(key, label, budget_ms, len(values), percentile(values, 50), percentile(values, 95))
        )
    ov.tools = sorted(tools.values(), key=lambda t: (-(t.failures + t.refusals), -t.calls, t.name))
    by_profile: dict[str, list[CallRecord]] = {}
    for r in kept:
        by_profile.setdefault(r.profile, []).append(r)
    ov.profiles = [_profile_row(p, rs) for p, rs in sorted(by_profile.items())]
    return ov


__all__ = ["OUTCOME_STYLE", "PERIODS", "SLICES", "Overview", "Period", "overview"]
