"""Support triage: find the customer, open a ticket."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from activities.business import BusinessSystem
from activities.tools.base import Tool, ToolError, ToolInput, ToolOutput, WriteBackInput


class CustomerInput(ToolInput):
    account: str = Field(
        pattern=r"^\d{6}$",
        description="the customer's six digit account number. Ask: \"What's your six digit account number?\"",
    )


class CustomerOutput(ToolOutput):
    found: bool
    name: str | None = None


def lookup_customer(biz: BusinessSystem, _key: str, args: CustomerInput) -> CustomerOutput:
    found = biz.customer(None, args.account)
    if found is None:
        raise ToolError("I couldn't find that account number")
    return CustomerOutput(found=True, name=found["name"], say="Thanks, I've found your account.")


class TicketInput(WriteBackInput):
    category: Literal["billing", "outage", "technical", "other"] = Field(
        description='what the problem is about. Ask: "Is your problem about billing, an outage, something technical, or something else?"'
    )
    summary: str = Field(
        min_length=3,
        max_length=500,
        description='the problem in a sentence. Ask: "Can you describe the problem in a sentence?"',
    )
    priority: Literal["low", "normal", "high"] = Field(
        description='how urgent it is for the caller. Ask: "How urgent is it for you: low, normal or high?"'
    )


class TicketOutput(ToolOutput):
    ticket_id: str


def create_ticket(biz: BusinessSystem, key: str, args: TicketInput) -> TicketOutput:
    made = biz.create_ticket(key, args.model_dump(exclude={"confirmed"}))
    return TicketOutput(
        ticket_id=made["ticket_id"], say="I've opened a ticket; the team will follow up today."
    )


TOOLS = (
    Tool(
        "lookup_customer",
        "Find the caller's account by its number.",
        CustomerInput,
        lookup_customer,
        records="customers",
    ),
    Tool(
        "create_ticket",
        "Open a support ticket.",
        TicketInput,
        create_ticket,
        write_back=True,
        records="tickets",
    ),
)
