"""What people actually write back to a missed-call text, read in the lead's zone (pure: no server)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from activities.replies import understand
from switchboard.calendar import AU_TELEMARKETING
from switchboard.messages import ReplyInput

SYDNEY = ZoneInfo("Australia/Sydney")
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=SYDNEY)


@pytest.mark.parametrize(
    ("text", "kind", "when"),
    [
        ("tomorrow after 3", "call_at", "Tue 08 15:00"),
        ("Can you call me tomorrow around 10?", "call_at", "Tue 08 10:00"),
        ("tmrw arvo", "call_at", "Tue 08 14:00"),
        ("Monday morning", "call_at", "Mon 14 09:00"),
        ("in an hour", "call_at", "Mon 07 11:00"),
        ("in half an hour", "call_at", "Mon 07 10:30"),
        ("call me at 4:30", "call_at", "Mon 07 16:30"),
        ("Wed 2:30pm", "call_at", "Wed 09 14:30"),
        ("monday 9.30", "call_at", "Mon 14 09:30"),
        ("friday", "call_at", "Fri 11 09:00"),
        ("STOP", "opt_out", ""),
        ("Stop please", "opt_out", ""),
        ("unsubscribe", "opt_out", ""),
        ("call me now", "call_now", ""),
        ("Who is this?", "note", ""),
        ("not interested", "note", ""),
    ],
)
def test_replies_people_write(text: str, kind: str, when: str) -> None:
    meaning = understand(
        ReplyInput(text=text, now=MONDAY_10, timezone="Australia/Sydney", hours=AU_TELEMARKETING)
    )
    assert meaning.kind == kind
    got = meaning.at.astimezone(SYDNEY).strftime("%a %d %H:%M") if meaning.at else ""
    assert got == when
