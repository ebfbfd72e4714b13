"""Plays a caller script against the stream: speech, pauses, turn taking, barge-in, DTMF, noise.

The performer never touches the socket: speech goes into the ``Mouth``, waits read the ``Ears``,
and DTMF, noise and hangup go through the small ``Line`` interface the stream session provides.
Each step kind has one handler, dispatched from a table.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np

from infra.phone import script as s
from infra.phone.caller import Ears, Mouth
from voice.audio import MULAW_RATE, mulaw_decode, mulaw_encode, read_wav, rms_dbfs, to_mulaw_8k

log = logging.getLogger("infra.phone.performer")

_DEFAULT_SPEECH_DBFS = -20.0  # the reference speech level for ``snr_db`` before anything was said


class Speech(Protocol):
    async def mulaw(self, text: str, *, length_scale: float | None = None) -> bytes: ...


class Line(Protocol):
    """What the performer may do to the call besides speaking."""

    async def send_dtmf(self, digit: str) -> None: ...
    def set_noise(self, step: s.Noise | None, speech_dbfs: float) -> None: ...
    def hang_up(self, reason: str) -> None: ...
    def note(self, kind: str, **detail: Any) -> None: ...


def tone(freq_hz: float, ms: int, level_dbfs: float) -> bytes:
    t = np.arange(ms * MULAW_RATE // 1000) / MULAW_RATE
    amplitude = 32768.0 * 10 ** (level_dbfs / 20.0) * np.sqrt(2)
    return mulaw_encode(np.round(amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16))


def speaking_scale(script: s.CallerScript, step: s.Say) -> float | None:
    return step.length_scale if step.length_scale is not None else script.length_scale


async def prefetch(script: s.CallerScript, speech: Speech | None) -> None:
    """Synthesize every line before the call is answered, as a caller knows what they will say.

    The TTS client caches by (text, length_scale), so the performer's own requests are instant
    and a ``barge_in_after_ms`` is never late because of synthesis.
    """
    if speech is None:
        return
    for step in script.steps:
        if isinstance(step, s.Say):
            await speech.mulaw(step.text, length_scale=speaking_scale(script, step))


class Performer:
    def __init__(
        self, script: s.CallerScript, *, speech: Speech | None, mouth: Mouth, ears: Ears, line: Line
    ) -> None:
        self.script = script
        self._speech = speech
        self._mouth = mouth
        self._ears = ears
        self._line = line
        self._turn_base = 0  # agent onsets counted when the caller last stopped speaking
        self._speech_dbfs = _DEFAULT_SPEECH_DBFS
        self._noise: s.Noise | None = script.noise
        self._handlers: dict[str, Callable[[Any], Awaitable[bool]]] = {
            "say": self._say,
            "play": self._play,
            "tone": self._tone,
            "pause": self._pause,
            "wait_for_agent": self._wait_for_agent,
            "dtmf": self._dtmf,
            "noise": self._set_noise,
            "hangup": self._hangup,
            "reply": self._text_only,
        }

    async def run(self) -> None:
        """Play every step; a handler returning False ends the script (the caller hung up)."""
        if self._noise is not None:
            self._line.set_noise(self._noise, self._speech_dbfs)
        for index, step in enumerate(self.script.steps):
            self._line.note("step", index=index, step=step.kind)
            if not await self._handlers[step.kind](step):
                return
        if self.script.after_steps == "hangup":
            self._line.hang_up("script_end")

    async def _utter(
        self, audio: bytes, label: str, barge_in_after_ms: int | None, agent_timeout_ms: int
    ) -> bool:
        if barge_in_after_ms is not None:
            started = await self._ears.until(lambda: self._ears.playing, agent_timeout_ms)
            if not started:
                self._line.note("barge_in_no_agent_audio", step=label)
            else:
                # Counted from the agent's onset, not from when this step noticed it.
                at = (self._ears.playing_since or self._ears.now_ms) + barge_in_after_ms
                if self._ears.now_ms > at:
                    self._line.note("barge_in_late", by_ms=self._ears.now_ms - at)
                await self._ears.until(lambda: self._ears.now_ms >= at, barge_in_after_ms + 1)
        level = rms_dbfs(mulaw_decode(audio))
        if level != float("-inf"):
            self._speech_dbfs = level
            if self._noise is not None and self._noise.snr_db is not None:
                self._line.set_noise(self._noise, self._speech_dbfs)
        await self._mouth.speak(audio, label)
        self._turn_base = self._ears.starts
        return True

    async def _say(self, step: s.Say) -> bool:
        if self._speech is None:
            raise RuntimeError("a say step needs the TTS process (settings.tts_url)")
        audio = await self._speech.mulaw(step.text, length_scale=speaking_scale(self.script, step))
        return await self._utter(audio, "say", step.barge_in_after_ms, step.agent_timeout_ms)

    async def _play(self, step: s.Play) -> bool:
        pcm, rate = read_wav(self.script.resolve(step.path))
        return await self._utter(
            to_mulaw_8k(pcm, rate), "play", step.barge_in_after_ms, step.agent_timeout_ms
        )

    async def _tone(self, step: s.Tone) -> bool:
        await self._mouth.speak(tone(step.freq_hz, step.ms, step.level_dbfs), "tone")
        return True

    async def _pause(self, step: s.Pause) -> bool:
        await self._ears.elapse(step.ms)
        return True

    async def _wait_for_agent(self, step: s.WaitForAgent) -> bool:
        ears, start = self._ears, self._ears.now_ms
        base = self._turn_base
        began = await ears.until(lambda: ears.starts > base or ears.playing, step.timeout_ms)
        remaining = step.timeout_ms - (ears.now_ms - start)

        def quiet() -> bool:
            last = ears.last_audio_ms
            return not ears.playing and last is not None and ears.now_ms - last >= step.silence_ms

        finished = began and await ears.until(quiet, max(remaining, 0))
        self._turn_base = ears.starts
        if finished:
            return True
        self._line.note("wait_for_agent_timeout", started=began)
        if step.on_timeout == "hangup":
            self._line.hang_up("agent_timeout")
            return False
        return True

    async def _dtmf(self, step: s.Dtmf) -> bool:
        for digit in step.digits:
            await self._line.send_dtmf(digit)
            await self._ears.elapse(step.gap_ms)
        return True

    async def _set_noise(self, step: s.Noise) -> bool:
        self._noise = None if step.type == "off" else step
        self._line.set_noise(self._noise, self._speech_dbfs)
        return True

    async def _text_only(self, step: s.Reply) -> bool:
        return True  # a reply to a text, not something said on the call

    async def _hangup(self, step: s.Hangup) -> bool:
        self._line.hang_up("script")
        return False
