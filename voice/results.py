"""What a conversation ends with: its reason and figures (``voice.conversation`` returns it; the
converse activity and the worker's metrics read it). A module of its own so that the metrics,
which the media server imports, need not import the conversation runner back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from switchboard.costs import TokenUsage
from switchboard.models import LatencySlices

EndReason = Literal["caller_hung_up", "agent_ended", "transfer", "max_length", "stream_error", "cancelled"]


class ConversationResult(BaseModel):
    call_id: str
    end_reason: EndReason
    latency: LatencySlices = Field(default_factory=LatencySlices)
    recording_path: str | None = None
    frames_in: int = 0
    frames_out: int = 0
    malformed_frames: int = 0
    realtime_errors: int = 0
    dropped_deltas: int = 0
    transfer_to: str | None = None
    duration_s: float = 0.0
    error: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
