"""The Twilio side of a bidirectional Media Stream: what Twilio does when TwiML says ``<Connect><Stream>``.

It connects to the media server (signing the upgrade as Twilio does: ``X-Twilio-Signature``
over the ``wss://`` URL with no params), sends ``connected`` and ``start``, then one ``media``
message per 20 ms tick with the caller's audio, plus ``dtmf`` and finally ``stop``. Media the
server sends is played at real time through a ``Playback`` buffer that echoes marks and
honours ``clear``. The session ends when the server closes the socket, the caller hangs up,
or the network stops it (REST hangup or redirect). The caller (their mouth, ears and script) is a
:class:`infra.phone.party.CallerParty` that outlives the session: a call's next stream goes on with
the same caller. A socket the server closes and one that drops without a close frame (the worker
killed) both end the session as ``agent`` (``socket_closed`` / ``socket_dropped``), and Twilio goes
on with the TwiML after ``</Connect>`` either way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from infra.phone import script as s
from infra.phone.calls import new_sid
from infra.phone.noise import NoiseBed
from infra.phone.party import CallerParty
from infra.phone.performer import Speech
from infra.phone.playback import Playback
from infra.phone.recorder import Recorder
from infra.phone.twiml import Stream

log = logging.getLogger("infra.phone.stream")

FRAME_MS = 20
FRAME_BYTES = 160


@dataclass
class StreamSetup:
    """Everything a session needs to know about its call."""

    stream: Stream
    account_sid: str
    call_sid: str
    auth_token: str
    script: s.CallerScript
    speech: Speech | None = None
    stream_sid: str = field(default_factory=lambda: new_sid("MZ"))


@dataclass
class StreamOutcome:
    ended_by: str  # agent | caller | network
    reason: str
    malformed: int = 0
    unknown_events: int = 0


class StreamSession:
    def __init__(
        self,
        setup: StreamSetup,
        recorder: Recorder,
        on_start: Callable[[], None] | None = None,
        caller: CallerParty | None = None,
    ) -> None:
        self.setup = setup
        self._on_start = on_start
        self.recorder = recorder
        self.playback = Playback()
        self.caller = caller or CallerParty(setup.script, setup.speech)
        self._own_caller = caller is None  # a caller of this session alone ends with it
        self.mouth = self.caller.mouth
        self.ears = self.caller.ears
        self._base_ms = 0  # the caller's clock when this stream started (0 for the call's first)
        self._noise: NoiseBed | None = None
        self._noise_key: tuple[str, int] | None = None
        self._out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._seq = 0
        self._end = asyncio.Event()
        self._ended_by = ""
        self._reason = ""
        self._malformed = 0
        self._unknown = 0
        self._t0 = 0.0
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "media": self._on_media,
            "mark": self._on_mark,
            "clear": self._on_clear,
        }

    # -- the Line the performer uses -------------------------------------------------------
    async def send_dtmf(self, digit: str) -> None:
        self.recorder.event(self._local_ms(), "dtmf", digit=digit)
        self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    def set_noise(self, step: s.Noise | None, speech_dbfs: float) -> None:
        if step is None or step.type == "off":
            self._noise = None
            return
        level = step.level_dbfs if step.level_dbfs is not None else speech_dbfs - (step.snr_db or 0.0)
        if self._noise is not None and self._noise_key == (step.type, step.seed):
            self._noise.level_dbfs = level
        else:
            self._noise = NoiseBed(step.type, step.seed, level)
            self._noise_key = (step.type, step.seed)

    def hang_up(self, reason: str) -> None:
        self.stop("caller", reason)

    def note(self, kind: str, **detail: Any) -> None:
        self.recorder.event(self._local_ms(), kind, **detail)

    def _local_ms(self) -> int:
        return max(0, self.ears.now_ms - self._base_ms)

    # -- control --------------------------------------------------------------------------
    def stop(self, ended_by: str, reason: str) -> None:
        """End the stream (idempotent: the first reason wins)."""
        if not self._end.is_set():
            self._ended_by, self._reason = ended_by, reason
            self._end.set()

    def _now_ms(self) -> int:
        return int((asyncio.get_running_loop().time() - self._t0) * 1000)

    def _send(self, message: dict[str, Any]) -> None:
        self._out.put_nowait(message)

    async def run(self, *, open_timeout_s: float = 10.0) -> StreamOutcome:
        """Connect, stream until one side ends it, then ``stop`` and close (raises OSError if unreachable)."""
        setup = self.setup
        signature = RequestValidator(setup.auth_token).compute_signature(setup.stream.url, {})
        async with connect(
            setup.stream.url,
            additional_headers={"X-Twilio-Signature": signature},
            open_timeout=open_timeout_s,
            max_size=2**20,
            compression=None,  # Twilio does not negotiate permessage-deflate
        ) as ws:
            self._t0 = asyncio.get_running_loop().time()
            self._base_ms = self.ears.now_ms + FRAME_MS if self.caller.streams else 0
            self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            self._send({"event": "start", "start": self._start_payload()})
            if self._on_start is not None:
                self._on_start()
            writer = asyncio.create_task(self._writer(ws))
            tasks = [asyncio.create_task(self._ticker()), asyncio.create_task(self._receiver(ws))]
            self.caller.attach(self, self._script_failed)
            try:
                await self._end.wait()
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                self.caller.detach(self)
                if self._own_caller:
                    self.caller.close()
                if self._ended_by != "agent":
                    self._send(
                        {
                            "event": "stop",
                            "stop": {"accountSid": setup.account_sid, "callSid": setup.call_sid},
                        }
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._out.join(), 2.0)
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            self.recorder.event(self._local_ms(), "stream_end", ended_by=self._ended_by, reason=self._reason)
        return StreamOutcome(self._ended_by, self._reason, self._malformed, self._unknown)

    def _start_payload(self) -> dict[str, Any]:
        setup = self.setup
        return {
            "accountSid": setup.account_sid,
            "streamSid": setup.stream_sid,
            "callSid": setup.call_sid,
            "tracks": ["inbound"],
            "customParameters": dict(setup.stream.parameters),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }

    async def _writer(self, ws: ClientConnection) -> None:
        while True:
            message = await self._out.get()
            self._seq += 1
            wire: dict[str, Any] = {"event": message["event"], "sequenceNumber": str(self._seq)}
            if message["event"] != "connected":
                wire["streamSid"] = self.setup.stream_sid
            wire.update(message)
            try:
                await ws.send(json.dumps(wire))
            except ConnectionClosed as exc:
                self.stop("agent", _closed_reason(exc))
            finally:
                self._out.task_done()

    async def _ticker(self) -> None:
        """Real-time pace on the loop clock; a late tick catches up rather than drifting."""
        loop = asyncio.get_running_loop()
        limit = self.setup.script.max_duration_ms
        n = 0
        while True:
            delay = self._t0 + n * FRAME_MS / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            t_ms = n * FRAME_MS
            if self._base_ms + t_ms >= limit:
                self.stop("caller", "max_duration")
                return
            self._tick(n, t_ms)
            n += 1

    def _tick(self, n: int, t_ms: int) -> None:
        spoken = self.mouth.frame(FRAME_BYTES)
        audio = self._noise.mix(spoken.audio) if self._noise is not None else spoken.audio
        if spoken.started:
            self.recorder.caller_speech(t_ms, start=True, label=spoken.started)
        if spoken.ended:
            self.recorder.caller_speech(t_ms + spoken.speech_bytes // 8, start=False, label=spoken.ended)
        payload = base64.b64encode(audio).decode()
        self._send(
            {
                "event": "media",
                "media": {
                    "track": "inbound",
                    "chunk": str(n + 1),
                    "timestamp": str(t_ms),
                    "payload": payload,
                },
            }
        )
        played = self.playback.play(FRAME_BYTES)
        self.recorder.frame(t_ms, played.audio, audio, FRAME_BYTES)
        self.ears.tick(self._base_ms + t_ms, bool(played.audio))
        for name in played.marks:
            self._echo_mark(name, t_ms + len(played.audio) // 8, flushed=False)

    def _echo_mark(self, name: str, t_ms: int, *, flushed: bool) -> None:
        self.recorder.mark_echoed(t_ms, name, flushed=flushed)
        self._send({"event": "mark", "mark": {"name": name}})

    async def _receiver(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    message = json.loads(raw)
                    handler = self._handlers.get(message.get("event"))
                except (ValueError, AttributeError):
                    self._malformed += 1
                    continue
                if handler is None:
                    self._unknown += 1
                    continue
                try:
                    handler(message)
                except (KeyError, TypeError, ValueError, binascii.Error):
                    self._malformed += 1
        except ConnectionClosed as exc:
            self.stop("agent", _closed_reason(exc))
        self.stop("agent", "socket_closed")

    def _on_media(self, message: dict[str, Any]) -> None:
        self.playback.feed(base64.b64decode(message["media"]["payload"], validate=True))

    def _on_mark(self, message: dict[str, Any]) -> None:
        name = str(message["mark"]["name"])
        for due in self.playback.mark(name):
            self._echo_mark(due, self._now_ms(), flushed=False)

    def _on_clear(self, message: dict[str, Any]) -> None:
        dropped, marks = self.playback.clear()
        now = self._now_ms()
        self.recorder.clear(now, dropped, marks)
        for name in marks:
            self._echo_mark(name, now, flushed=True)

    def _script_failed(self, error: str) -> None:
        log.warning("caller script failed on call %s: %s", self.setup.call_sid, error)


def _closed_reason(exc: ConnectionClosed) -> str:
    """``socket_closed`` when the server sent a close frame, ``socket_dropped`` when the connection
    just went (a killed worker, a TCP reset: no close frame received)."""
    return "socket_closed" if exc.rcvd is not None else "socket_dropped"
