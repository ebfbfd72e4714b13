"""Opening hours, public holidays and "when may we act": pure functions, safe inside workflows.

Everything here is deterministic: the holiday data files are read once, at import, and the
functions only do arithmetic on the datetimes they are given (``workflow.now()`` in a workflow).
Time zones are passed as IANA names and turned into ``ZoneInfo`` here, so that a workflow that
imports this module under ``workflow.unsafe.imports_passed_through()`` gets real tzinfo objects
rather than the sandbox's restricted proxies.

Two presets cover the jobs in the issues:

- ``AU_TELEMARKETING``: when an outbound call may be placed (the Australian telemarketing
  standard: weekdays 9:00-20:00, Saturday 9:00-17:00, never on Sunday or a national holiday).
- ``business_hours()``: a firm's office hours (weekdays 9:00-17:00 by default), used to find
  the next business morning for after-hours intake.

Example::

    hours = business_hours()
    due = next_business_morning(workflow.now(), "Australia/Sydney", hours)   # aware, UTC
    open_at = next_open(now, AU_TELEMARKETING, lead.timezone)

If the holiday data changes while workflows are sleeping on timers computed from it, guard the
new behaviour with ``workflow.patched()`` in the workflow (the timer already in the history wins).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = (MON, TUE, WED, THU, FRI)
_DATA = Path(__file__).with_name("holidays")
_SEARCH_DAYS = 400  # more than a year: any real rule set opens again within it


def _load_holidays() -> dict[str, dict[date, str]]:
    regions: dict[str, dict[date, str]] = {}
    for path in sorted(_DATA.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        days = regions.setdefault(doc["region"], {})
        for entries in doc["years"].values():
            for entry in entries:
                days[date.fromisoformat(entry["date"])] = entry["name"]
    return regions


_HOLIDAYS = _load_holidays()


def holiday_regions() -> list[str]:
    """The regions with holiday data (file names under ``switchboard/holidays``)."""
    return sorted(_HOLIDAYS)


def covered_years(region: str) -> list[int]:
    """The years the region's data lists; dates in other years have no holidays."""
    return sorted({d.year for d in _HOLIDAYS[region]})


def holidays(region: str, year: int) -> dict[date, str]:
    """The region's public holidays in ``year``, date → name, in date order."""
    return {d: name for d, name in sorted(_HOLIDAYS[region].items()) if d.year == year}


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``ZoneInfoNotFoundError`` if unknown)."""
    return ZoneInfo(name)


class DayHours(BaseModel):
    """One weekday's opening window, ``open`` inclusive, ``close`` exclusive (local wall time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: int = Field(ge=MON, le=SUN, description="0 = Monday … 6 = Sunday")
    open: time
    close: time

    @model_validator(mode="after")
    def _ordered(self) -> DayHours:
        if self.close <= self.open:
            raise ValueError("close must be after open")
        if self.open.tzinfo is not None or self.close.tzinfo is not None:
            raise ValueError("opening times are local wall times, without a zone")
        return self


class Hours(BaseModel):
    """A rule set: an opening window per weekday (absent weekdays are closed), public holidays
    from the listed regions' data, and any extra closed dates (state holidays, office closures)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    days: tuple[DayHours, ...]
    holiday_regions: tuple[str, ...] = ("AU",)
    closed_dates: tuple[date, ...] = ()

    @field_validator("days")
    @classmethod
    def _one_window_per_day(cls, days: tuple[DayHours, ...]) -> tuple[DayHours, ...]:
        seen = [d.weekday for d in days]
        if len(seen) != len(set(seen)):
            raise ValueError("one opening window per weekday")
        return days

    @field_validator("holiday_regions")
    @classmethod
    def _known_regions(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in regions if r not in _HOLIDAYS]
        if unknown:
            raise ValueError(f"no holiday data for {unknown}; known: {holiday_regions()}")
        return regions

    def window(self, day: date) -> DayHours | None:
        """The opening window on ``day`` (a local date), or None when closed all day."""
        if self.is_holiday(day):
            return None
        return next((d for d in self.days if d.weekday == day.weekday()), None)

    def is_holiday(self, day: date) -> bool:
        return day in self.closed_dates or any(day in _HOLIDAYS[r] for r in self.holiday_regions)

    def is_business_day(self, day: date) -> bool:
        return self.window(day) is not None


def _week(open_: time, close: time, weekdays: tuple[int, ...]) -> tuple[DayHours, ...]:
    return tuple(DayHours(weekday=d, open=open_, close=close) for d in weekdays)


AU_TELEMARKETING = Hours(
    name="au_telemarketing",
    days=(*_week(time(9), time(20), WEEKDAYS), DayHours(weekday=SAT, open=time(9), close=time(17))),
    holiday_regions=("AU",),
)


ALWAYS = Hours(
    name="always", days=_week(time(0), time.max, (MON, TUE, WED, THU, FRI, SAT, SUN)), holiday_regions=()
)
"""No restriction: for a local stack or a demo at any hour (never the default in production)."""

PRESETS: dict[str, Hours] = {"au_telemarketing": AU_TELEMARKETING, "always": ALWAYS}


def business_hours(
    open_: time = time(9),
    close: time = time(17),
    *,
    weekdays: tuple[int, ...] = WEEKDAYS,
    holiday_regions: tuple[str, ...] = ("AU",),
    closed_dates: tuple[date, ...] = (),
) -> Hours:
    """A firm's office hours: the same window on each of ``weekdays``, closed on holidays."""
    return Hours(
        name="business",
        days=_week(open_, close, weekdays),
        holiday_regions=holiday_regions,
        closed_dates=closed_dates,
    )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required (workflow.now() is UTC)")
    return moment


def _at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """``wall`` o'clock on ``day`` in ``tz``, as UTC. Python's fold=0 rule: a wall time that a DST
    change skips moves forward by the gap (2:30 → 3:30); a repeated one is its first occurrence."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def is_open(moment: datetime, hours: Hours, tz: str) -> bool:
    """Whether ``moment`` falls inside ``hours`` in the zone ``tz``."""
    local = _aware(moment).astimezone(zone(tz))
    window = hours.window(local.date())
    return window is not None and window.open <= local.time() < window.close


def next_open(now: datetime, hours: Hours, tz: str) -> datetime:
    """The first instant at or after ``now`` when ``hours`` allow acting, in UTC.

    Returns ``now`` itself (in UTC) when already open; otherwise the next opening time, which is
    always on a whole minute. Raises ``ValueError`` if nothing opens within a year.
    """
    tzinfo = zone(tz)
    now_utc = _aware(now).astimezone(UTC)
    if is_open(now_utc, hours, tz):
        return now_utc
    today = now_utc.astimezone(tzinfo).date()
    for offset in range(_SEARCH_DAYS):
        day = today + timedelta(days=offset)
        window = hours.window(day)
        if window is None:
            continue
        opens = _at(day, window.open, tzinfo)
        if opens >= now_utc:
            return opens
    raise ValueError(f"{hours.name} never opens within {_SEARCH_DAYS} days of {now_utc.isoformat()}")


def next_business_morning(now: datetime, tz: str, hours: Hours, at: time = time(8, 0)) -> datetime:
    """``at`` o'clock on the next business day of ``hours`` in ``tz`` that is still ahead, in UTC.

    A Friday-night call → Monday 8:00; with Monday a public holiday → Tuesday 8:00; a call at
    3:00 on a Tuesday → that Tuesday 8:00; exactly 8:00 on a business day → ``now``.
    """
    tzinfo = zone(tz)
    now_utc = _aware(now).astimezone(UTC)
    today = now_utc.astimezone(tzinfo).date()
    for offset in range(_SEARCH_DAYS):
        day = today + timedelta(days=offset)
        if hours.is_business_day(day):
            morning = _at(day, at, tzinfo)
            if morning >= now_utc:
                return morning
    raise ValueError(f"{hours.name} has no business day within {_SEARCH_DAYS} days")


def delivery_due(received: datetime, tz: str, hours: Hours, at: time = time(8, 0)) -> datetime:
    """When an after-hours message should reach the office, in UTC.

    Between ``at`` and closing time on a business day, someone is there: at once (``received``).
    Otherwise the next business morning at ``at``.
    """
    received_utc = _aware(received).astimezone(UTC)
    local = received_utc.astimezone(zone(tz))
    window = hours.window(local.date())
    if window is not None and at <= local.time() < window.close:
        return received_utc
    return next_business_morning(received_utc, tz, hours, at)


__all__ = [
    "AU_TELEMARKETING",
    "FRI",
    "MON",
    "SAT",
    "SUN",
    "THU",
    "TUE",
    "WED",
    "WEEKDAYS",
    "DayHours",
    "Hours",
    "business_hours",
    "covered_years",
    "delivery_due",
    "holiday_regions",
    "holidays",
    "is_open",
    "next_business_morning",
    "next_open",
    "zone",
]
