"""What the bridge asks its runner to do: the actions :class:`voice.bridge.Bridge` returns, in order.

Tiny frozen dataclasses (the bridge makes one or two per audio frame, so they must be cheap);
the runner in ``conversation.py`` performs each through a table keyed by type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from switchboard.models import ToolCall, Turn
from voice.twilio_media import OutboundMessage

__all__ = [
    "Action",
    "AppendAudio",
    "CloseStream",
    "DtmfReceived",
    "EmitTurn",
    "Notify",
    "SendRealtime",
    "SendTwilio",
    "ToolCallRequested",
    "Transfer",
]


@dataclass(frozen=True, slots=True)
class SendTwilio:
    message: OutboundMessage


@dataclass(frozen=True, slots=True)
class AppendAudio:
    """Caller audio for ``input_audio_buffer.append`` (base64 μ-law, forwarded unchanged)."""

    payload: str


@dataclass(frozen=True, slots=True)
class SendRealtime:
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EmitTurn:
    turn: Turn


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    """Run this tool. ``cancelled``: its response was cut off by barge-in; do not commit writes."""

    call: ToolCall
    cancelled: bool


@dataclass(frozen=True, slots=True)
class CloseStream:
    reason: str


@dataclass(frozen=True, slots=True)
class Transfer:
    to: str | None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True, slots=True)
class Notify:
    """Something worth recording that needs no action (``opening_line_done``, ``realtime_error``…)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


Action = (
    SendTwilio | AppendAudio | SendRealtime | EmitTurn | ToolCallRequested | CloseStream | Transfer
    | DtmfReceived | Notify
)  # fmt: skip
