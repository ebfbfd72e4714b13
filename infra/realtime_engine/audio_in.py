"""The input audio buffer and the VAD turn timeline, on the input-audio clock.

The clock is milliseconds of audio appended since the session's first byte (bytes / 8 for
μ-law, bytes / 48 for 24 kHz PCM), exactly what ``audio_start_ms`` / ``audio_end_ms`` mean in
the real protocol. Audio is kept once, at 16 kHz float32 (what both Silero and Whisper read),
in a ring of ``MAX_KEPT_S`` seconds: a flood of appends costs at most ~2 MB per session.

Turn detection follows the service's documented semantics: ``audio_start_ms`` includes the
prefix padding, ``audio_end_ms`` includes the silence that ended the turn. ``SpeechPaused``
fires early in that silence so the engine can start transcribing before the turn is over.

Where a turn starts: a turn is *confirmed* by two windows above the threshold, but Silero is
often unsure of a caller's first word after a long silence (its state is cold, and a short
"Yes," on a telephone band sits around 0.3–0.55). So once a turn is confirmed, its onset is
moved back over the speech-like sound just before it (windows above the negative threshold)
and over any earlier stretch of such sound separated from it by a pause shorter than the
turn-ending silence (had that sound been confirmed, the pause would not have ended the turn),
at most ``MAX_BACKTRACK_MS``. Without this, "Yes, that's fine" started at "that's".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from infra.realtime_engine import config as cfg
from infra.speech.vad import WINDOW_MS, StreamResampler, VadStream
from voice.audio import mulaw_decode

STT_SAMPLES_PER_MS = 16
MAX_KEPT_S = 30  # Whisper reads at most 30 s; older audio is dropped
MIN_SPEECH_MS = 64  # two Silero windows above threshold start a turn
SPECULATE_AFTER_MS = 64  # silence after which a speculative transcription starts
NEG_THRESHOLD_GAP = 0.15
MIN_COMMIT_MS = 100
MAX_BACKTRACK_MS = 1500  # how far before the confirming windows a turn's onset may move
MIN_EARLIER_SPEECH_MS = 96  # an earlier stretch without a window over threshold must last this long
HISTORY_WINDOWS = 128  # ~4 s of window probabilities kept for the onset search

Float32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechPaused:
    """The caller went quiet; the turn may be ending. ``pause`` numbers the pause."""

    pause: int
    audio: Float32 = field(repr=False)


@dataclass(frozen=True)
class SpeechStopped:
    pause: int
    audio_start_ms: int
    audio_end_ms: int
    audio: Float32 = field(repr=False)


TurnEvent = SpeechStarted | SpeechPaused | SpeechStopped


def bytes_per_ms(fmt: dict[str, Any]) -> int:
    return 8 if fmt.get("type") == "audio/pcmu" else 48


class _Ring:
    """The last ``MAX_KEPT_S`` seconds of 16 kHz audio, addressed by absolute sample index."""

    def __init__(self) -> None:
        self._chunks: list[Float32] = []
        self.start = 0  # absolute index of the first kept sample
        self.end = 0

    def push(self, x: Float32) -> None:
        if x.size == 0:
            return
        self._chunks.append(x)
        self.end += x.size
        limit = MAX_KEPT_S * 16000
        while self.end - self.start - self._chunks[0].size >= limit:
            self.start += self._chunks.pop(0).size
        excess = self.end - self.start - limit
        if excess > 0:  # one huge append: keep only its tail
            self._chunks[0] = self._chunks[0][excess:]
            self.start += excess

    def slice(self, a: int, b: int) -> Float32:
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            return np.zeros(0, np.float32)
        joined = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        if len(self._chunks) > 1:
            self._chunks = [joined]
        return joined[a - self.start : b - self.start].copy()


class InputAudio:
    """Feed appended bytes in, get turn events out. No I/O, no clock but the audio's own."""

    def __init__(self, fmt: dict[str, Any], turn_detection: dict[str, Any] | None) -> None:
        self._clock_ms = 0.0
        self._turn_start_ms = 0
        self._ring = _Ring()
        self._odd = b""
        self._buffer_start_ms = 0
        self.configure(fmt, turn_detection)

    # -- configuration ------------------------------------------------------------------

    def configure(self, fmt: dict[str, Any], turn_detection: dict[str, Any] | None) -> None:
        """Apply the session's input format and turn detection (a new format restarts decoding)."""
        kind = (fmt.get("type"), fmt.get("rate"))
        if getattr(self, "_format_key", None) != kind:
            self._format_key = kind
            self.fmt = dict(fmt)
            self._bpms = bytes_per_ms(fmt)
            self._rate = 8000 if fmt.get("type") == "audio/pcmu" else cfg.PCM_RATE
            self._resample = StreamResampler(self._rate)
            self._vad = VadStream()
            self._clock_base_ms = self.ms  # the new decoder's windows start here
            self._reset_turn()
        self.turn_detection = turn_detection

    def _reset_turn(self) -> None:
        self.speaking = False
        self._run_ms = 0
        self._onset_ms = 0
        self._silence_ms = 0
        self._pause = 0
        self._paused = False
        self._history: deque[tuple[int, float]] = deque(maxlen=HISTORY_WINDOWS)  # (end_ms, p)

    @property
    def ms(self) -> int:
        """The input-audio clock: ms of audio appended so far (in whatever formats it came)."""
        return int(self._clock_ms)

    @property
    def buffered_ms(self) -> float:
        return float(self.ms - self._buffer_start_ms)

    # -- input --------------------------------------------------------------------------

    def append(self, data: bytes) -> list[TurnEvent]:
        self._clock_ms += len(data) / self._bpms
        pcm = self._decode(data)
        x = self._resample(pcm)
        self._ring.push(x)
        if self.turn_detection is None:
            return []
        events: list[TurnEvent] = []
        for window in self._vad.feed_16k(x):
            events += self._step(self._clock_base_ms + window.end_ms, window.probability)
        return events

    def _decode(self, data: bytes) -> npt.NDArray[np.int16]:
        if self.fmt.get("type") == "audio/pcmu":
            return mulaw_decode(data)
        data = self._odd + data
        self._odd = data[len(data) & ~1 :]
        return np.frombuffer(data[: len(data) & ~1], dtype="<i2").astype(np.int16)

    # -- the turn state machine ---------------------------------------------------------

    def _step(self, end_ms: int, p: float) -> list[TurnEvent]:
        td = self.turn_detection or {}
        threshold = cfg.threshold(td)
        self._history.append((end_ms, p))
        if not self.speaking:
            if p >= threshold:
                if self._run_ms == 0:
                    self._onset_ms = end_ms - WINDOW_MS
                self._run_ms += WINDOW_MS
                if self._run_ms >= MIN_SPEECH_MS:
                    self.speaking = True
                    self._silence_ms = 0
                    self._paused = False
                    onset = self._earliest_onset(self._onset_ms, td)

                    start = max(self._buffer_start_ms, onset - cfg.prefix_ms(td))
                    self._turn_start_ms = start
                    return [SpeechStarted(start)]
            else:
                self._run_ms = 0
            return []
        if p >= max(0.0, threshold - NEG_THRESHOLD_GAP):
            self._silence_ms = 0
            self._paused = False
            return []
        self._silence_ms += WINDOW_MS
        out: list[TurnEvent] = []
        if not self._paused and self._silence_ms >= min(SPECULATE_AFTER_MS, cfg.silence_ms(td)):
            self._paused = True
            self._pause += 1
            out.append(SpeechPaused(self._pause, self._audio(self._turn_start_ms, end_ms)))
        if self._silence_ms >= cfg.silence_ms(td):
            audio = self._audio(self._turn_start_ms, end_ms)
            out.append(SpeechStopped(self._pause, self._turn_start_ms, end_ms, audio))
            self.speaking = False
            self._run_ms = 0
            self._buffer_start_ms = end_ms
        return out

    def _earliest_onset(self, onset_ms: int, td: dict[str, Any]) -> int:
        """Where the turn confirmed at ``onset_ms`` really began (see the module docstring).

        Reads the windows before it backwards, the way ``_step`` reads a turn forwards: any window
        over the negative threshold keeps the turn alive, a run of windows under it as long as the
        turn-ending silence ends the search. The onset moves back to the start of each earlier
        stretch of speech-like windows that is a word (one window over the threshold, or
        ``MIN_EARLIER_SPEECH_MS`` of them); shorter blips only keep the search going."""
        threshold = cfg.threshold(td)
        negative = max(0.0, threshold - NEG_THRESHOLD_GAP)
        pause_limit = cfg.silence_ms(td)
        floor = max(self._buffer_start_ms, onset_ms - MAX_BACKTRACK_MS)
        earliest = onset_ms
        adjacent = True  # still in the sound right before the confirming windows
        gap_ms = 0
        stretch_start: int | None = None
        stretch_ms, stretch_strong = 0, False

        def take(start: int | None, ms: int, strong: bool) -> None:
            nonlocal earliest
            if start is not None and (adjacent or strong or ms >= MIN_EARLIER_SPEECH_MS):
                earliest = start

        for end_ms, p in reversed(self._history):
            start_ms = end_ms - WINDOW_MS
            if end_ms > onset_ms:
                continue  # the confirming windows themselves
            if start_ms < floor:
                break
            if p >= negative:
                gap_ms = 0
                stretch_start = start_ms
                stretch_ms += WINDOW_MS
                stretch_strong = stretch_strong or p >= threshold
                continue
            take(stretch_start, stretch_ms, stretch_strong)
            adjacent = False
            stretch_start, stretch_ms, stretch_strong = None, 0, False
            gap_ms += WINDOW_MS
            if gap_ms >= pause_limit:
                break  # a pause that would have ended a turn
        take(stretch_start, stretch_ms, stretch_strong)
        return earliest

    def _audio(self, start_ms: int, end_ms: int) -> Float32:
        return self._ring.slice(start_ms * STT_SAMPLES_PER_MS, end_ms * STT_SAMPLES_PER_MS)

    # -- client commands ----------------------------------------------------------------

    def commit(self) -> tuple[int, int, Float32]:
        """The uncommitted audio as (start_ms, end_ms, samples); raises if under 100 ms."""
        from infra.realtime_engine import errors

        if self.buffered_ms < MIN_COMMIT_MS:
            raise errors.commit_empty(self.buffered_ms)
        start = self._turn_start_ms if self.speaking else self._buffer_start_ms
        end = self.ms
        audio = self._audio(start, end)
        self._buffer_start_ms = end
        self._reset_turn()
        return start, end, audio

    def clear(self) -> None:
        self._buffer_start_ms = self.ms
        self._reset_turn()
