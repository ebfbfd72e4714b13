"""Latency slices on their way to the call's workflow while the call is live.

The meter (:mod:`voice.latency`) hands each slice to ``take`` as it measures it, on the audio path,
so this only appends. The slices wait for the next transcript batch (``TurnBatch.latency``): they
add bytes to signals the call sends anyway, never a signal of their own. The whole set still comes
back at the end in ``ConverseResult.latency``, which the workflow keeps as the final word.

An agent turn is emitted when it has played (or was cut), after its first audio went out, so the
first-audio time waiting at that moment is the one of the answer that turn spoke: :meth:`stamp`
puts it on the turn. A newer measurement replaces one that found no turn (an answer cut before a
word of it was heard); a turn that answered no caller (the opening line, a line the workflow
asked for, a second item of the same answer) gets none. An answer that waited for a tool counts
from the caller's stop too: the wait is what the caller heard.
"""

from __future__ import annotations

from switchboard.models import LatencySlices, Speaker, Turn

__all__ = ["LiveLatency"]

FIRST_AUDIO = "turn_to_first_audio_ms"


class LiveLatency:
    def __init__(self) -> None:
        self._slices = LatencySlices()
        self._first_audio: float | None = None

    def take(self, field: str, ms: float) -> None:
        """A slice the meter just measured (``field`` is a :class:`LatencySlices` field)."""
        if field == FIRST_AUDIO:
            self._first_audio = ms
        series: list[float] | None = getattr(self._slices, field, None)
        if series is not None:
            series.append(ms)

    def stamp(self, turn: Turn) -> Turn:
        """``turn``, with the first-audio time of the answer it spoke if it is that agent turn."""
        if turn.speaker != Speaker.AGENT or self._first_audio is None:
            return turn
        ms, self._first_audio = self._first_audio, None
        return turn.model_copy(update={"first_audio_ms": ms})

    def drain(self) -> LatencySlices | None:
        """The slices measured since the last drain, or ``None`` if there were none."""
        if self._slices.empty():
            return None
        slices, self._slices = self._slices, LatencySlices()
        return slices
