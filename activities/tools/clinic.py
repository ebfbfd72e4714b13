"""Clinic booking: look up free appointments, book one."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from activities.business import AlreadyTaken, BusinessSystem
from activities.tools.base import Tool, ToolError, ToolInput, ToolOutput, WriteBackInput

TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


class AvailabilityInput(ToolInput):
    date: dt.date = Field(
        description='the day the caller wants, as YYYY-MM-DD. Ask: "Which day would you like?"'
    )
    after_time: str | None = Field(
        default=None,
        pattern=TIME_PATTERN,
        description='earliest time, HH:MM. Ask: "From what time are you free?"',
    )


class AvailabilityOutput(ToolOutput):
    date: dt.date
    times: list[str]


def check_availability(biz: BusinessSystem, _key: str, args: AvailabilityInput) -> AvailabilityOutput:
    times = sorted({s["time"] for s in biz.open_slots(args.date, args.after_time)})
    day = args.date.strftime("%A %-d %B")
    if not times:
        return AvailabilityOutput(date=args.date, times=[], say=f"Sorry, there's nothing free on {day}.")
    shown = ", ".join(times[:3])
    return AvailabilityOutput(
        date=args.date, times=times, say=f"On {day} I have {shown}. Which time suits you?"
    )


class BookingInput(WriteBackInput):
    date: dt.date = Field(
        description='the appointment day, as YYYY-MM-DD. Ask: "Which day would you like to come in?"'
    )
    time: str = Field(
        pattern=TIME_PATTERN, description='the appointment time, HH:MM. Ask: "What time suits you?"'
    )
    name: str = Field(
        min_length=2,
        max_length=80,
        description='the patient\'s full name. Ask: "Can I have your full name, please?"',
    )
    phone: str = Field(
        pattern=r"^\+?\d{8,15}$",
        description="the patient's phone number, digits only. Ask: \"What's the best number to reach you on?\"",
    )


class BookingOutput(ToolOutput):
    booking_id: str
    practitioner: str
    date: dt.date
    time: str


def book_appointment(biz: BusinessSystem, key: str, args: BookingInput) -> BookingOutput:
    try:
        booked = biz.book(key, args.date, args.time, args.name, args.phone)
    except AlreadyTaken as exc:
        raise ToolError(str(exc)) from exc
    day = args.date.strftime("%A %-d %B")
    return BookingOutput(
        booking_id=booked["booking_id"],
        practitioner=booked["practitioner"],
        date=args.date,
        time=args.time,
        say=f"You're booked with {booked['practitioner']} on {day} at {args.time}.",
    )


TOOLS = (
    Tool(
        "check_availability", "Find free appointment times on a day.", AvailabilityInput, check_availability
    ),
    Tool(
        "book_appointment",
        "Book an appointment at a free time.",
        BookingInput,
        book_appointment,
        write_back=True,
        records="bookings",
    ),
)
