"""The call recording: caller on the left channel, agent on the right, aligned on the stream clock.

Caller audio lands at its ``media.timestamp``. Agent audio lands where Twilio played it: Twilio
plays what it is sent in order, starting when it is sent or when the audio before it ends,
whichever is later; a ``clear`` cuts everything scheduled after it. So the agent channel holds
what the caller heard, not what the model said.

Memory stays bounded: both channels are kept as μ-law (one byte a sample) only from the last
flush onwards, and everything before the stream clock is final (caller audio arrives in order;
agent audio before the clock has played and can no longer be cleared), so it is decoded and
appended to the WAV file about once a second (the header's length every ``HEADER_EVERY`` writes
and at close, which saves two seeks a second per call). The first write comes after a random
part of ``flush_ms``, so that calls which start together (a campaign, a benchmark) do not all
write in the same few milliseconds of every second and stall the voice worker's loop. Agent
audio scheduled more than ``max_ahead_ms`` beyond the clock is dropped and counted.

With ``on_segment``, the same decoded audio is also handed over in segments of ``segment_ms``
(``(call_ms, pcm)``, its start on the call's clock: ``offset_ms`` is where this stream starts in the
call, non-zero when the call resumed on this host), for shipping to S3 as the call goes
(``voice/segments.py``); the hand-over happens in those once-a-second writes, never per frame.
"""

from __future__ import annotations

import random
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voice.audio import MULAW_RATE, mulaw_decode

__all__ = ["Recorder"]

_SILENCE = 0xFF
_PER_MS = MULAW_RATE // 1000
HEADER_EVERY = 10


class Recorder:
    """One call's two-channel 8 kHz 16-bit WAV, written as the call goes.

    **Parameters**

    * ``path`` — the WAV to write (its directory is created).
    * ``flush_ms`` — how much final audio to gather before writing it out.
    * ``max_ahead_ms`` — how far past the stream clock agent audio may be queued.
    * ``on_segment`` — hears each ``segment_ms`` of written audio as ``(call_ms, pcm)``.
    * ``offset_ms`` — where this stream's clock starts on the call's clock.
    """

    def __init__(
        self,
        path: Path,
        *,
        flush_ms: int = 1000,
        max_ahead_ms: int = 120_000,
        on_segment: Callable[[int, bytes], None] | None = None,
        segment_ms: int = 5000,
        offset_ms: int = 0,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wav = wave.open(str(path), "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(MULAW_RATE)
        self._base = 0  # sample index of the first sample still buffered
        self._caller = bytearray()
        self._agent = bytearray()
        self._clock = 0  # samples: end of the latest caller audio
        self._play_end = 0  # samples: where the queued agent audio ends
        self._flush = flush_ms * _PER_MS
        self._next_write = random.randint(1, self._flush)  # spreads the writes of concurrent calls
        self._max_ahead = max_ahead_ms * _PER_MS
        self.dropped_ms = 0
        self.closed = False
        self._writes = 0
        self._on_segment = on_segment
        self._segment = bytearray()  # decoded stereo PCM not yet handed over
        self._segment_at = 0  # sample index where it starts
        self._segment_bytes = segment_ms * _PER_MS * 4
        self._offset_ms = offset_ms

    @property
    def duration_ms(self) -> int:
        return (self._base + max(len(self._caller), len(self._agent))) // _PER_MS

    def caller_audio(self, timestamp_ms: int, mulaw: bytes) -> None:
        at = timestamp_ms * _PER_MS
        caller = self._caller
        if at == self._base + len(caller):  # the next audio in order: the usual case, 50 times a second
            caller += mulaw
        elif at < self._base:
            self.dropped_ms += len(mulaw) // _PER_MS
            return
        else:
            self._put(caller, at, mulaw)
        end = at + len(mulaw)
        if end > self._clock:
            self._clock = end
        if self._clock >= self._next_write:
            self._write(self._clock)
            self._next_write = self._clock + self._flush

    def agent_audio(self, sent_at_ms: int, mulaw: bytes) -> None:
        """Agent audio sent to Twilio when the stream clock read ``sent_at_ms``."""
        at = max(sent_at_ms * _PER_MS, self._play_end, self._base)
        if at + len(mulaw) - self._clock > self._max_ahead:
            self.dropped_ms += len(mulaw) // _PER_MS
            return
        self._put(self._agent, at, mulaw)
        self._play_end = at + len(mulaw)

    def clear(self, at_ms: int) -> None:
        """Twilio's buffer was cleared at ``at_ms``: nothing scheduled after it was heard."""
        at = max(at_ms * _PER_MS, self._base)
        del self._agent[at - self._base :]
        self._play_end = at

    def close(self) -> Path:
        """Write what was heard (agent audio queued past the end was never played) and finish the file."""
        if not self.closed:
            self.closed = True
            self.clear(self._clock // _PER_MS)
            self._write(self._base + max(len(self._caller), len(self._agent)))
            self._wav.close()
            self._hand_over()
        return self.path

    def _put(self, channel: bytearray, at: int, mulaw: bytes) -> None:
        offset = at - self._base
        if len(channel) < offset:
            channel.extend(b"\xff" * (offset - len(channel)))
        channel[offset : offset + len(mulaw)] = mulaw

    def _write(self, upto: int) -> None:
        n = upto - self._base
        if n <= 0:
            return
        both = np.full((n, 2), _SILENCE, dtype=np.uint8)  # μ-law, interleaved: one decode for both
        for col, channel in enumerate((self._caller, self._agent)):
            have = min(n, len(channel))
            both[:have, col] = np.frombuffer(channel, dtype=np.uint8, count=have)  # a view, gone at once
            del channel[:n]
        self._writes += 1
        # The header's length is rewritten (two seeks) every HEADER_EVERY writes and at close.
        write = self._wav.writeframes if self._writes % HEADER_EVERY == 1 else self._wav.writeframesraw
        pcm = mulaw_decode(both.tobytes()).tobytes()
        write(pcm)
        if self._on_segment is not None:
            if not self._segment:
                self._segment_at = self._base
            self._segment += pcm
            if len(self._segment) >= self._segment_bytes:
                self._hand_over()
        self._base = upto

    def _hand_over(self) -> None:
        if self._on_segment is not None and self._segment:
            pcm, self._segment = bytes(self._segment), bytearray()
            self._on_segment(self._offset_ms + self._segment_at // _PER_MS, pcm)
