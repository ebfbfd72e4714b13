"""Per-call latency meter: the four slices a caller feels, measured where the voice worker sees them.

* caller stops speaking → first agent audio sent: ``speech_stopped`` arrival → first media to Twilio
* barge-in → clear: ``speech_started`` arrival → Twilio ``clear`` written
* tool round trip: ``function_call_arguments.done`` arrival → its ``function_call_output`` written
* a lost Realtime session → the agent's first audio on the next one (``realtime_gap_ms``)
* end intent → hang-up: the tool result that ends the call → the media stream closed; and, of
  that, the part after the last of the goodbye was heard (its mark came back from Twilio)

Times are ``time.perf_counter_ns()`` values passed in by the runner (arrival stamps taken when
the frame came off the socket, not when the loop got round to it), so this module has no clock.
Each measurement also goes to ``on_slice(field, ms)`` when one is given (the voice worker's
histograms, :mod:`voice.metrics`): a few calls per turn, never per frame.
"""

from __future__ import annotations

from collections.abc import Callable

from switchboard.models import LatencySlices

__all__ = ["LatencyMeter"]


def _ms(start_ns: int, end_ns: int) -> float:
    return round((end_ns - start_ns) / 1e6, 3)


class LatencyMeter:
    def __init__(self, on_slice: Callable[[str, float], None] | None = None) -> None:
        self.slices = LatencySlices()
        self._on_slice = on_slice
        self._turn_end: int | None = None
        self._tools: dict[str, int] = {}
        self._end_intent: int | None = None
        self._heard: int = 0
        self._gap: int | None = None

    def _add(self, field: str, ms: float) -> None:
        getattr(self.slices, field).append(ms)
        if self._on_slice is not None:
            self._on_slice(field, ms)

    def speech_stopped(self, t_ns: int) -> None:
        self._turn_end = t_ns

    def speech_started(self) -> None:
        """The caller resumed: the pause was not the end of the turn."""
        self._turn_end = None

    def gap_started(self, t_ns: int) -> None:
        """The Realtime session was lost at ``t_ns``; the next agent audio ends the gap."""
        self._gap = t_ns

    def agent_audio_sent(self, t_ns: int) -> None:
        if self._gap is not None:
            self._add("realtime_gap_ms", _ms(self._gap, t_ns))
            self._gap = None
        if self._turn_end is not None:
            self._add("turn_to_first_audio_ms", _ms(self._turn_end, t_ns))
            self._turn_end = None

    def clear_sent(self, speech_started_ns: int, t_ns: int) -> None:
        self._add("barge_in_to_clear_ms", _ms(speech_started_ns, t_ns))

    def tool_call_received(self, call_id: str, t_ns: int) -> None:
        self._tools.setdefault(call_id, t_ns)

    def tool_output_sent(self, call_id: str, t_ns: int) -> None:
        start = self._tools.pop(call_id, None)
        if start is not None:
            self._add("tool_round_trip_ms", _ms(start, t_ns))

    def end_intent(self, t_ns: int) -> None:
        if self._end_intent is None:
            self._end_intent = t_ns

    def audio_heard(self, t_ns: int) -> None:
        """Twilio echoed a mark: the agent audio before it has played."""
        self._heard = t_ns

    def stream_closed(self, t_ns: int) -> None:
        if self._end_intent is not None:
            self._add("end_intent_to_hangup_ms", _ms(self._end_intent, t_ns))
            if self._heard > self._end_intent:
                self._add("goodbye_heard_to_hangup_ms", _ms(self._heard, t_ns))
            self._end_intent = None
