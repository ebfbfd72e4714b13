"""Outbound lead qualification: qualify the lead, book a meeting."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from activities.business import AlreadyTaken, BusinessSystem
from activities.tools.base import Tool, ToolError, ToolInput, ToolOutput, WriteBackInput
from activities.tools.clinic import TIME_PATTERN


class QualifyInput(ToolInput):
    need: str = Field(
        min_length=2,
        max_length=300,
        description='product or service they are interested in, in their words. Ask: "What are you interested in, panels or a battery?"',
    )
    timeframe: Literal["this week", "this month", "later"] = Field(
        description='time frame to start the project. Ask: "When would you like to start: this week, this month or later?"'
    )


class QualifyOutput(ToolOutput):
    qualified: bool


def qualify_lead(_biz: BusinessSystem, _key: str, args: QualifyInput) -> QualifyOutput:
    hot = args.timeframe != "later"
    say = (
        "Great, let's find a time for a call with a specialist." if hot else "No problem, we'll send details."
    )
    return QualifyOutput(qualified=hot, say=say)


class MeetingInput(WriteBackInput):
    date: dt.date = Field(
        description='the meeting day, as YYYY-MM-DD. Ask: "Which day suits you for a call with a specialist?"'
    )
    time: str = Field(
        pattern=TIME_PATTERN, description='the meeting time, HH:MM. Ask: "What time suits you?"'
    )


class MeetingOutput(ToolOutput):
    meeting_id: str


def book_meeting(biz: BusinessSystem, key: str, args: MeetingInput) -> MeetingOutput:
    try:
        booked = biz.book(key, args.date, args.time, "lead", "")
    except AlreadyTaken as exc:
        raise ToolError(str(exc)) from exc
    day = args.date.strftime("%A %-d %B")
    return MeetingOutput(meeting_id=booked["booking_id"], say=f"Booked: {day} at {args.time}.")


TOOLS = (
    Tool(
        "qualify_lead",
        "Record what the lead wants (for example solar panels or a battery) and when they want to start:"
        " this week, this month or later.",
        QualifyInput,
        qualify_lead,
    ),
    Tool(
        "book_meeting",
        "Book a call with a specialist on a day and at a time the lead chooses.",
        MeetingInput,
        book_meeting,
        write_back=True,
    ),
)
