"""The local business's calendar stays open ahead, keeps real conflicts, and the demo's lead always
finds a free time to ask for, however many times the demo has run on the same ``.local/``."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from activities.business import PRACTITIONERS, AlreadyTaken, SqliteBusiness
from infra.demo import CalendarFull, requested_slot
from infra.realtime_engine import spoken

TODAY = date(2026, 12, 7)  # a Monday


def test_a_full_slot_is_still_refused(tmp_path: Path) -> None:
    biz = SqliteBusiness(tmp_path / "b.sqlite", today=TODAY)
    day = TODAY + timedelta(days=7)
    for n in range(len(PRACTITIONERS)):
        biz.book(f"k{n}", day, "14:00", "lead", "")
    with pytest.raises(AlreadyTaken, match="no free appointment"):
        biz.book("k-late", day, "14:00", "lead", "")


def test_the_calendar_reaches_three_weeks_ahead_of_whenever_it_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    old = SqliteBusiness(path, today=TODAY - timedelta(days=40))
    booked = old.book("old", TODAY - timedelta(days=38), "09:00", "lead", "")
    reopened = SqliteBusiness(path, today=TODAY)
    assert reopened.open_slots(TODAY + timedelta(days=19))  # opened since the file was made (a Saturday)
    assert not reopened.open_slots(TODAY + timedelta(days=21))
    assert reopened.book("old", TODAY, "10:00", "x", "") == booked | {"replayed": True}  # history kept


def test_the_demo_asks_for_a_free_time_on_every_run(tmp_path: Path) -> None:
    biz = SqliteBusiness(tmp_path / "b.sqlite", today=TODAY)
    seen = set()
    for run in range(40):  # forty demos on one .local/: each books what its lead asked for
        day, time_, when = requested_slot(biz, TODAY)
        assert spoken.parse_date(when, TODAY) == day.isoformat(), when
        assert spoken.parse_time(when) == time_, when
        biz.book(f"demo-{run}", day, time_, "lead", "")
        seen.add((day, time_))
    first = requested_slot(SqliteBusiness(tmp_path / "fresh.sqlite", today=TODAY), TODAY)
    assert first[0] == TODAY + timedelta(days=7) and first[1] == "14:00"  # next Monday at two, as before
    assert first[2] == "on Monday at two in the afternoon"


def test_beyond_a_week_the_lead_names_the_date(tmp_path: Path) -> None:
    biz = SqliteBusiness(tmp_path / "b.sqlite", today=TODAY)
    for n in range(1, 8):
        day = TODAY + timedelta(days=n)
        for slot in biz.open_slots(day):
            biz.book(f"{day}-{slot['time']}-{slot['practitioner']}", day, slot["time"], "x", "")
    day, time_, when = requested_slot(biz, TODAY)
    assert (
        day == TODAY + timedelta(days=8)
        and time_ == "14:00"
        and when == "on Tuesday the 15th of December at two in the afternoon"
    )
    assert spoken.parse_date(when, TODAY) == day.isoformat()


def test_a_full_calendar_says_so(tmp_path: Path) -> None:
    biz = SqliteBusiness(tmp_path / "b.sqlite", today=TODAY, days=1)
    with pytest.raises(CalendarFull):
        requested_slot(biz, TODAY)
