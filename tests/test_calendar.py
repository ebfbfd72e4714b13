"""switchboard.calendar: calling hours, business mornings and the AU holiday data, on fixed dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.easter import easter
from pydantic import ValidationError

from switchboard import calendar
from switchboard.calendar import (
    AU_TELEMARKETING,
    DayHours,
    Hours,
    business_hours,
    delivery_due,
    is_open,
    next_business_morning,
    next_open,
)

SYD = "Australia/Sydney"
PERTH = "Australia/Perth"
FIRM = business_hours()


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, tz: str = SYD) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=calendar.zone(tz))


def in_zone(moment: datetime, tz: str = SYD) -> datetime:
    assert moment.tzinfo is UTC  # every answer is UTC, ready for workflow.sleep arithmetic
    return moment.astimezone(calendar.zone(tz))


# -- the AU holiday data --------------------------------------------------------------------


@pytest.mark.parametrize("year", [2026, 2027])
def test_au_holiday_data_follows_the_national_rules(year: int) -> None:
    days = calendar.holidays("AU", year)
    names = {name: d for d, name in days.items()}
    assert names["New Year's Day"] == date(year, 1, 1)
    assert names["Australia Day"] == date(year, 1, 26)
    assert names["Good Friday"] == easter(year) - timedelta(days=2)
    assert names["Easter Monday"] == easter(year) + timedelta(days=1)
    assert names["Anzac Day"] == date(year, 4, 25)
    mondays = [date(year, 6, d) for d in range(1, 15) if date(year, 6, d).weekday() == calendar.MON]
    assert names["King's Birthday"] == mondays[1]
    assert names["Christmas Day"] == date(year, 12, 25) and names["Boxing Day"] == date(year, 12, 26)
    for d, name in days.items():
        if "substitute" in name:
            assert d.weekday() in (calendar.MON, calendar.TUE)
    assert calendar.covered_years("AU") == [2026, 2027]


def test_weekend_christmas_gets_substitute_days() -> None:
    assert calendar.holidays("AU", 2026)[date(2026, 12, 28)] == "Boxing Day (substitute)"  # Sat 26th
    assert date(2027, 12, 27) in calendar.holidays("AU", 2027)  # Sat 25th
    assert date(2027, 12, 28) in calendar.holidays("AU", 2027)  # Sun 26th
    assert date(2026, 4, 27) not in calendar.holidays("AU", 2026)  # Anzac Day: no national substitute


# -- the telemarketing standard -------------------------------------------------------------


def test_weekday_19_59_is_open_and_20_00_is_not() -> None:
    assert is_open(local(2026, 12, 1, 19, 59), AU_TELEMARKETING, SYD)
    assert not is_open(local(2026, 12, 1, 20, 0), AU_TELEMARKETING, SYD)
    assert next_open(local(2026, 12, 1, 19, 59), AU_TELEMARKETING, SYD) == local(2026, 12, 1, 19, 59)
    assert in_zone(next_open(local(2026, 12, 1, 20, 0), AU_TELEMARKETING, SYD)) == local(2026, 12, 2, 9)


def test_9_00_opens_and_8_59_waits_a_minute() -> None:
    assert is_open(local(2026, 12, 2, 9, 0), AU_TELEMARKETING, SYD)
    assert in_zone(next_open(local(2026, 12, 2, 8, 59), AU_TELEMARKETING, SYD)) == local(2026, 12, 2, 9)


def test_saturday_closes_at_17_and_sunday_is_closed() -> None:
    assert is_open(local(2026, 12, 5, 16, 59), AU_TELEMARKETING, SYD)
    assert not is_open(local(2026, 12, 5, 17, 0), AU_TELEMARKETING, SYD)
    # Saturday 17:00 → Sunday closed → Monday 9:00.
    assert in_zone(next_open(local(2026, 12, 5, 17, 0), AU_TELEMARKETING, SYD)) == local(2026, 12, 7, 9)
    assert not is_open(local(2026, 12, 6, 12, 0), AU_TELEMARKETING, SYD)


def test_public_holidays_are_closed_even_on_saturday() -> None:
    assert not is_open(local(2026, 12, 25, 12), AU_TELEMARKETING, SYD)  # Christmas, a Friday
    # Christmas Eve 20:00 → Christmas → Boxing Day (Sat) → Sunday → substitute Monday → Tuesday 29th.
    assert in_zone(next_open(local(2026, 12, 24, 20), AU_TELEMARKETING, SYD)) == local(2026, 12, 29, 9)
    assert not is_open(local(2026, 4, 25, 10), AU_TELEMARKETING, SYD)  # Anzac Day, a Saturday


def test_the_leads_zone_decides_not_utc() -> None:
    # 11:30 UTC on a Tuesday: 22:30 in Sydney (closed), 19:30 in Perth (open).
    moment = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    assert not is_open(moment, AU_TELEMARKETING, SYD)
    assert is_open(moment, AU_TELEMARKETING, PERTH)
    assert next_open(moment, AU_TELEMARKETING, PERTH) == moment
    assert in_zone(next_open(moment, AU_TELEMARKETING, SYD)) == local(2026, 12, 2, 9)
    with pytest.raises(ValueError, match="aware"):
        is_open(datetime(2026, 12, 1, 11, 30), AU_TELEMARKETING, SYD)


def test_dst_start_and_end_in_sydney() -> None:
    # DST starts Sunday 4 Oct 2026 (2:00 → 3:00, +10 → +11); the next open is Monday 9:00 AEDT.
    opens = next_open(local(2026, 10, 3, 17, 0), AU_TELEMARKETING, SYD)
    assert opens == datetime(2026, 10, 4, 22, 0, tzinfo=UTC)  # 9:00 +11:00
    # DST ends Sunday 4 Apr 2027 (3:00 → 2:00); Saturday evening → Monday 9:00 AEST (+10).
    opens = next_open(local(2027, 4, 3, 18, 0), AU_TELEMARKETING, SYD)
    assert opens == datetime(2027, 4, 4, 23, 0, tzinfo=UTC)
    # 19:59 on the day the clocks went forward still counts as 19:59 local.
    monday = local(2026, 10, 5, 19, 59)
    assert monday.utcoffset() == timedelta(hours=11) and is_open(monday, AU_TELEMARKETING, SYD)


def test_a_wall_time_inside_the_dst_gap_moves_forward() -> None:
    hours = Hours(name="night", days=(DayHours(weekday=calendar.SUN, open=time(2, 30), close=time(4)),))
    opens = next_open(local(2026, 10, 3, 12), hours, SYD)
    assert in_zone(opens).time() == time(3, 30) and in_zone(opens).date() == date(2026, 10, 4)


# -- business mornings ----------------------------------------------------------------------


def test_friday_night_waits_for_monday_8() -> None:
    assert in_zone(next_business_morning(local(2026, 12, 4, 22), SYD, FIRM)) == local(2026, 12, 7, 8)


def test_friday_night_before_a_monday_holiday_waits_for_tuesday_8() -> None:
    # King's Birthday, Monday 14 June 2027.
    assert in_zone(next_business_morning(local(2027, 6, 11, 23), SYD, FIRM)) == local(2027, 6, 15, 8)
    # Easter: Thursday night → Good Friday, weekend, Easter Monday → Tuesday.
    assert in_zone(next_business_morning(local(2027, 3, 25, 21), SYD, FIRM)) == local(2027, 3, 30, 8)


def test_small_hours_wait_for_the_same_mornings_8() -> None:
    assert in_zone(next_business_morning(local(2026, 12, 1, 3), SYD, FIRM)) == local(2026, 12, 1, 8)
    assert next_business_morning(local(2026, 12, 1, 8), SYD, FIRM) == local(2026, 12, 1, 8)
    assert in_zone(next_business_morning(local(2026, 12, 1, 8, 1), SYD, FIRM)) == local(2026, 12, 2, 8)


def test_firm_zone_versus_utc_for_the_morning() -> None:
    # Monday 23:00 UTC is Tuesday 10:00 in Sydney but Tuesday 7:00 in Perth.
    moment = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert in_zone(next_business_morning(moment, PERTH, FIRM), PERTH) == local(2026, 12, 1, 8, tz=PERTH)
    assert in_zone(next_business_morning(moment, SYD, FIRM)) == local(2026, 12, 2, 8)


def test_extra_closed_dates_and_custom_morning() -> None:
    shut = business_hours(closed_dates=(date(2026, 12, 7),))
    friday = local(2026, 12, 4, 22)
    assert in_zone(next_business_morning(friday, SYD, shut, at=time(7, 30))) == local(2026, 12, 8, 7, 30)


def test_delivery_due_is_now_during_office_hours_and_the_morning_otherwise() -> None:
    assert delivery_due(local(2026, 12, 1, 10), SYD, FIRM) == local(2026, 12, 1, 10)
    assert delivery_due(local(2026, 12, 1, 8, 15), SYD, FIRM) == local(2026, 12, 1, 8, 15)
    assert in_zone(delivery_due(local(2026, 12, 1, 17), SYD, FIRM)) == local(2026, 12, 2, 8)
    assert in_zone(delivery_due(local(2026, 12, 1, 2), SYD, FIRM)) == local(2026, 12, 1, 8)
    assert in_zone(delivery_due(local(2026, 12, 5, 11), SYD, FIRM)) == local(2026, 12, 7, 8)  # Saturday


# -- the rule set itself --------------------------------------------------------------------


def test_rule_sets_are_validated_and_round_trip_as_json() -> None:
    with pytest.raises(ValidationError, match="close must be after open"):
        DayHours(weekday=calendar.MON, open=time(17), close=time(9))
    with pytest.raises(ValidationError, match="one opening window per weekday"):
        Hours(name="x", days=(DayHours(weekday=0, open=time(9), close=time(10)),) * 2)
    with pytest.raises(ValidationError, match="no holiday data"):
        business_hours(holiday_regions=("XX",))
    assert Hours.model_validate_json(AU_TELEMARKETING.model_dump_json()) == AU_TELEMARKETING
    closed = Hours(name="never", days=())
    with pytest.raises(ValueError, match="never opens"):
        next_open(local(2026, 12, 1), closed, SYD)
