"""The domain models every part shares: workflows, activities, the voice worker and the Lambdas.

All are pydantic v2 models carried by ``temporalio.contrib.pydantic.pydantic_data_converter``.
New fields always get defaults, so calls in flight keep replaying.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from switchboard.cadence import Cadence
from switchboard.calendar import Hours, business_hours
from switchboard.costs import CallCost, TokenUsage


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Lead(_Model):
    """A person who asked to be called back (from a web form)."""

    submission_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=120)
    phone: str = Field(description="E.164, normalised at the edge.")
    reason: str = Field(default="", max_length=1000)
    timezone: str = Field(default="Australia/Sydney", description="IANA zone of the lead.")
    consent_to_contact: bool = False


class CallRequest(_Model):
    """What a call's workflow is started with."""

    call_id: str
    direction: Direction
    profile: str = Field(description="Name of the agent profile that serves the call.")
    to_number: str
    from_number: str
    lead: Lead | None = None
    call_sid: str | None = Field(default=None, description="The telephony provider's call id, once known.")
    context: str = Field(
        default="",
        description="What the agent knows before the call: a cadence's earlier attempts, texts, replies.",
    )
    hours: Hours | None = Field(
        default=None, description="Outbound: when the lead may be called (a call back's time keeps to them)."
    )


class TurnDetection(_Model):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    interrupt_response: bool = True
    create_response: bool = True


class ToolSpec(_Model):
    """A function the agent may call; ``parameters`` is its JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    confirm_arguments: list[str] = Field(
        default_factory=list, description="Arguments read back to the caller and confirmed before the call."
    )
    write_back: bool = False
    requires_approval: bool = False


class Guardrails(_Model):
    max_call_seconds: int = 600
    escalation_number: str = Field(description="The human who takes over, E.164.")
    require_recording_consent: bool = True
    on_consent_refused: Literal["continue_unrecorded", "end_call"] = "continue_unrecorded"
    transfer_ring_seconds: int = Field(default=20, ge=5, le=60, description="How long a transfer rings.")
    realtime_lost_line: str = Field(
        default="Sorry, I'm having trouble with this line. I'm putting you through to a member of our team now.",
        description="Said (by the phone network) before a person takes a call whose agent lost its voice connection.",
    )
    # When nobody takes the transfer, the caller hears this and the team gets a callback task (the
    # call's summary, marked for a callback, with the hand-over note).
    transfer_unanswered_line: str = "Sorry, nobody could take your call just now. Someone will call you back as soon as they can. Goodbye."


class Delivery(_Model):
    """Where a finished call's summary goes."""

    email: list[str] = Field(default_factory=list)
    webhook_url: str | None = None


class AfterHours(_Model):
    """An after-hours profile's summaries go to the office at the next business morning
    (IntakeDeliveryWorkflow): the firm's zone and hours, and who hears of urgent or late matters."""

    timezone: str = "Australia/Sydney"
    hours: Hours = Field(default_factory=business_hours)
    deliver_at: time = time(8, 0)
    on_call: list[str] = Field(default_factory=list, description="Emailed at once for urgent matters.")
    escalation: list[str] = Field(default_factory=list, description="Emailed when delivery is late.")
    escalate_after: timedelta = timedelta(hours=1)


class ErasurePolicy(_Model):
    """What ``switchboard forget`` may do to the business records this profile's tools keep about a
    caller. Histories and recordings are always erased; a business may have to keep its own records
    (a law practice its matter files), and then says why."""

    keep_business_records: bool = False
    reason: str = ""

    @model_validator(mode="after")
    def _kept_for_a_reason(self) -> ErasurePolicy:
        if self.keep_business_records and not self.reason.strip():
            raise ValueError("a profile that keeps business records on erasure must say why (reason)")
        return self


class AgentProfile(_Model):
    """One agent, one clear job: its instructions, voice, tools and guardrails."""

    name: str
    job: str
    instructions: str
    voice: str = "marin"
    disclosure: str = Field(description="The first utterance: AI identification and the consent question.")
    goodbye: str = "Goodbye!"  # short: the caller hears the hang-up within 1.5 s of their goodbye
    wrap_up: str = "We're nearly out of time, so I'll wrap up here. Someone will follow up with you. Goodbye."
    voicemail_message: str | None = Field(
        default=None, description="Left on an answering machine (outbound); None hangs up without a message."
    )
    turn_detection: TurnDetection = Field(default_factory=TurnDetection)
    transcription_prompt: str | None = Field(
        default=None,
        max_length=1000,
        description="What the input transcription should expect: names, numbers and how they are said "
        "(the Realtime session's audio.input.transcription.prompt). Score it with the evals before "
        "shipping it: a prompt can hurt as well as help, and example numbers in it get copied.",
    )
    tools: list[ToolSpec] = Field(min_length=1, max_length=8)
    guardrails: Guardrails
    summary_schema: str = Field(description="Name of the summary schema for this job.")
    delivery: Delivery = Field(default_factory=Delivery)
    after_hours: AfterHours | None = None
    erasure: ErasurePolicy = Field(default_factory=ErasurePolicy)
    # Outbound: the follow-up plan (switchboard/cadence.py), and the first words of a call that
    # follows earlier attempts or the lead's own request (instead of ``disclosure``).
    cadence: Cadence | None = None
    callback_disclosure: str | None = None

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


class Consent(_Model):
    recording: bool
    said: str = Field(default="", description="What the caller answered, as transcribed.")
    at: datetime | None = None
    over_disclosure: bool = Field(
        default=False, description="The answer was spoken over the disclosure, while it was still playing."
    )


class ToolCall(_Model):
    call_id: str = Field(description="The Realtime function call id.")
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    response_id: str | None = None
    idempotency_key: str | None = None


class ToolResult(_Model):
    call_id: str
    name: str
    ok: bool
    arguments: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    elapsed_ms: float | None = None
    # Ran while the call's consent question was unanswered (the workflow's validator refuses
    # that for a business tool; the evals check it never happens).
    before_consent: bool = False


class Speaker(StrEnum):
    CALLER = "caller"
    AGENT = "agent"


class Turn(_Model):
    speaker: Speaker
    text: str
    start_ms: int = Field(ge=0, description="On the media stream's clock.")
    end_ms: int | None = None
    interrupted: bool = False
    over_disclosure: bool = Field(
        default=False,
        description="A caller turn begun while the disclosure was still playing (answered after it).",
    )
    # An agent turn that answered the caller: caller stops speaking → its first audio sent (the
    # voice worker's measure, ``voice/latency.py``), so the live view can show it beside the turn.
    first_audio_ms: float | None = None


class Outcome(StrEnum):
    COMPLETED = "completed"
    ESCALATED = "escalated"
    CONSENT_REFUSED = "consent_refused"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    CALLER_HUNG_UP = "caller_hung_up"
    DROPPED = "dropped"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    TRANSFER_UNANSWERED = "transfer_unanswered"  # escalated, nobody answered: a callback is owed
    UNREACHABLE = "unreachable"  # a cadence's every attempt went unanswered until it stopped
    OPTED_OUT = "opted_out"  # the lead asked not to be contacted (a STOP reply): the cadence ended
    CALLBACK_REQUESTED = "callback_requested"  # answered, and the lead asked to be called at another time


class LatencySlices(_Model):
    """The seed's four latency slices, per call, in milliseconds (medians over the call's events)."""

    turn_to_first_audio_ms: list[float] = Field(default_factory=list)
    barge_in_to_clear_ms: list[float] = Field(default_factory=list)
    tool_round_trip_ms: list[float] = Field(default_factory=list)
    end_intent_to_hangup_ms: list[float] = Field(default_factory=list)
    # Of that, the part after the caller heard the last of the goodbye (its final mark came back):
    # what Switchboard adds to hanging up, without the goodbye's own playing time.
    goodbye_heard_to_hangup_ms: list[float] = Field(default_factory=list)
    # A Realtime session lost (dropped, expired): the failure → the agent's first audio after it.
    realtime_gap_ms: list[float] = Field(default_factory=list)

    def extend(self, more: LatencySlices) -> None:
        """Add ``more``'s measurements after these."""
        for name in type(self).model_fields:
            getattr(self, name).extend(getattr(more, name))

    def empty(self) -> bool:
        return not any(getattr(self, name) for name in type(self).model_fields)


class CallSummary(_Model):
    """The structured summary every job produces; profiles extend it with their fields."""

    call_id: str
    profile: str
    outcome: Outcome
    headline: str = ""
    fields: dict[str, Any] = Field(default_factory=dict)
    cost: CallCost | None = None  # what the call cost (the Realtime tokens and the phone minutes)


class CallOutcome(_Model):
    """What a call's workflow returns."""

    call_id: str
    outcome: Outcome
    consent: Consent | None = None
    tool_results: list[ToolResult] = Field(default_factory=list)
    transcript: list[Turn] = Field(default_factory=list)
    summary: CallSummary | None = None
    recording_key: str | None = None
    latency: LatencySlices = Field(default_factory=LatencySlices)
    duration_s: float = 0.0
    # The agent's Realtime session changes, in order: dropped / reconnected / rolled_over / gave_up.
    realtime_events: list[str] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)  # the Realtime tokens, all sessions summed
    cost: CallCost | None = None
    resumes: int = 0  # times the conversation went on from a new stream after its voice host was lost
