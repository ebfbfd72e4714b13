"""A finished call as a picture: who spoke when on two lanes over the recording's waveform, with
markers for the disclosure, consent, tools, barge-ins, hand-overs and reconnects.

Everything is placed on the media stream's clock, which is the recording's clock (``voice/recorder.py``
writes sample 0 at the stream's first timestamp), so a position is also a seek time. Turns carry
stream times; realtime session changes carry ``at_ms``. Tool calls, consent and escalations are
workflow events with wall-clock times: they are placed relative to the ``stream_attached`` signal,
which the voice worker sends as the stream starts (a few tens of milliseconds late at most).

Pure functions over a ``CallOutcome``, the audit ``Entry`` list and a waveform envelope: the
template only draws what this computes (SVG in a 1000-wide view box).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from switchboard.audit import Entry
from switchboard.budgets import first_audio_grade
from switchboard.models import CallOutcome, Speaker, ToolResult

WIDTH = 1000.0
LEFT = 64.0  # the lanes' labels
RIGHT = 20.0
MARKS_Y, MARKS_H = 4.0, 22.0
CALLER_Y, AGENT_Y, LANE_H = 34.0, 104.0, 56.0
AXIS_Y = 168.0
HEIGHT = 190.0
MIN_TURN_W = 3.0
TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class TurnBox:
    index: int
    speaker: str
    text: str
    start_s: float
    end_s: float
    x: float
    w: float
    y: float
    interrupted: bool
    first_audio_ms: float | None
    grade: str  # ok / amber / red against the first-audio budget
    latency_x: float = 0.0  # the first-audio wait, drawn before the agent's turn
    latency_w: float = 0.0


@dataclass(frozen=True)
class Marker:
    kind: str  # disclosure, consent, tool, barge-in, escalation, realtime
    label: str  # one short line (the symbol's accessible name)
    detail: str  # what hover or focus shows: a tool's result, what the caller said
    at_s: float
    x: float
    state: str = ""  # ok / failed / refused …: colours the symbol


@dataclass
class Picture:
    duration_s: float
    turns: list[TurnBox] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    caller_wave: str = ""  # SVG path data
    agent_wave: str = ""
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    span: float = WIDTH - LEFT - RIGHT
    lanes: dict[str, float] = field(default_factory=lambda: {"caller": CALLER_Y, "agent": AGENT_Y})
    lane_h: float = LANE_H
    marks_y: float = MARKS_Y
    axis_y: float = AXIS_Y

    def count(self, kind: str) -> int:
        return sum(1 for m in self.markers if m.kind == kind)


def clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _epoch_ms(at: datetime) -> float:
    # audit times are naive UTC (protobuf ToDatetime): timestamp() alone would read them as local time
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000.0


def stream_zero_ms(timeline: list[Entry]) -> float | None:
    """The wall-clock time of the stream clock's 0: the stream_attached signal, else the conversation's start."""
    for kind, title in (("signal", "stream_attached"), ("disclosure", "")):
        for e in timeline:
            if e.kind == kind and (not title or e.title == title):
                return _epoch_ms(e.at)
    return None


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> str:
    """A tool's arguments or output as a person reads them: ``key: value`` pairs, not JSON."""
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if k not in ("say", "action") and v not in (None, "")}
        return ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in shown.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "none"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _tool_detail(r: ToolResult) -> str:
    args = f"({_short(_plain(r.arguments), 80)})" if r.arguments else ""
    if r.ok:
        out = _plain(r.output) or _short(str(r.output.get("say", "")))
        return f"{r.name}{args} → {_short(out or 'done')}"
    return f"{r.name}{args} failed: {_short(r.error or _plain(r.output))}"


def build(
    result: CallOutcome,
    timeline: list[Entry],
    envelope: tuple[list[float], list[float]] | None,
    recording_s: float | None,
    text: Any = str,
) -> Picture:
    """The picture of a finished call. ``text`` masks (or not) what people said before it is shown."""
    turns = result.transcript
    ends = [(t.end_ms or t.start_ms) / 1000 for t in turns]
    zero = stream_zero_ms(timeline)

    def at_s(e: Entry) -> float | None:
        return None if zero is None else max(0.0, (_epoch_ms(e.at) - zero) / 1000)

    events = [(e, at_s(e)) for e in timeline]
    last_event = max((s for e, s in events if s is not None and _in_call(e)), default=0.0)
    duration = max(recording_s or 0.0, *ends, last_event, 1.0)
    span = WIDTH - LEFT - RIGHT

    def x(seconds: float) -> float:
        return round(LEFT + span * min(max(seconds, 0.0), duration) / duration, 2)

    pic = Picture(duration_s=duration)
    for i, t in enumerate(turns):
        start, end = t.start_ms / 1000, max(t.start_ms, t.end_ms or t.start_ms) / 1000
        left = x(start)
        width = max(MIN_TURN_W, x(end) - left)
        box_y = CALLER_Y if t.speaker == Speaker.CALLER else AGENT_Y
        lat_x = lat_w = 0.0
        if t.speaker == Speaker.AGENT and t.first_audio_ms is not None:
            lat_x = x(start - t.first_audio_ms / 1000)
            lat_w = max(1.0, left - lat_x)
        pic.turns.append(
            TurnBox(
                index=i,
                speaker=t.speaker.value,
                text=text(t.text),
                start_s=round(start, 3),
                end_s=round(end, 3),
                x=left,
                w=round(width, 2),
                y=box_y,
                interrupted=t.interrupted,
                first_audio_ms=t.first_audio_ms,
                grade=first_audio_grade(t.first_audio_ms),
                latency_x=lat_x,
                latency_w=round(lat_w, 2),
            )
        )
        if t.interrupted:
            pic.markers.append(
                Marker("barge-in", f"agent cut off at {clock(end)}", _short(text(t.text)), end, x(end), "cut")
            )
    if turns and turns[0].speaker == Speaker.AGENT:
        first = turns[0]
        pic.markers.append(
            Marker(
                "disclosure",
                f"disclosure at {clock(first.start_ms / 1000)}",
                _short(text(first.text), 240),
                first.start_ms / 1000,
                x(first.start_ms / 1000),
            )
        )
    pic.markers += _event_markers(result, events, x, text)
    pic.markers.sort(key=lambda m: m.at_s)
    pic.ticks = _ticks(duration, x)
    if envelope is not None and recording_s:
        caller, agent = envelope
        pic.caller_wave = _wave_path(caller, CALLER_Y, recording_s, x)
        pic.agent_wave = _wave_path(agent, AGENT_Y, recording_s, x)
    return pic


def _in_call(e: Entry) -> bool:
    """An event of the conversation itself (not an activity that completes after the stream closed,
    such as the hangup or the transfer): the picture is at least as long as these."""
    return e.kind in ("tool", "consent", "realtime") or e.title.endswith(" requested")


def _tool_times(events: list[tuple[Entry, float | None]]) -> dict[str, list[float]]:
    """When each tool ran, by name, in order: business tools are local activities (``tool`` entries),
    system tools (end_call, escalate) are the Update that asked for them (``… requested``)."""
    times: dict[str, list[float]] = {}
    for e, at in events:
        if at is None:
            continue
        if e.kind == "tool":
            name = e.title.removeprefix("tool ").split(" → ")[0]
        elif e.kind in ("hangup", "escalation") and e.title.endswith(" requested"):
            name = e.title.removesuffix(" requested")
        else:
            continue
        times.setdefault(name, []).append(at)
    return times


def _event_markers(
    result: CallOutcome, events: list[tuple[Entry, float | None]], x: Any, text: Any
) -> list[Marker]:
    markers: list[Marker] = []
    times = _tool_times(events)
    for r in result.tool_results:
        when = times.get(r.name, [])
        if not when:
            continue
        ran = when.pop(0)
        state = ("escalate" if r.name == "escalate" else "ok") if r.ok else "failed"
        label = f"tool {r.name} {'ok' if r.ok else 'failed'} at {clock(ran)}"
        markers.append(Marker("tool", label, text(_tool_detail(r)), ran, x(ran), state))
    for e, at in events:
        if at is None:
            continue
        if e.kind == "consent":
            granted = e.title.endswith("granted")
            said = e.detail.get("said") or ""
            detail = f"the caller said: “{text(said)}”" if said else e.title
            state = "ok" if granted else "refused"
            markers.append(Marker("consent", f"{e.title} at {clock(at)}", detail, at, x(at), state))
        elif e.kind == "escalation" and not e.title.endswith(" requested"):  # the transfer itself
            detail = _short(text(str((e.detail.get("input") or {}).get("note") or e.title)), 240)
            markers.append(Marker("escalation", f"transfer at {clock(at)}", detail, at, x(at), "transfer"))
        elif e.kind == "realtime":
            kind = str(e.detail.get("kind", ""))
            stream_at = e.detail.get("at_ms")
            when_s = stream_at / 1000 if isinstance(stream_at, int | float) and stream_at > 0 else at
            label = f"agent's voice session {kind.replace('_', ' ')} at {clock(when_s)}"
            markers.append(Marker("realtime", label, e.title, when_s, x(when_s), kind))
    return markers


def _ticks(duration: float, x: Any) -> list[tuple[float, str]]:
    step = next((s for s in TICK_STEPS_S if duration / s <= 12), TICK_STEPS_S[-1])
    return [(x(float(s)), clock(s)) for s in range(0, int(duration) + 1, step)]


def _wave_path(levels: list[float], lane_y: float, recording_s: float, x: Any) -> str:
    """A filled, mirrored envelope centred in its lane (levels 0..1, evenly spread over the recording)."""
    if not levels:
        return ""
    mid, half = lane_y + LANE_H / 2, LANE_H / 2 - 2
    n = len(levels)
    top = [f"{x(recording_s * i / n):.1f},{mid - half * v:.1f}" for i, v in enumerate(levels)]
    bottom = [
        f"{x(recording_s * i / n):.1f},{mid + half * v:.1f}" for i, v in reversed(list(enumerate(levels)))
    ]
    return "M" + " L".join(top + bottom) + " Z"
