"""What the bridge keeps about the agent's audio as it plays, and the base64 arithmetic of μ-law."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from switchboard.models import ToolCall

__all__ = ["PlayedItem", "ResponseState", "b64_len", "silence_b64"]


@dataclass
class PlayedItem:
    """One agent audio item as played to the caller."""

    item_id: str
    response_id: str
    start_ms: int
    sent_bytes: int = 0
    heard_ms: int = 0
    pending_marks: int = 0
    interrupted: bool = False
    transcript: str | None = None
    emitted: bool = False

    @property
    def sent_ms(self) -> int:
        return self.sent_bytes // 8


@dataclass
class ResponseState:
    response_id: str
    purpose: str = ""  # "opening" | "goodbye" | ""
    done: bool = False
    cancelled: bool = False
    items: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    open_tool_calls: int = 0
    played: bool = False


def b64_len(payload: str) -> int:
    """Bytes a (padded) base64 string decodes to."""
    return len(payload) * 3 // 4 - payload.count("=", -2)


_SILENCE: dict[int, str] = {}


def silence_b64(ms: int) -> str:
    """μ-law silence of ``ms`` milliseconds, base64 (cached: gaps are few and of few lengths)."""
    if ms not in _SILENCE:
        _SILENCE[ms] = base64.b64encode(b"\xff" * (ms * 8)).decode()
    return _SILENCE[ms]
