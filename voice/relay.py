"""One call's frames, both ways, through the bridge: the conversation's hot path.

Each frame from Twilio or from the Realtime session is read cheaply when it is audio or a mark
(:func:`voice.twilio_media.decode_hot`, :func:`voice.realtime.read_server_frame`; the typed
parsers read everything else), fed to the bridge, and the actions it returns are performed.

Where that happens: a :class:`voice.wsfast.FastPath` socket offers each message to
:meth:`Relay.twilio_now` / :meth:`Relay.realtime_now` from its ``data_received`` callback, and
when both sockets can take writes at once (open, not paused, no write of ours awaiting a drain)
the frame is handled right there, with one ``transport.write`` per socket: no task switch, no
queue. Otherwise the frame waits, in order, for the socket's reader task (:meth:`Relay.read_twilio`,
:meth:`Relay.read_realtime`), which handles it the same way but awaits each send (flow control,
``ConnectionClosed``). Either way the actions run in order, and a frame is never overtaken.

Actions that are not sends (turns, tool calls, the end of the call…) go to the conversation's
``other`` callback, which must not block.
"""

from __future__ import annotations

import binascii
import json
from collections import deque
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.typing import Data

from voice import twilio_media
from voice.actions import Action, AppendAudio, SendRealtime, SendTwilio
from voice.bridge import Bridge
from voice.latency import LatencyMeter
from voice.playback import silence_b64
from voice.realtime import (
    RealtimeClient,
    RealtimeError,
    RealtimeProtocolError,
    read_server_frame,
)
from voice.recorder import Recorder
from voice.twilio_media import ClearOut, MediaOut, TwilioFrameError, decode_hot
from voice.wsfast import FastPath, send_texts, writable, write_texts

__all__ = ["FrameProbe", "Relay"]

FrameProbe = Callable[[str, int], None]
"""Benchmarks' per-frame probe: ``("in" | "out" | "clear", ns from arrival to forwarded)``."""
Finish = Callable[..., None]  # (reason, transfer_to=None, error=None)

HELD_FRAMES = 500  # 10 s of 20 ms caller frames: held through a reconnect, resent after a drop
_APPEND_HEAD, _APPEND_TAIL = '{"type":"input_audio_buffer.append","audio":"', '"}'
_a2b = binascii.a2b_base64


def _append(payload: str) -> str:
    return _APPEND_HEAD + payload + _APPEND_TAIL


class _Batch:
    """What one list of actions writes, per socket, and what to note once it is written."""

    __slots__ = ("clear", "media", "rt", "tools", "tw")

    def __init__(self) -> None:
        self.tw: list[str] = []
        self.rt: list[str] = []
        self.media = 0
        self.clear = False
        self.tools: list[str] = []


class Relay:
    """Moves one call's frames: Twilio ⇄ bridge ⇄ Realtime, and performs the bridge's actions."""

    def __init__(
        self,
        twilio: Connection,
        stream_sid: str,
        rt: RealtimeClient,
        bridge: Bridge,
        recorder: Recorder,
        meter: LatencyMeter,
        *,
        other: Callable[[Action, int], None],
        finish: Finish,
        lost: Callable[[RealtimeError], None] | None = None,
        probe: FrameProbe | None = None,
        malformed: int = 0,
    ) -> None:
        self.twilio, self.stream_sid, self.rt = twilio, stream_sid, rt
        self.bridge, self.recorder, self.meter, self.probe = bridge, recorder, meter, probe
        self.other, self.finish, self.lost = other, finish, lost
        # Caller audio while no session listens (between a drop and the next session), and the
        # last few seconds sent to the session (an utterance cut by a drop is sent again).
        self.held: deque[tuple[int, str]] = deque(maxlen=HELD_FRAMES)
        self.recent: deque[tuple[int, str]] = deque(maxlen=HELD_FRAMES)
        self.frames_in = self.frames_out = self.realtime_errors = self.dropped_events = 0
        self.malformed = malformed
        self._flushing = 0  # sends of ours awaiting a drain: nothing may be written before them
        self._rt_over = False  # the Realtime session failed: its frames are no longer read, nor written
        self.expires_at: float | None = None  # the session's end (epoch s), from its session.created
        self._delta: tuple[str, bytes] = ("", b"")  # the latest agent chunk, base64 and decoded
        self._speech_t = -1  # arrival of the caller's latest speech_started: a clear it causes is a barge-in

    # -- Twilio ----------------------------------------------------------------------------------

    def twilio_now(self, frame: bytes, t: int) -> bool:
        """A frame from Twilio, in its socket's callback: handled now unless a socket is busy."""
        if not self._writable():
            return False
        hot = decode_hot(frame)
        if type(hot) is tuple:  # caller audio, 50 frames a second: straight to the Realtime socket
            ts, payload, audio = hot
            pad = self._caller_audio(ts, audio)
            if self._rt_over:  # no session: held for the next one
                self._hold(ts, pad, payload)
                return True
            self.recent.append((ts, payload))
            if pad:
                write_texts(self.rt.connection, _append(silence_b64(pad)), _append(payload))
            else:
                write_texts(self.rt.connection, _APPEND_HEAD + payload + _APPEND_TAIL)
            if self.probe is not None:
                self.probe("in", perf_counter_ns() - t)
            return True
        got = self._from_twilio(frame, hot, t)
        if got is not None:
            self._perform_now(got[0], t)
            if got[1] and self.probe is not None:
                self.probe("in", perf_counter_ns() - t)
        return True

    async def read_twilio(self) -> None:
        """The Twilio reader task: frames the callback could not take, then the end of the stream."""
        ws = self.twilio
        fast = ws if isinstance(ws, FastPath) else None
        if fast is not None:
            fast.attach(self.twilio_now)
        try:
            while True:
                if fast is not None:
                    frame, t = await fast.next_message()
                else:
                    frame, t = await ws.recv(), perf_counter_ns()
                got = self._from_twilio(frame, decode_hot(frame), t)
                if got is not None:
                    await self.perform(got[0], t)
                    if got[1] and self.probe is not None:
                        self.probe("in", perf_counter_ns() - t)
        except ConnectionClosed:
            self.finish("caller_hung_up")
        except RealtimeError as exc:
            self.finish("stream_error", error=type(exc).__name__)
        finally:
            if fast is not None:
                fast.detach()

    def _hold(self, ts: int, pad: int, payload: str) -> None:
        if pad:
            self.held.append((ts - pad, silence_b64(pad)))
        self.held.append((ts, payload))

    def resend_from(self, from_ms: int | None) -> tuple[int | None, list[str]]:
        """The caller audio a new session must hear first, as append events, and the stream ms it
        starts at: what the caller said before the drop from ``from_ms`` on (an utterance the drop
        cut), then everything held since."""
        frames = [(ts, p) for ts, p in self.recent if from_ms is not None and ts >= from_ms]
        frames += list(self.held)
        self.held.clear()
        self.recent.clear()
        return (frames[0][0] if frames else None), [_append(p) for _, p in frames]

    @property
    def over(self) -> bool:
        """No session takes the caller's audio now (it is held)."""
        return self._rt_over

    def session_down(self) -> None:
        """Stop writing to the session: caller audio is held until :meth:`swap`."""
        self._rt_over = True

    def swap(self, rt: RealtimeClient) -> None:
        """Carry on with ``rt`` (its replay and the audio from :meth:`resend_from` already sent),
        first giving it the audio held since."""
        held = [_append(p) for _, p in self.held]
        self.held.clear()
        self.rt = rt
        self._rt_over = False
        self.expires_at = None  # the new session's own session.created tells
        if held:
            write_texts(rt.connection, *held)

    def _caller_audio(self, ts: int, audio: bytes) -> int:
        """Caller audio into the recording and the bridge; the ms of silence to send before it."""
        self.recorder.caller_audio(ts, audio)
        self.frames_in += 1
        return self.bridge.caller_audio(ts, len(audio))

    def _from_twilio(
        self, frame: Data, hot: tuple[int, str, bytes] | str | None, t: int
    ) -> tuple[list[Action], bool] | None:
        """The bridge's actions for a Twilio frame (``hot``: its :func:`decode_hot`; ``t``: its
        arrival), and whether it was caller audio; None if it was malformed."""
        if type(hot) is tuple:
            ts, payload, audio = hot
            pad = self._caller_audio(ts, audio)
            appends: list[Action] = [AppendAudio(payload)]
            return ([AppendAudio(silence_b64(pad)), *appends] if pad else appends), True
        if type(hot) is str:
            self.meter.audio_heard(t)
            return self.bridge.on_mark(hot), False
        try:
            msg = twilio_media.decode(frame)
            if msg.event == "media":  # decode_hot refused it: its payload is not strict base64
                self.recorder.caller_audio(msg.media.timestamp, _a2b(msg.media.payload, strict_mode=True))
                self.frames_in += 1
            elif msg.event == "mark":  # one decode_hot was unsure of
                self.meter.audio_heard(t)
        except (TwilioFrameError, binascii.Error):
            self.malformed += 1
            return None
        return self.bridge.on_twilio(msg), msg.event == "media"

    # -- Realtime --------------------------------------------------------------------------------

    def realtime_now(self, frame: bytes, t: int) -> bool:
        """An event from the Realtime session, in its socket's callback: handled now unless busy."""
        if self._rt_over:
            return True  # a late frame of a session given up
        if not self._writable():
            return False
        got = self._from_realtime(frame, t)
        if got is not None:
            self._perform_now(got[0], t)
            if got[1] and self.probe is not None:
                self.probe("out", perf_counter_ns() - t)
        return True

    async def read_realtime(self) -> None:
        """The Realtime reader task: events the callback could not take, then the end of the session."""
        rt = self.rt
        ws = rt.connection
        fast = ws if isinstance(ws, FastPath) else None
        if fast is not None:
            fast.attach(self.realtime_now)
        try:
            while not self._rt_over and self.rt is rt:
                try:
                    if fast is not None:
                        frame, t = await fast.next_message()
                    else:
                        frame, t = await ws.recv(), perf_counter_ns()
                except ConnectionClosed as exc:
                    if self.rt is rt:  # not a session already rolled over
                        self._fatal(rt.closed_error(exc))
                    return
                got = self._from_realtime(frame, t)
                if got is None:
                    continue
                try:
                    await self.perform(got[0], t)
                except ConnectionClosed:
                    self.finish("caller_hung_up")
                    return
                if got[1] and self.probe is not None:
                    self.probe("out", perf_counter_ns() - t)
        finally:
            if fast is not None:
                fast.detach()

    def _from_realtime(self, frame: Data, t: int) -> tuple[list[Action], bool] | None:
        """The bridge's actions for a Realtime event, and whether it was agent audio; None if skipped."""
        try:
            got: Any = read_server_frame(frame)
        except RealtimeProtocolError:
            self.malformed += 1
            return None
        except RealtimeError as exc:
            self._fatal(exc)
            return None
        if type(got) is tuple:  # agent audio
            response_id, item_id, delta = got
            try:
                self._delta = (delta, _a2b(delta, strict_mode=True))
            except binascii.Error:
                self.malformed += 1
                return None
            return self.bridge.on_audio_delta(response_id, item_id, delta, len(self._delta[1])), True
        kind, meter = got.type, self.meter
        if kind == "input_audio_buffer.speech_stopped":
            meter.speech_stopped(t)
        elif kind == "input_audio_buffer.speech_started":
            meter.speech_started()
            self._speech_t = t
        elif kind == "response.function_call_arguments.done":
            meter.tool_call_received(got.call_id, t)
        elif kind == "error":
            self.realtime_errors += 1
        elif kind == "session.created":  # when the service will end this session (its cap)
            session = got.session
            expires = getattr(session, "expires_at", None) or (session.model_extra or {}).get("expires_at")
            self.expires_at = float(expires) if isinstance(expires, int | float) and expires > 0 else None
        return self.bridge.on_realtime(got), False

    def _fatal(self, exc: RealtimeError) -> None:
        if self._rt_over:
            return
        self._rt_over = True
        if self.lost is not None:
            self.lost(exc)  # the conversation reconnects (or ends the call)
        else:
            self.finish("stream_error", error=f"{type(exc).__name__}: {exc}"[:200])

    # -- actions ---------------------------------------------------------------------------------

    def _writable(self) -> bool:
        return (
            not self._flushing and writable(self.twilio) and (self._rt_over or writable(self.rt.connection))
        )

    def _perform_now(self, actions: list[Action], t: int) -> None:
        """Perform actions when both sockets are writable (:meth:`_writable`): no await anywhere."""
        batch = _Batch()
        for action in actions:
            self._stage(action, t, batch)
        if batch.tw:
            write_texts(self.twilio, *batch.tw)
        if batch.rt and not self._rt_over:
            write_texts(self.rt.connection, *batch.rt)
        self._written(batch, t)

    async def perform(self, actions: list[Action], t: int) -> None:
        """Perform actions in order from a task, awaiting each socket's flow control.

        Raises ``ConnectionClosed`` when Twilio's socket is closed. A Realtime session found closed
        is given up (:meth:`_fatal`, so the conversation reconnects); what was meant for it is
        dropped, and caller audio is held for the next session.
        """
        self._flushing += 1
        try:
            for action in actions:
                batch = _Batch()
                self._stage(action, t, batch)
                if batch.tw:
                    await send_texts(self.twilio, *batch.tw)
                if batch.rt and self._rt_over:
                    self.dropped_events += sum(1 for e in batch.rt if not e.startswith(_APPEND_HEAD))
                elif batch.rt:
                    rt = self.rt
                    try:
                        await send_texts(rt.connection, *batch.rt)
                    except ConnectionClosed as exc:
                        if rt is self.rt:
                            self._fatal(rt.closed_error(exc))
                self._written(batch, t)
        finally:
            self._flushing -= 1

    def _stage(self, action: Action, t: int, batch: _Batch) -> None:
        """Perform an action, except its write, which goes into ``batch``."""
        kind = type(action)
        if kind is AppendAudio:
            payload = action.payload  # type: ignore[union-attr]
            if self._rt_over:
                self.held.append((self.bridge.clock_ms, payload))
            else:
                self.recent.append((self.bridge.clock_ms, payload))
                batch.rt.append(_APPEND_HEAD + payload + _APPEND_TAIL)
        elif kind is SendTwilio:
            message = action.message  # type: ignore[union-attr]
            if type(message) is MediaOut:
                payload, audio = self._delta
                if payload is not message.payload:
                    audio = _a2b(message.payload)
                self.recorder.agent_audio(self.bridge.clock_ms, audio)
                batch.media += 1
            elif type(message) is ClearOut:
                self.recorder.clear(self.bridge.clock_ms)
                batch.clear = True
            batch.tw.append(twilio_media.encode(message, self.stream_sid))
        elif kind is SendRealtime:
            event = action.event  # type: ignore[union-attr]
            batch.rt.append(json.dumps(event))
            item = event.get("item")
            if item is not None and item.get("type") == "function_call_output":
                batch.tools.append(item["call_id"])
        else:
            self.other(action, t)

    def _written(self, batch: _Batch, t: int) -> None:
        """What is noted once a batch is on the wire: counts, latency slices, the clear probe."""
        if not (batch.media or batch.clear or batch.tools):
            return
        now = perf_counter_ns()
        if batch.media:
            self.frames_out += batch.media
            self.meter.agent_audio_sent(now)
        if batch.clear:
            if t == self._speech_t:  # not a cut of our own (a transfer line, the wrap-up)
                self.meter.clear_sent(t, now)
            if self.probe is not None:
                self.probe("clear", now - t)
        for call_id in batch.tools:
            self.meter.tool_output_sent(call_id, now)
