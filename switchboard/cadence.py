"""An outbound profile's cadence: which calls, how far apart, when to text, when to give up.

Pure data and arithmetic, safe inside workflows (``OutboundCallbackWorkflow`` imports it passed
through). The default is the usual speed-to-lead practice: call now; unanswered or voicemail →
leave the voicemail message and send a text; call again after 2 hours and on the next business
morning; stop after 3 days (outcome ``unreachable``). Every attempt still waits for the calling
hours in the lead's zone and re-checks do-not-call; texts keep their own hours.

What a lead's reply means is decided in two halves: the words (opt-out, "call me now") here, the
time ("tomorrow after 3") by ``activities/replies.py`` with ``dateparser``, outside the workflow.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from switchboard.calendar import AU_TELEMARKETING, Hours, next_business_morning, next_open, zone


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CadenceStep(_Model):
    """When a follow-up call is due, counted from the previous attempt's end: ``after`` a delay,
    or on the ``next_business_morning`` (the calling hours' next business day at ``at``)."""

    kind: Literal["after", "next_business_morning"] = "after"
    after_s: int = Field(default=0, ge=0)
    at: time = time(9)

    def due(self, last: datetime, hours: Hours, tz: str) -> datetime:
        if self.kind == "after":
            return last + timedelta(seconds=self.after_s)
        return next_business_morning(last + timedelta(minutes=1), tz, hours, self.at)

    def describe(self) -> str:
        if self.kind == "after":
            hours, rest = divmod(self.after_s, 3600)
            return (
                f"{hours} h after the last attempt"
                if not rest
                else f"{self.after_s} s after the last attempt"
            )
        return f"next business morning at {self.at.strftime('%H:%M')}"


class Cadence(_Model):
    """One profile's follow-up plan. ``follow_ups`` are the calls after the first (made at once);
    a text follows each unanswered attempt whose number (1-based) is in ``text_after_attempts``."""

    follow_ups: tuple[CadenceStep, ...] = (
        CadenceStep(kind="after", after_s=2 * 3600),
        CadenceStep(kind="next_business_morning", at=time(9)),
    )
    text_after_attempts: tuple[int, ...] = (1,)
    stop_after_s: int = Field(default=3 * 86400, gt=0)
    text_hours: Hours = AU_TELEMARKETING
    missed_text: str = (
        "Hi {first_name}, it's {business} about your enquiry. Sorry we missed you! Reply with a good "
        "time to call (e.g. 'tomorrow after 3') or 'call me now'."
    )
    opt_out_line: str = "Reply STOP to opt out."
    opted_out_text: str = "You're unsubscribed from {business}: we won't call or text again."
    moved_text: str = "We can't call at that time, so we'll call you {when} instead. Reply with another time if that doesn't suit."
    business: str = "us"

    @property
    def attempts(self) -> int:
        return 1 + len(self.follow_ups)


DEFAULT_CADENCE = Cadence()

# The opt-out words carriers and the standards recognise (the whole message, any case).
OPT_OUT_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt out",
        "opt-out",
        "remove me",
        "revoke",
    }
)
_CALL_NOW = re.compile(
    r"^(?:please\s+)?(?:call|ring|phone)(?:\s+me)?\s+(?:now|right now|asap|straight away|back now)\b"
)
_CLEAN = re.compile(r"[^\w\s'-]+")

ReplyKind = Literal["opt_out", "call_now", "call_at", "note"]


def words_of(text: str) -> str:
    """The reply in lower case, punctuation and extra spaces gone."""
    return " ".join(_CLEAN.sub(" ", text.lower()).split())


def keyword_meaning(text: str) -> ReplyKind | None:
    """``opt_out`` or ``call_now`` when the words say so; None when a time has to be looked for."""
    words = words_of(text)
    if words in OPT_OUT_WORDS or (words.split()[:1] == ["stop"] and len(words.split()) <= 3):
        return "opt_out"
    if _CALL_NOW.match(words) or words in {"now", "call now", "call me", "call me please"}:
        return "call_now"
    return None


def spoken(at: datetime, tz: str) -> str:
    """A moment as a text or the agent says it, in the lead's zone: "on Tuesday 8 December at 3:00 pm"."""
    local = at.astimezone(zone(tz))
    return local.strftime("on %A %-d %B at ") + local.strftime("%-I:%M %p").lower()


def allowed_at(wanted: datetime, hours: Hours, tz: str) -> tuple[datetime, bool]:
    """The first instant at or after ``wanted`` the hours allow, and whether it moved."""
    at = next_open(wanted, hours, tz)
    return at, at != wanted


__all__ = [
    "DEFAULT_CADENCE",
    "OPT_OUT_WORDS",
    "Cadence",
    "CadenceStep",
    "ReplyKind",
    "allowed_at",
    "keyword_meaning",
    "spoken",
    "words_of",
]
