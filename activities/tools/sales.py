"""Outbound lead qualification: qualify the lead, book a meeting, call back at the lead's time."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from activities.business import AlreadyTaken, BusinessSystem
from activities.tools.base import Tool, ToolError, ToolInput, ToolOutput, WriteBackInput
from activities.tools.clinic import TIME_PATTERN
from switchboard.cadence import allowed_at, spoken
from switchboard.calendar import AU_TELEMARKETING, Hours
from switchboard.messages import ReplyInput

SCHEDULE_CALLBACK = "schedule_callback"


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


class CallbackInput(ToolInput):
    when: str = Field(
        min_length=2,
        max_length=200,
        description='the moment the lead wants to be rung back, in their words, e.g. "tomorrow after 3". Ask: "When would suit you better?"',
    )
    # Set by the call's workflow, never by the model (hidden from its schema): the workflow's clock
    # (under time skipping it is not the wall clock), the lead's zone and the hours they may be called.
    now: SkipJsonSchema[dt.datetime | None] = None
    timezone: SkipJsonSchema[str] = "Australia/Sydney"
    hours: SkipJsonSchema[Hours | None] = None


class CallbackOutput(ToolOutput):
    at: dt.datetime  # UTC, within the calling hours
    moved: bool  # the lead's own time was outside them


def schedule_callback(_biz: BusinessSystem, _key: str, args: CallbackInput) -> CallbackOutput:
    """The lead's words as a moment (the same reading as a text reply), moved into the calling
    hours if need be, and read back. The call's workflow then tells the cadence."""
    from activities.replies import understand  # dateparser: loaded by the worker that runs it only

    now = args.now or dt.datetime.now(dt.UTC)
    hours = args.hours or AU_TELEMARKETING
    meaning = understand(ReplyInput(text=args.when, now=now, timezone=args.timezone, hours=hours))
    if meaning.kind not in ("call_at", "call_now"):
        raise ToolError('that is not a time: ask which day and time suit them, e.g. "tomorrow after 3"')
    at, moved = allowed_at(max(meaning.at or now, now), hours, args.timezone)
    say = f"I'll call you back {spoken(at, args.timezone)}."
    if moved:
        say += " That's the earliest time we're allowed to call."
    return CallbackOutput(at=at, moved=moved, say=say)


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
    Tool(
        SCHEDULE_CALLBACK,
        "Ring the lead back later when they are busy now: moves the next attempt to the moment"
        " they name and reads it back.",
        CallbackInput,
        schedule_callback,
    ),
)
