"""The seed's latency budget, in one place, and how a call's measured slices grade against it.

What a caller feels, per event: caller stops → the agent's first audio under 700 ms, a tool's round
trip under 400 ms, an interruption → the agent silent under 200 ms, the goodbye heard → hung up
under 1.5 s. The live view colours a call by :func:`grade`: amber once anything went over its
budget, red once a turn's first audio went over 1.5× its budget or an interruption was not cleared
in time (a caller talking over an agent that does not stop is the worst of them).
"""

from __future__ import annotations

from typing import Literal

from switchboard.models import LatencySlices

__all__ = [
    "BARGE_IN_TO_CLEAR_MS",
    "FIRST_AUDIO_MS",
    "HANGUP_MS",
    "RED_FACTOR",
    "TOOL_ROUND_TRIP_MS",
    "Grade",
    "first_audio_grade",
    "grade",
]

FIRST_AUDIO_MS = 700.0  # caller stops speaking → the agent's first audio
TOOL_ROUND_TRIP_MS = 400.0  # the model asks for a tool → its result is back with the model
BARGE_IN_TO_CLEAR_MS = 200.0  # the caller interrupts → the agent's audio cleared
HANGUP_MS = 1500.0  # the last of the goodbye heard → the call hung up
RED_FACTOR = 1.5  # a turn this many times over its budget is red, not amber

Grade = Literal["ok", "amber", "red"]


def first_audio_grade(ms: float | None) -> Grade:
    """One turn's first-audio time against the budget (``ok`` when there is none)."""
    if ms is None or ms <= FIRST_AUDIO_MS:
        return "ok"
    return "red" if ms > FIRST_AUDIO_MS * RED_FACTOR else "amber"


def grade(slices: LatencySlices) -> Grade:
    """The worst of a call's slices so far: red, amber or ok."""
    first_audio = max(slices.turn_to_first_audio_ms, default=None)
    if first_audio_grade(first_audio) == "red" or any(
        ms > BARGE_IN_TO_CLEAR_MS for ms in slices.barge_in_to_clear_ms
    ):
        return "red"
    over = (
        first_audio_grade(first_audio) == "amber"
        or any(ms > TOOL_ROUND_TRIP_MS for ms in slices.tool_round_trip_ms)
        or any(ms > HANGUP_MS for ms in slices.goodbye_heard_to_hangup_ms)
    )
    return "amber" if over else "ok"
