"""What a simulated caller heard and said, on the media stream's clock.

Both audio tracks grow by one 20 ms frame per tick (silence where nothing played or was said),
so they line up sample for sample with the stream's ``media.timestamp``s. The timeline records
agent audio onset/offset (as played), clears, mark echoes, the caller's speech, DTMF and hangups.

Barge-in is measured the way a caller feels it: from the onset of the caller's own speech to
the end of the last agent frame it heard before the agent went quiet (a ``clear``, or the
agent's audio simply running out).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from voice.audio import BYTES_PER_MS, MULAW_RATE, MULAW_SILENCE, mulaw_decode, write_wav


@dataclass
class TimelineEvent:
    t_ms: int
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class BargeIn:
    onset_ms: int
    last_agent_frame_ms: int | None = None
    cleared: bool = False

    @property
    def latency_ms(self) -> int | None:
        return None if self.last_agent_frame_ms is None else self.last_agent_frame_ms - self.onset_ms


class Recorder:
    def __init__(self) -> None:
        self.timeline: list[TimelineEvent] = []
        self.heard = bytearray()
        self.said = bytearray()
        self.agent_bytes_played = 0
        self.barge_ins: list[BargeIn] = []
        self.marks_echoed = 0
        self.clears = 0
        self._agent_playing = False
        self._last_agent_frame_end: int | None = None
        self._open_barge_in: BargeIn | None = None

    def event(self, t_ms: int, kind: str, **detail: Any) -> None:
        self.timeline.append(TimelineEvent(t_ms, kind, detail))

    @property
    def agent_playing(self) -> bool:
        return self._agent_playing

    def frame(self, t_ms: int, heard: bytes, said: bytes, frame_bytes: int) -> None:
        """One tick: ``heard`` is the agent audio played in this frame (may be short or empty)."""
        self.heard += heard + bytes([MULAW_SILENCE]) * (frame_bytes - len(heard))
        self.said += said
        self.agent_bytes_played += len(heard)
        if heard:
            self._last_agent_frame_end = t_ms + len(heard) // BYTES_PER_MS
            if not self._agent_playing:
                self._agent_playing = True
                self.event(t_ms, "agent_audio_start")
        elif self._agent_playing:
            self._agent_stopped(t_ms, cleared=False)

    def _agent_stopped(self, t_ms: int, *, cleared: bool) -> None:
        self._agent_playing = False
        end = self._last_agent_frame_end if self._last_agent_frame_end is not None else t_ms
        self.event(end, "agent_audio_stop", cleared=cleared)
        if self._open_barge_in is not None:
            self._open_barge_in.last_agent_frame_ms = end
            self._open_barge_in.cleared = cleared
            self._open_barge_in = None

    def clear(self, t_ms: int, dropped_bytes: int, marks: list[str]) -> None:
        self.clears += 1
        self.event(t_ms, "clear", dropped_ms=dropped_bytes // BYTES_PER_MS, marks_flushed=len(marks))
        if self._agent_playing:
            self._agent_stopped(t_ms, cleared=True)

    def mark_echoed(self, t_ms: int, name: str, *, flushed: bool) -> None:
        self.marks_echoed += 1
        self.event(t_ms, "mark_echoed", name=name, flushed=flushed)

    def caller_speech(self, t_ms: int, *, start: bool, label: str = "") -> None:
        self.event(t_ms, "caller_speech_start" if start else "caller_speech_stop", step=label)
        if start and self._agent_playing and self._open_barge_in is None:
            self._open_barge_in = BargeIn(onset_ms=t_ms)
            self.barge_ins.append(self._open_barge_in)

    @property
    def heard_ms(self) -> int:
        return self.agent_bytes_played // BYTES_PER_MS

    def write_wav(self, path: Path) -> Path:
        """A two-channel WAV: left what the caller heard, right what it said."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, [mulaw_decode(bytes(self.heard)), mulaw_decode(bytes(self.said))], MULAW_RATE)
        return path

    def release(self) -> None:
        """Drop the audio once it is on disk: a finished call keeps only its summary in memory."""
        self.heard = bytearray()
        self.said = bytearray()

    def summary(self) -> dict[str, Any]:
        return {
            "timeline": [asdict(e) for e in self.timeline],
            "heard_audio_ms": self.heard_ms,
            "stream_ms": len(self.said) // BYTES_PER_MS,
            "marks_echoed": self.marks_echoed,
            "clears": self.clears,
            "barge_ins": [
                {
                    "onset_ms": b.onset_ms,
                    "last_agent_frame_ms": b.last_agent_frame_ms,
                    "latency_ms": b.latency_ms,
                    "cleared": b.cleared,
                }
                for b in self.barge_ins
            ],
        }
