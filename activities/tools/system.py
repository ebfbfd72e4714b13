"""The tools every agent has, carried out by the call's workflow itself rather than an activity:
recording consent, ending the call, and handing over to a human."""

from __future__ import annotations

from pydantic import Field

from activities.tools.base import ToolInput

RECORD_CONSENT = "record_consent"
END_CALL = "end_call"
ESCALATE = "escalate"


class RecordConsentInput(ToolInput):
    granted: bool = Field(
        description='true if the caller agreed to the call being recorded, false if not. Ask: "Are you okay with me recording this call?"'
    )


class EndCallInput(ToolInput):
    reason: str = Field(default="done", max_length=200, description="why the call is ending")


class EscalateInput(ToolInput):
    reason: str = Field(
        default="caller asked for a person", max_length=300, description="why a human is needed"
    )


SYSTEM_TOOLS: dict[str, tuple[str, type[ToolInput]]] = {
    RECORD_CONSENT: ("Record the caller's answer to the recording consent question.", RecordConsentInput),
    END_CALL: ("End the call after saying goodbye, when the caller is done.", EndCallInput),
    ESCALATE: (
        "Transfer the caller to a human when they ask for a person or you cannot help.",
        EscalateInput,
    ),
}
