"""What the caller heard across the streams of one call: the silence a lost voice worker left.

Reads the phone network's call result (``GET /calls/<sid>``): each stream's timeline has the agent's
audio starts and stops on that stream's clock, and the call's events say when (on the call's
clock) each stream started connecting. A stream that ended while the agent was playing stops the
audio there (the caller hears nothing more of it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["resume_delays_ms", "resume_gaps_ms"]


def _agent_audio(stream: dict[str, Any], offset_ms: int) -> list[tuple[int, int]]:
    """The stream's agent audio as (start, end) on the call's clock."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for event in stream["summary"].get("timeline", []):
        if event["kind"] == "agent_audio_start":
            start = event["t_ms"]
        elif event["kind"] == "agent_audio_stop" and start is not None:
            spans.append((offset_ms + start, offset_ms + event["t_ms"]))
            start = None
    if start is not None:  # still playing when the stream ended
        spans.append((offset_ms + start, offset_ms + stream["summary"].get("stream_ms", start)))
    return spans


def resume_gaps_ms(call: dict[str, Any]) -> list[int]:
    """For each stream after the first: ms from the agent's last audio on the streams before it to
    its first agent audio (the gap the caller heard). A stream with no agent audio adds nothing."""
    starts = [e["at_ms"] for e in call["events"] if e["kind"] == "stream_connecting"]
    streams = call["streams"]
    gaps: list[int] = []
    last: int | None = None
    for stream, offset in zip(streams, starts, strict=False):
        spans = _agent_audio(stream, offset)
        if last is not None and spans:
            gaps.append(spans[0][0] - last)
        if spans:
            last = spans[-1][1]
    return gaps


def resume_delays_ms(call: dict[str, Any]) -> list[int]:
    """For each stream after the first: ms from the end of the stream before it (the drop) to its
    first agent audio (the part of the gap that the resume itself takes)."""
    starts = [e["at_ms"] for e in call["events"] if e["kind"] == "stream_connecting"]
    ends = [e["at_ms"] for e in call["events"] if e["kind"] == "stream_ended"]
    delays: list[int] = []
    for i, (stream, offset) in enumerate(zip(call["streams"], starts, strict=False)):
        spans = _agent_audio(stream, offset)
        if i and spans and i - 1 < len(ends):
            delays.append(spans[0][0] - ends[i - 1])
    return delays
