"""The person on the line: their mouth, ears and script outlive any one media stream of the call.

Twilio keeps the call up when a ``<Connect><Stream>`` ends and the TwiML goes on (a
``<Redirect>`` to a fresh stream after a voice worker died): the caller does not start their
script again. So the performer runs once per call, here, and each ``StreamSession`` attaches to
this party while it lasts. Between streams the caller hears nothing and their clock stands (the
ears tick only with a stream), so a wait for the agent simply waits for the next stream; what
they start saying meanwhile is heard by the next stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from infra.phone import script as s
from infra.phone.caller import Ears, Mouth
from infra.phone.performer import Performer, Speech


class Line(Protocol):
    """What a live stream session offers the caller (``infra.phone.stream.StreamSession``)."""

    async def send_dtmf(self, digit: str) -> None: ...
    def set_noise(self, step: s.Noise | None, speech_dbfs: float) -> None: ...
    def hang_up(self, reason: str) -> None: ...
    def note(self, kind: str, **detail: Any) -> None: ...


class CallerParty:
    """The caller of one call; the performer's ``Line``, forwarded to whichever stream is attached."""

    def __init__(
        self, script: s.CallerScript, speech: Speech | None, on_hangup: Callable[[str], None] | None = None
    ) -> None:
        self.script = script
        self.speech = speech
        self.mouth = Mouth()
        self.ears = Ears()
        self.on_hangup = on_hangup
        self.hung_up: str | None = None  # why the caller hung up, if they did
        self.streams = 0
        self._line: Line | None = None
        self._noise: tuple[s.Noise | None, float] | None = None
        self._task: asyncio.Task[None] | None = None
        self._log: Callable[[str], None] | None = None

    def attach(self, line: Line, on_error: Callable[[str], None]) -> None:
        """A stream carries the call now: the caller's audio goes to it (the script starts with the
        first stream and goes on through the next)."""
        self._line = line
        self.streams += 1
        self._log = on_error
        if self.hung_up is not None:
            line.hang_up(self.hung_up)
            return
        if self._noise is not None:
            line.set_noise(*self._noise)
        if self._task is None:
            self._task = asyncio.create_task(self._perform())

    def detach(self, line: Line) -> None:
        if self._line is line:
            self._line = None

    def close(self) -> None:
        """The call is over: the script stops, and nobody waits on speech that will not be sent."""
        if self._task is not None:
            self._task.cancel()
        self.mouth.abandon()

    async def _perform(self) -> None:
        performer = Performer(self.script, speech=self.speech, mouth=self.mouth, ears=self.ears, line=self)
        try:
            await performer.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken script ends the caller's part, never the network
            if self._log is not None:
                self._log(type(exc).__name__)
            self.note("script_error", error=type(exc).__name__)

    # -- the performer's Line ----------------------------------------------------------------
    async def send_dtmf(self, digit: str) -> None:
        if self._line is not None:
            await self._line.send_dtmf(digit)

    def set_noise(self, step: s.Noise | None, speech_dbfs: float) -> None:
        self._noise = (step, speech_dbfs)
        if self._line is not None:
            self._line.set_noise(step, speech_dbfs)

    def hang_up(self, reason: str) -> None:
        if self.hung_up is None:
            self.hung_up = reason
        if self._line is not None:
            self._line.hang_up(reason)
        elif self.on_hangup is not None:  # between streams: the call itself ends
            self.on_hangup(reason)

    def note(self, kind: str, **detail: Any) -> None:
        if self._line is not None:
            with contextlib.suppress(Exception):
                self._line.note(kind, **detail)
