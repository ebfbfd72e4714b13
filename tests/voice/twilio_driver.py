"""A light Twilio Media Streams client for tests and benchmarks: it plays the part of Twilio.

It sends ``connected`` and ``start`` (with ``call_id`` and ``token`` as custom parameters), then
caller audio as ``media`` frames paced at 20 ms with ``timestamp`` = audio position, as Twilio
does. Agent audio it receives is "played" on a simulated playout clock: sequentially, from when
it arrived or when the audio before it ends. A ``mark`` is echoed when the audio queued before it
has finished playing; a ``clear`` drops unplayed audio and echoes every pending mark at once.
It records what the caller heard (``heard``: segments on the stream clock, cut at clears), so a
test can compare it with the recording.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
import zlib
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from switchboard.models import AgentProfile, Guardrails, ToolCall, ToolResult, ToolSpec, Turn, TurnDetection
from voice.wsfast import FastPath, send_texts, writable, write_texts

FRAME_MS = 20
FRAME_BYTES = FRAME_MS * 8
_MEDIA = (
    '{"event":"media","sequenceNumber":"%d","streamSid":"%s",'
    '"media":{"track":"inbound","chunk":"%d","timestamp":"%d","payload":"%s"}}'
)


class _Conn(FastPath, ClientConnection):
    """The driver's socket, with the voice worker's hot path (a benchmark runs hundreds of drivers)."""


class TwilioDriver:
    def __init__(self, url: str, *, call_id: str, token: str | None, stream_sid: str | None = None) -> None:
        self.url, self.call_id, self.token = url, call_id, token
        self.stream_sid = stream_sid or f"MZ{zlib.crc32(call_id.encode()):08x}"
        self.ws: ClientConnection | None = None
        self.seq = 0
        self.chunk = 0
        self.sent_ms = 0  # caller audio position: the media timestamp of the next frame
        self.sent_bytes = 0
        self.sent_crc = 0
        self.recv_bytes = 0
        self.recv_chunks = 0
        self.recv_crc = 0
        self.marks_received: list[str] = []
        self.marks_echoed: list[str] = []
        self.clears: list[float] = []  # stream ms of each clear
        self.heard: list[list[Any]] = []  # [start stream ms, bytearray] per agent chunk as played
        self.last_media_at: float = 0.0  # stream ms the latest agent media arrived
        self.close_code: int | None = None
        self.close_reason = ""
        self._t0 = 0.0
        self._play_end = 0.0  # stream ms at which queued agent audio ends
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._receiver: asyncio.Task[None] | None = None
        self._echo_tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()

    # -- clock -------------------------------------------------------------------------------

    def now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0

    # -- sending -----------------------------------------------------------------------------

    async def connect(self, *, send_start: bool = True, params: dict[str, str] | None = None) -> None:
        self.ws = await connect(
            self.url, compression=None, max_size=2**22, open_timeout=30, create_connection=_Conn
        )
        self._t0 = time.monotonic()
        self._receiver = asyncio.ensure_future(self._receive())
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        if send_start:
            custom = {
                "call_id": self.call_id,
                **({"token": self.token} if self.token else {}),
                **(params or {}),
            }
            start = {
                "accountSid": "AC0", "streamSid": self.stream_sid, "callSid": f"CA{self.stream_sid[2:]}",
                "tracks": ["inbound"], "customParameters": custom,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }  # fmt: skip
            await self.send_json({"event": "start", "streamSid": self.stream_sid, "start": start})

    async def send_json(self, message: dict[str, Any]) -> None:
        self.seq += 1
        await self.send_raw(json.dumps({**message, "sequenceNumber": str(self.seq)}))

    async def send_raw(self, text: str | bytes) -> None:
        assert self.ws is not None
        if isinstance(text, str):
            await send_texts(self.ws, text)  # cheaper: benchmarks send tens of thousands a second
        else:
            await self.ws.send(text)

    async def send_frame(self, mulaw: bytes, payload: str | None = None) -> None:
        """One media frame at the current audio position (no pacing: the caller paces).

        ``payload``: ``mulaw`` already base64-encoded (benchmarks encode each frame once).
        The JSON is formatted directly: a benchmark sends tens of thousands of these a second.
        """
        self.chunk += 1
        self.seq += 1
        self.sent_bytes += len(mulaw)
        self.sent_crc = zlib.crc32(mulaw, self.sent_crc)
        b64 = payload if payload is not None else base64.b64encode(mulaw).decode()
        text = _MEDIA % (self.seq, self.stream_sid, self.chunk, self.sent_ms, b64)
        self.sent_ms += len(mulaw) // 8
        await self.send_raw(text)

    async def play(self, mulaw: bytes) -> None:
        """Send audio as 20 ms frames at real-time pace (on an absolute schedule: no drift).

        Returns early, quietly, if the stream is closed meanwhile.
        """
        for offset in range(0, len(mulaw), FRAME_BYTES):
            due = self._t0 + self.sent_ms / 1000.0
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self.send_frame(mulaw[offset : offset + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))
            except ConnectionClosed:
                return  # the call ended while the caller was talking

    async def silence(self, ms: int) -> None:
        await self.play(b"\xff" * (ms * 8))

    async def dtmf(self, digit: str) -> None:
        await self.send_json(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def stop(self) -> None:
        await self.send_json(
            {"event": "stop", "streamSid": self.stream_sid, "stop": {"accountSid": "AC0", "callSid": "CA0"}}
        )

    async def hang_up(self) -> None:
        """Stop and close, as Twilio does when the caller hangs up."""
        await self.stop()
        await self.close()

    async def vanish(self) -> None:
        """The caller's line drops: the socket dies without ``stop`` or a close handshake."""
        assert self.ws is not None
        self.ws.transport.abort()
        await self.closed.wait()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._receiver is not None:
            await asyncio.gather(self._receiver, return_exceptions=True)

    async def wait_closed(self, timeout_s: float = 30.0) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout_s)

    # -- receiving ---------------------------------------------------------------------------

    async def _receive(self) -> None:
        assert self.ws is not None
        ws = self.ws
        fast = ws if isinstance(ws, FastPath) else None
        if fast is not None:  # benchmarks run hundreds of these: messages are read in the callback
            fast.attach(self._take)
        try:
            while True:
                self._take((await fast.next_message())[0] if fast is not None else await ws.recv(), 0)
        except ConnectionClosed:
            pass
        finally:
            rcvd = ws.protocol.close_rcvd
            self.close_code, self.close_reason = (rcvd.code, rcvd.reason) if rcvd else (None, "")
            for handle in self._pending.values():
                handle.cancel()
            self.closed.set()

    def _take(self, frame: str | bytes, t: int) -> bool:
        message = orjson.loads(frame)
        kind = message.get("event")
        if kind == "media":
            self._on_media(message["media"]["payload"])
        elif kind == "mark":
            self._on_mark(message["mark"]["name"])
        elif kind == "clear":
            self._on_clear()
        return True

    def _on_media(self, payload: str) -> None:
        audio = binascii.a2b_base64(payload)
        self.recv_bytes += len(audio)
        self.recv_chunks += 1
        self.recv_crc = zlib.crc32(audio, self.recv_crc)
        now = self.now_ms()
        self.last_media_at = now
        start = max(now, self._play_end)
        self._play_end = start + len(audio) / 8.0
        self.heard.append([start, bytearray(audio)])

    def _on_mark(self, name: str) -> None:
        self.marks_received.append(name)
        delay = (self._play_end - self.now_ms()) / 1000.0
        if delay <= 0:
            self._echo(name)
        else:
            self._pending[name] = asyncio.get_running_loop().call_later(delay, self._echo, name)

    def _echo(self, name: str) -> None:
        self._pending.pop(name, None)
        self.marks_echoed.append(name)
        mark = {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
        if self.ws is not None and writable(self.ws):  # at once, in order, with no task
            self.seq += 1
            write_texts(self.ws, json.dumps({**mark, "sequenceNumber": str(self.seq)}))
            return
        task = asyncio.ensure_future(self._send_quietly(mark))
        self._echo_tasks.add(task)
        task.add_done_callback(self._echo_tasks.discard)

    async def _send_quietly(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.send_json(message)

    def _on_clear(self) -> None:
        now = self.now_ms()
        self.clears.append(now)
        for segment in self.heard:
            start, audio = segment
            played = max(0, int((now - start) * 8))
            if played < len(audio):
                del audio[played:]
        self._play_end = now
        for name, handle in list(self._pending.items()):
            handle.cancel()
            self._echo(name)  # Twilio echoes every pending mark on clear

    def heard_audio(self, total_ms: int) -> bytes:
        """What the caller heard, as μ-law on the stream clock (silence where nothing played)."""
        out = bytearray(b"\xff" * (total_ms * 8))
        for start, audio in self.heard:
            at = round(start * 8)
            chunk = bytes(audio[: max(0, len(out) - at)])
            out[at : at + len(chunk)] = chunk
        return bytes(out)


# -- what a test needs around a driven call ------------------------------------------------------


def make_profile(*tools: str, interrupt_response: bool = True) -> AgentProfile:
    """A small agent profile; ``tools`` are names of argument-less tools."""
    names = tools or ("end_call",)
    return AgentProfile(
        name="test-agent",
        job="testing",
        instructions="Be brief.",
        disclosure="Hi, I'm an AI assistant. May I record this call?",
        turn_detection=TurnDetection(interrupt_response=interrupt_response, silence_duration_ms=200),
        tools=[ToolSpec(name=n, description=f"the {n} tool") for n in names],
        guardrails=Guardrails(escalation_number="+61255550199"),
        summary_schema="CallSummary",
    )


class RecordingHooks:
    """ConversationHooks that keep everything, and answer tools from ``outputs`` (name → output)."""

    def __init__(self, outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.outputs = outputs or {}
        self.turns: list[Turn] = []
        self.tool_calls: list[tuple[ToolCall, bool]] = []
        self.digits: list[str] = []
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def on_turn(self, turn: Turn) -> None:
        self.turns.append(turn)

    async def on_tool_call(self, call: ToolCall, cancelled: bool) -> ToolResult:
        self.tool_calls.append((call, cancelled))
        return ToolResult(
            call_id=call.call_id, name=call.name, ok=True, output=self.outputs.get(call.name, {})
        )

    async def on_dtmf(self, digit: str) -> None:
        self.digits.append(digit)

    async def on_event(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
