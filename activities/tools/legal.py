"""After-hours legal intake: a conflict check, and capturing the matter with its urgency."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import Field

from activities.business import BusinessSystem
from activities.tools.base import Tool, ToolInput, ToolOutput, WriteBackInput

MatterType = Literal["criminal", "family", "property", "employment", "commercial", "other"]
URGENT_WORDS = ("arrest", "custody", "injunction", "police", "bail", "eviction", "restraining")


class ConflictInput(ToolInput):
    other_party: str = Field(
        min_length=2,
        max_length=120,
        description='the name of the other side in the matter. Ask: "Who is the other side in your matter?"',
    )


class ConflictOutput(ToolOutput):
    conflict: bool


def check_conflict(biz: BusinessSystem, _key: str, args: ConflictInput) -> ConflictOutput:
    if biz.conflict(args.other_party):
        return ConflictOutput(
            conflict=True,
            say="I'm sorry, the firm may not be able to act for you; a solicitor will call to explain.",
        )
    return ConflictOutput(conflict=False, say="Thanks, there's no conflict with our clients.")


def is_urgent(description: str, court_date: date | None, today: date) -> bool:
    """The firm's rule: a court date within 48 hours, an arrest, an injunction and the like."""
    if court_date is not None and court_date - today <= timedelta(days=2):
        return True
    text = description.lower()
    return any(word in text for word in URGENT_WORDS)


class MatterInput(WriteBackInput):
    matter_type: MatterType = Field(
        description='the kind of legal matter. Ask: "What kind of legal matter do you need help with?"'
    )
    description: str = Field(
        min_length=3,
        max_length=1000,
        description='what happened, in a sentence or two. Ask: "Can you tell me briefly what happened?"',
    )
    name: str = Field(
        min_length=2,
        max_length=80,
        description='the caller\'s full name. Ask: "Can I have your full name, please?"',
    )
    phone: str = Field(
        pattern=r"^\+?\d{8,15}$",
        description='the best phone number to call back, digits only. Ask: "What\'s the best number to call you back on?"',
    )
    court_date: date | None = Field(
        default=None,
        description='the next court date, if any, YYYY-MM-DD. Ask: "When is your next court date?"',
    )


class MatterOutput(ToolOutput):
    matter_id: str
    urgent: bool


def capture_matter(biz: BusinessSystem, key: str, args: MatterInput) -> MatterOutput:
    urgent = is_urgent(args.description, args.court_date, datetime.now().date())
    saved = biz.capture_matter(key, args.model_dump(exclude={"confirmed"}) | {"urgent": urgent})
    when = "as soon as possible" if urgent else "first thing on the next business morning"
    return MatterOutput(
        matter_id=saved["matter_id"],
        urgent=urgent,
        say=f"Thank you. The duty solicitor will call you {when}.",
    )


TOOLS = (
    Tool(
        "check_conflict", "Check the other party against the firm's clients.", ConflictInput, check_conflict
    ),
    Tool(
        "capture_matter",
        "Record the caller's legal matter.",
        MatterInput,
        capture_matter,
        write_back=True,
        records="matters",
    ),
)
