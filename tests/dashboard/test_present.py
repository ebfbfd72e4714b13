"""A summary's fields as a person reads them, and times in the business's zone."""

from __future__ import annotations

from datetime import datetime

from dashboard.present import local, summary_items


def test_summary_fields_read_as_labelled_lines_and_names_stay_initials_until_revealed() -> None:
    fields = {
        "booked": True,
        "booking_id": "BK-12",
        "date": "2030-01-07",
        "time": None,
        "name": "Jane Citizen",
        "phone": "0412345678",
        "escalation": "caller wanted a person",
        "transcript_excerpt": ["caller: hi"],
    }
    items = summary_items(fields, revealed=False)
    assert [(i.label, i.value) for i in items] == [
        ("Escalation", "caller wanted a person"),  # first: what a supervisor must see
        ("Booked", "yes"),
        ("Booking reference", "BK-12"),
        ("Date", "Mon 7 Jan 2030"),
        ("Time", "not given"),
        ("Name", "J••• C••••••"),
        ("Phone", "0412•••678"),  # as mask_phone masks everywhere
    ]
    assert [i.key for i in items if i.missing] == ["time"]
    shown = {i.key: i.value for i in summary_items(fields, revealed=True)}
    assert shown["name"] == "Jane Citizen" and shown["phone"] == "0412345678"


def test_times_are_shown_in_the_business_zone() -> None:
    utc = datetime(2030, 1, 6, 22, 30)  # naive: UTC, as the audit and Temporal give it
    assert local(utc, "Australia/Sydney") == "Mon 7 Jan 2030, 09:30"
    assert local("2030-07-06T22:30:00+00:00", "Australia/Sydney", "%H:%M %Z") == "08:30 AEST"
    assert local(None, "Australia/Sydney") == "—"
