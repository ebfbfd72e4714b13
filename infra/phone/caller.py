"""The simulated caller's mouth and ears, shared by the stream loop and the script performer.

The stream loop owns the clock: every 20 ms tick it takes one frame from the ``Mouth`` and
tells the ``Ears`` whether agent audio played. The performer only queues speech and waits on
what the ears report, so script timing is always on the stream's clock, never wall time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from voice.audio import MULAW_SILENCE


@dataclass
class _Utterance:
    audio: bytes
    label: str
    done: asyncio.Future[None]
    pos: int = 0


@dataclass
class MouthFrame:
    audio: bytes
    started: str | None = None  # label of an utterance whose first frame this is
    ended: str | None = None  # label of an utterance whose last frame this is
    speech_bytes: int = field(default=0)


class Mouth:
    """Queued caller speech, handed out one frame at a time; silence (0xFF) in between."""

    def __init__(self) -> None:
        self._queue: deque[_Utterance] = deque()

    def speak(self, audio: bytes, label: str) -> asyncio.Future[None]:
        """Queue ``audio``; the future resolves once its last frame has been sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not audio:
            done.set_result(None)
        else:
            self._queue.append(_Utterance(audio, label, done))
        return done

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    def frame(self, n: int) -> MouthFrame:
        if not self._queue:
            return MouthFrame(bytes([MULAW_SILENCE]) * n)
        utt = self._queue[0]
        started = utt.label if utt.pos == 0 else None
        chunk = utt.audio[utt.pos : utt.pos + n]
        utt.pos += len(chunk)
        ended = None
        if utt.pos >= len(utt.audio):
            self._queue.popleft()
            ended = utt.label
            if not utt.done.done():
                utt.done.set_result(None)
        return MouthFrame(chunk + bytes([MULAW_SILENCE]) * (n - len(chunk)), started, ended, len(chunk))

    def abandon(self) -> None:
        """The call ended: release anyone waiting on speech that will never be sent."""
        for utt in self._queue:
            if not utt.done.done():
                utt.done.set_result(None)
        self._queue.clear()


class Ears:
    """What the caller notices of the agent: when its audio starts and stops, on the stream clock."""

    def __init__(self) -> None:
        self.now_ms = 0
        self.playing = False
        self.starts = 0  # agent audio onsets so far
        self.last_audio_ms: int | None = None
        self.playing_since: int | None = None  # onset of the agent audio playing now
        self._tick = asyncio.Event()

    def tick(self, t_ms: int, agent_audio: bool) -> None:
        self.now_ms = t_ms
        if agent_audio:
            if not self.playing:
                self.starts += 1
                self.playing_since = t_ms
            self.last_audio_ms = t_ms
        self.playing = agent_audio
        self._tick.set()
        self._tick = asyncio.Event()

    async def until(self, predicate: Callable[[], bool], timeout_ms: int) -> bool:
        """Wait, tick by tick, until ``predicate()``; False after ``timeout_ms`` of stream time."""
        deadline = self.now_ms + timeout_ms
        while not predicate():
            if self.now_ms >= deadline:
                return False
            await self._tick.wait()
        return True

    async def elapse(self, ms: int) -> None:
        end = self.now_ms + ms
        await self.until(lambda: self.now_ms >= end, ms + 1)
