"""The messages of the call workflows: one model in and one out of every workflow, activity,
signal and Update. New fields always get defaults, so histories of calls in flight replay."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchboard.cadence import Cadence, ReplyKind
from switchboard.calendar import AU_TELEMARKETING, Hours
from switchboard.costs import TokenUsage
from switchboard.models import (
    AgentProfile,
    CallSummary,
    Consent,
    Delivery,
    LatencySlices,
    Lead,
    Outcome,
    ToolCall,
    ToolResult,
    Turn,
)


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallStatus(StrEnum):
    """The states a call goes through, kept in the ``CallStatus`` search attribute."""

    CONNECTING = "connecting"
    DISCLOSURE = "disclosure"
    CONVERSATION = "conversation"
    WRAP_UP = "wrap_up"
    ARCHIVED = "archived"


class EndReason(StrEnum):
    CALLER_HUNG_UP = "caller_hung_up"
    AGENT_ENDED = "agent_ended"
    TRANSFER = "transfer"
    MAX_LENGTH = "max_length"
    STREAM_ERROR = "stream_error"
    CANCELLED = "cancelled"


# -- signals ---------------------------------------------------------------------------------


class StreamAttached(_Msg):
    """The voice worker that holds the call's media stream, so the workflow can run there."""

    host: str
    stream_sid: str
    call_sid: str | None = None
    # When the stream started on that host: the first stream's start is the call's clock zero
    # for its recording segments (a resumed stream's segments are placed after it).
    started_at: datetime | None = None


class TurnBatch(_Msg):
    turns: list[Turn]
    # The latency slices measured since the previous batch (they ride with the turns: no signal of
    # their own); ``None`` when there are none, which keeps the usual batch small.
    latency: LatencySlices | None = None


class TelephonyEvent(_Msg):
    """A status or answering-machine callback from the telephony provider."""

    call_sid: str
    status: str = Field(
        description="queued, ringing, in-progress, completed, busy, no-answer, failed, canceled"
    )
    answered_by: str | None = None
    duration_s: int | None = None


class ToolRejected(_Msg):
    """A tool call the Update validator refused (refusals write no history of their own)."""

    call: ToolCall
    reason: str


class TransferReady(_Msg):
    """The agent has said its hand-over line; the caller can be transferred now."""

    at_ms: int = 0


class TransferProgress(_Msg):
    """A warm transfer's progress from the telephony provider: the person answered and heard the
    whisper (``whisper``), or the dialled leg ended (``result``, with Twilio's ``DialCallStatus``)."""

    step: Literal["whisper", "result"]
    dial_status: str = ""
    call_sid: str = ""


class Handover(_Msg):
    """What the person who takes a transfer hears first, and what the caller hears if nobody does."""

    note: str
    unanswered_line: str


# -- Updates ---------------------------------------------------------------------------------


class SupervisorAction(_Msg):
    """What a supervisor does to a live call from the dashboard; each one is an Update in the history."""

    kind: Literal["whisper", "take_over", "end_call", "approve", "reject"]
    text: str = Field(default="", max_length=2000, description="The whisper, or the hand-over note.")
    tool_call_id: str | None = None
    to_number: str | None = Field(default=None, description="Take over to this number (else the profile's).")
    supervisor: str = Field(default="", max_length=120)


class SupervisorResult(_Msg):
    accepted: bool
    detail: str = ""


class ConsentAnswer(_Msg):
    granted: bool
    said: str = ""
    tool_call_id: str | None = None
    over_disclosure: bool = Field(
        default=False, description="What the caller said was spoken over the disclosure, while it played."
    )


class ToolCallRequest(_Msg):
    call: ToolCall
    cancelled: bool = Field(default=False, description="The response that made the call was interrupted.")


# -- activities ------------------------------------------------------------------------------


class ResumeContext(_Msg):
    """What a conversation resumed on another voice host starts from: the workflow's record of the
    call so far (the dead host's memory is gone). Results are placed after the first
    ``result_after_turns[i]`` turns, the order the workflow heard them in."""

    attempt: int = 1
    turns: list[Turn] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    result_after_turns: list[int] = Field(default_factory=list)
    consent: Consent | None = None
    pending: list[ToolCall] = Field(default_factory=list)  # asked for, no result yet (held for approval)
    line: str = "Sorry, the line dropped for a moment."  # said first, verbatim


class ConverseInput(_Msg):
    call_id: str
    profile: AgentProfile
    opening_line: str | None = None
    resume: ResumeContext | None = None  # the call goes on here after its voice host was lost
    recording_epoch: datetime | None = None  # the call's clock zero (its first stream's start)


class ConverseResult(_Msg):
    end_reason: EndReason
    latency: LatencySlices = Field(default_factory=LatencySlices)
    recording_path: str | None = None
    duration_s: float = 0.0
    frames_in: int = 0
    frames_out: int = 0
    malformed_frames: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)  # every Realtime response.done of the call


class ToolInvocation(_Msg):
    call_id: str
    tool: str
    arguments: dict[str, Any]
    idempotency_key: str
    tool_call_id: str


class DoNotCallCheck(_Msg):
    phone: str


class DialInput(_Msg):
    call_id: str
    to_number: str
    status_callback_workflow: str = Field(description="The workflow that receives the status callbacks.")
    machine_detection: bool = True
    timeout_s: int = 25


class DialResult(_Msg):
    call_sid: str
    status: str


class CallbackPolicy(_Msg):
    """How an outbound callback is attempted; defaults follow the usual telemarketing practice."""

    profile: str = "lead_qualification"
    max_attempts: int = 3
    retry_after_s: list[int] = Field(default_factory=lambda: [120, 600, 1800])
    hours: Hours = Field(default_factory=lambda: AU_TELEMARKETING, description="When the lead may be called.")
    # Set (by the form function, from the profile): the cadence (texts, replies, reschedules);
    # None: the plain retries above (callbacks started before cadences).
    cadence: Cadence | None = None


class CallbackRequest(_Msg):
    lead: Lead
    policy: CallbackPolicy = Field(default_factory=CallbackPolicy)


class CallbackAttempt(_Msg):
    call_id: str
    outcome: Outcome
    at: datetime
    dialled_at: datetime | None = None


class CadenceEvent(_Msg):
    """One step of a cadence, for the audit and the next call's context: an attempt, a text sent
    (and its delivery), a reply and what it meant, a reschedule, the opt-out, the end."""

    kind: Literal["attempt", "text", "text_status", "reply", "reschedule", "note", "opt_out", "end"]
    at: datetime
    detail: str = ""  # a text's or reply's words live here: payloads only (encrypted), never logs
    due: datetime | None = None  # a reschedule's new time


class CallbackOutcome(_Msg):
    lead_id: str
    outcome: Outcome | None
    attempts: list[CallbackAttempt] = Field(default_factory=list)
    do_not_call: bool = False
    events: list[CadenceEvent] = Field(default_factory=list)
    opted_out: bool = False
    next_attempt_at: datetime | None = None
    next_attempt_why: str = ""


class LeadReply(_Msg):
    """A text from the lead (the SMS function's signal), or a time asked for on a call."""

    text: str = Field(max_length=1600)
    message_sid: str = Field(default="", max_length=64)
    source: Literal["sms", "call"] = "sms"
    at: datetime | None = None  # a time already understood (a call's schedule_callback), UTC


class TextStatus(_Msg):
    """A sent text's status callback (queued, sent, delivered, undelivered, failed)."""

    message_sid: str = Field(max_length=64)
    status: str = Field(max_length=32)


class SmsInput(_Msg):
    to_number: str
    body: str = Field(max_length=1600)
    key: str = Field(description="Idempotency: one text per key, however often the activity runs.")
    status_callback_workflow: str = ""


class SmsResult(_Msg):
    message_sid: str
    status: str


class ReplyInput(_Msg):
    text: str
    now: datetime
    timezone: str
    hours: Hours = Field(default_factory=lambda: AU_TELEMARKETING)


class ReplyMeaning(_Msg):
    kind: ReplyKind
    at: datetime | None = None  # call_at: when the lead asked (UTC), before the hours are applied


class HangupInput(_Msg):
    call_sid: str


class RealtimeSession(_Msg):
    """The agent's Realtime session changed during the call (the audit shows each): ``dropped``
    (socket lost, expired), ``attempt_failed`` (one new session could not be had),
    ``reconnected`` (a new session has the conversation), ``rolled_over``
    (replaced before its cap at a quiet moment), ``gave_up`` (no new session: a person takes over)."""

    kind: Literal["dropped", "attempt_failed", "reconnected", "rolled_over", "gave_up"]
    at_ms: int = 0
    attempt: int = 0
    reason: str = ""
    gap_ms: float | None = None


class TransferInput(_Msg):
    call_sid: str
    to_number: str
    note: str = ""
    # Set: a warm transfer. The person who answers hears the note (a whisper fetched from the call's
    # workflow) before the caller is bridged, and the dial's result is reported back to it.
    workflow_id: str = ""
    timeout_s: int = 20
    say: str = ""  # spoken to the caller first (<Say>): why they are being put through


class ArchiveInput(_Msg):
    call_id: str
    recording_path: str
    profile: str
    consent: bool
    duration_s: float
    started_at: datetime


class ArchiveResult(_Msg):
    key: str | None
    bytes: int = 0
    deleted_local: bool = False
    note: str = ""


class SummariseInput(_Msg):
    call_id: str
    profile: AgentProfile
    outcome: Outcome
    transcript: list[Turn]
    tool_results: list[ToolResult]
    escalation_note: str | None = None
    # What the call cost is priced from (the summary carries the cost).
    usage: TokenUsage = Field(default_factory=TokenUsage)
    call_seconds: float = 0.0
    direction: Literal["inbound", "outbound", ""] = ""


class DeliverInput(_Msg):
    summary: CallSummary
    delivery: Delivery
    recording_key: str | None = None


class DeliveryResult(_Msg):
    channel: str
    message_id: str | None = None
    recipients: list[str] = Field(default_factory=list)


# -- queries ---------------------------------------------------------------------------------


class ConversationCommand(_Msg):
    """What the workflow asks the live conversation to do; pushed to the voice worker that holds it
    (``deliver_command``). ``seq`` numbers a call's commands: delivery is idempotent by it."""

    seq: int
    kind: str = Field(description="say_and_end: speak ``line`` verbatim, then end the call")
    line: str = ""
    reason: str = ""


class CommandDelivery(_Msg):
    call_id: str
    command: ConversationCommand


class CallView(_Msg):
    call_id: str
    profile: str
    status: CallStatus
    direction: str = ""
    caller: str = Field(default="", description="The other party's number, masked.")
    started_at: datetime | None = None
    pending_approvals: list[ToolCall] = Field(default_factory=list)
    whispers: int = 0
    consent: Consent | None = None
    turns: int = 0
    tool_calls: int = 0
    escalation: str | None = None
    outcome: Outcome | None = None
    reconnecting: bool = False  # the agent's Realtime session dropped and a new one is being set up
    latency: LatencySlices = Field(default_factory=LatencySlices)  # measured so far, live


# -- resuming a call on another voice host (POST /twilio/resume asks the workflow) -------------


class ResumeRequest(_Msg):
    """Twilio ran the ``<Redirect>`` after ``</Connect>``: the call's stream ended."""

    call_sid: str = ""


class ResumeDecision(_Msg):
    """What the call does next: a new stream (``stream``), ``hangup``, or ``transfer`` to a person
    after ``say`` (no voice host could take it, or it was lost too many times)."""

    action: Literal["stream", "hangup", "transfer"]
    attempt: int = 0
    reason: str = ""
    say: str = ""
    to_number: str = ""
