"""How values read for a person: a summary's fields as labelled lines, times in the business's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from switchboard.calendar import zone
from switchboard.privacy import mask_phone

HIDDEN = {"transcript_excerpt"}  # the conversation is on the page already
NAMES = {"name", "other_party"}  # people's names: initials until revealed
LABELS = {"booking_id": "Booking reference", "matter_id": "Matter reference", "job_id": "Job number"}
LEADING = ("escalation", "callback_requested")


@dataclass(frozen=True)
class Item:
    label: str
    value: str
    missing: bool = False
    key: str = ""


def initials(name: str) -> str:
    return " ".join(w[0] + "•" * (len(w) - 1) for w in name.split() if w)


def _value(key: str, value: Any, revealed: bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(key, v, revealed) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {_value(k, v, revealed)}" for k, v in value.items())
    text = str(value)
    if key == "date":
        try:
            return date.fromisoformat(text).strftime("%a %-d %b %Y")
        except ValueError:
            pass
    if revealed:
        return text
    return initials(text) if key in NAMES else mask_phone(text)


def _label(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def summary_items(fields: dict[str, Any], revealed: bool) -> list[Item]:
    """The profile's summary fields in the schema's order, the escalation first, a missing one said so."""
    keys = [k for k in LEADING if k in fields] + [k for k in fields if k not in LEADING and k not in HIDDEN]
    return [
        Item(_label(k), "not given", True, k)
        if fields[k] is None
        else Item(_label(k), _value(k, fields[k], revealed), key=k)
        for k in keys
    ]


def local(value: datetime | str | None, tz: str, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    """``value`` (naive means UTC, as the audit gives it; a string is ISO 8601) in the zone ``tz``."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(zone(tz)).strftime(fmt)


def zone_label(tz: str, at: datetime | None = None) -> str:
    """The zone's abbreviation now (AEDT, AEST…), for column headings."""
    return (at or datetime.now(UTC)).astimezone(zone(tz)).tzname() or tz
