"""What a lead's text reply means: opt-out, "call me now", a time to call, or just a note.

The words are read by ``switchboard.cadence.keyword_meaning``; a time is parsed here with
``dateparser`` in the lead's zone, relative to the workflow's clock (``ReplyInput.now``: under
time skipping the workflow's time is not the wall clock). People write times loosely, so the text
is first put in the shape dateparser reads: "tmrw arvo" → "tomorrow 14:00", "after 3" → "15:00",
"Monday morning" → "Monday 09:00". A bare day ("Friday") means that day's opening of the calling
hours. No personal data is logged: replies are payloads (encrypted), never log lines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import dateparser
from temporalio import activity

from switchboard.cadence import keyword_meaning
from switchboard.calendar import next_open, zone
from switchboard.messages import ReplyInput, ReplyMeaning

_PARTS_OF_DAY = {
    "morning": "09:00",
    "arvo": "14:00",
    "afternoon": "14:00",
    "evening": "18:00",
    "tonight": "18:00",
}
_SHORTHAND = {
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmoz": "tomorrow",
    "2moro": "tomorrow",
    "tomoz": "tomorrow",
}
_FILLER = re.compile(
    r"\b(?:please|pls|plz|can you|could you|would you|you can|ok|okay|yes|yeah|sure|thanks|thank you|"
    r"call me|call|ring me|ring|phone me|try me|try|me|back|is good|is best|works|suits|any time|anytime|"
    r"around|about|from|maybe|how about|what about|best)\b"
)
_AFTER_HOUR = re.compile(r"\b(?:after|at|by|before)?\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|a m|p m)?\b")
_RELATIVE = re.compile(r"\bin (?:an?|one|\d+|half an?) (?:hour|hours|hr|hrs|min|mins|minutes)\b")
_CLEAN_TIME = re.compile(r"[^\w\s:'-]+")
_DAY_WORDS = re.compile(r"\b(today|tomorrow|mon|tue|wed|thu|fri|sat|sun)\w*\b")


def _clock(hour: int, minute: int, meridiem: str | None) -> str | None:
    """An hour as people write it: "3" in a call-back means 15:00; "9" means 09:00."""
    if minute > 59 or hour > 23:
        return None
    if meridiem:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if meridiem.replace(" ", "") == "pm" else 0)
    elif 1 <= hour <= 7:  # nobody asks for a 3 am call-back
        hour += 12
    return f"{hour:02d}:{minute:02d}"


def normalise(text: str) -> str:
    """The reply in the shape dateparser reads (see the module docstring)."""
    words = " ".join(_CLEAN_TIME.sub(" ", re.sub(r"(\d)\.(\d\d)\b", r"\1:\2", text.lower())).split())
    for short, full in _SHORTHAND.items():
        words = re.sub(rf"\b{short}\b", full, words)
    if _RELATIVE.search(words):
        return _RELATIVE.search(words).group(0).replace("half an hour", "30 minutes")  # type: ignore[union-attr]
    words = _FILLER.sub(" ", words)
    clock = None
    for match in _AFTER_HOUR.finditer(words):
        clock = _clock(int(match.group(1)), int(match.group(2) or 0), match.group(3))
        if clock:
            words = words[: match.start()] + " " + words[match.end() :]
            break
    for part, at in _PARTS_OF_DAY.items():
        if re.search(rf"\b{part}\b", words):
            words = re.sub(rf"\b{part}\b", " ", words)
            clock = clock or at
    words = re.sub(r"\b(?:on|this|the|next week|after|at|by|before|in the)\b", " ", words)
    words = " ".join(words.split())
    return f"{words} {clock}".strip() if clock else words


def parse_time(text: str, now: datetime, tz: str) -> tuple[datetime, bool] | None:
    """(the moment asked for in UTC, whether a clock time was given), or None when there is none."""
    wanted = normalise(text)
    if not wanted:
        return None
    local_now = now.astimezone(zone(tz))
    parsed = dateparser.parse(
        wanted,
        languages=["en"],
        settings={
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "PREFER_DAY_OF_MONTH": "first",
            "DATE_ORDER": "DMY",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "STRICT_PARSING": False,
        },
    )
    if parsed is None:
        return None
    has_clock = bool(re.search(r"\d{1,2}:\d{2}|minute|hour", wanted))
    local = parsed.replace(tzinfo=zone(tz))
    if not has_clock:  # "Friday": the start of that day (the calling hours open it)
        local = datetime.combine(local.date(), time(0), tzinfo=zone(tz))
    if local < local_now - timedelta(minutes=1):
        if not _DAY_WORDS.search(wanted) and has_clock:  # "at 3" said at 16:00: tomorrow at 3
            local += timedelta(days=1)
        else:
            return None
    return local.astimezone(UTC), has_clock


def understand(reply: ReplyInput) -> ReplyMeaning:
    kind = keyword_meaning(reply.text)
    if kind is not None:
        return ReplyMeaning(kind=kind)
    found = parse_time(reply.text, reply.now, reply.timezone)
    if found is None:
        return ReplyMeaning(kind="note")
    at, has_clock = found
    if not has_clock:
        at = next_open(max(at, reply.now), reply.hours, reply.timezone)
    return ReplyMeaning(kind="call_at", at=max(at, reply.now))


@activity.defn(name="understand_reply")
async def understand_reply(reply: ReplyInput) -> ReplyMeaning:
    return understand(reply)
