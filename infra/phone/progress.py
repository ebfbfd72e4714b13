"""Call progress as Twilio reports it: status callback parameters and the AMD verdict (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from infra.phone.callee import Callee
from infra.phone.calls import API_VERSION, Call, CallOptions, rfc2822

# Which StatusCallbackEvent subscribes to which CallStatus.
EVENT_OF_STATUS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}


def call_params(call: Call) -> dict[str, str]:
    """The parameters Twilio sends with every request about a call (webhooks and callbacks)."""
    return {
        "AccountSid": call.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call.sid,
        "CallStatus": call.status.value,
        "Called": call.to,
        "Caller": call.from_,
        "Direction": call.direction,
        "From": call.from_,
        "To": call.to,
    }


def status_params(call: Call, call_status: str, sequence: int) -> dict[str, str]:
    params = call_params(call)
    params.update(
        {
            "CallStatus": call_status,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822(datetime.now(UTC)) or "",
        }
    )
    if call.is_final:
        params["CallDuration"] = str(call.duration_s)
        params["Duration"] = str(-(-call.duration_s // 60))  # billed minutes
    if call.answered_by is not None and call.options.machine_detection and not call.options.async_amd:
        params["AnsweredBy"] = call.answered_by
    return params


def wants(options: CallOptions, call_status: str) -> bool:
    """Final statuses are always reported; the others only when subscribed."""
    event = EVENT_OF_STATUS.get(call_status)
    return event is None or event in options.status_callback_events


@dataclass(frozen=True)
class AmdVerdict:
    answered_by: str
    after_ms: int  # since answer: MachineDetectionDuration


def amd_verdict(callee: Callee, options: CallOptions, greeting_ms: int, beep_ms: int = 400) -> AmdVerdict:
    """What Twilio's answering machine detection concludes, and when.

    ``Enable`` reports a machine as soon as it is recognised (``machine_start``, a few seconds
    into the greeting); ``DetectMessageEnd`` waits for the beep (``machine_end_beep``).
    """
    if not callee.is_machine:
        return AmdVerdict("human", callee.amd_human_ms)
    if (options.machine_detection or "").lower() == "detectmessageend":
        return AmdVerdict("machine_end_beep", greeting_ms + beep_ms + 100)
    return AmdVerdict("machine_start", min(greeting_ms, 2500))
