"""A light Realtime stand-in speaking the GA protocol: energy VAD, and each caller turn answered with a tone.

For load tests and benchmarks, where the real local engine (speech models) is too heavy for
hundreds of sessions on two cores. It is not a model: a frame is speech when most of its μ-law
bytes are not silence (``0xFF``/``0x7F``); ``silence_ms`` of silence ends a turn; the answer is a
sine tone of ``reply_ms`` streamed in ``chunk_ms`` deltas at real-time pace with a small lead.
Barge-in cancels the response when ``interrupt_response`` is on, as the real service does;
``response.cancel`` and ``conversation.item.truncate`` are honoured, with the real error shapes.
Each session keeps byte counts and CRCs of what came in and what went out, so a test can prove
no frame was dropped. ``tools`` makes turn N answer with a function call instead of a tone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import re
import ssl
import zlib
from collections import Counter
from typing import Any

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voice.audio import mulaw_encode
from voice.wsfast import FastPath, send_texts, writable, write_texts

_ids = itertools.count(1)
_APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
_SAY = re.compile(r'Say exactly: "(.*)"', re.S)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):08d}"


def _event(type_: str, **fields: Any) -> str:
    return json.dumps({"type": type_, "event_id": _id("event"), **fields})


def tone(ms: int, freq: float, amplitude: int = 8000) -> bytes:
    t = np.arange(ms * 8) / 8000.0
    return mulaw_encode((amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16))


class _Conn(FastPath, ServerConnection):
    """A Realtime-side socket with the voice worker's hot path (the stand-in must outrun the worker)."""


class ToneSession:
    def __init__(self, server: ToneRealtime, ws: ServerConnection) -> None:
        self.server, self.ws = server, ws
        self.turn_detection: dict[str, Any] = {"interrupt_response": True, "create_response": True}
        self.audio_ms = 0
        self.in_speech = False
        self.silence_run = 0
        self.user_item = ""
        self.turns = 0
        self.in_bytes = self.out_bytes = self.out_chunks = 0
        self.in_crc = self.out_crc = 0
        self.events: Counter[str] = Counter()
        self.truncates: list[tuple[str, int]] = []
        self.errors_sent: list[str] = []
        self.response: asyncio.Task[None] | None = None
        self.item_sent_ms: dict[str, int] = {}
        self.created: list[dict[str, Any]] = []  # items the client created (a reconnect's replay)
        self.requested: list[dict[str, Any]] = []  # response.create events, as sent

    def abort(self) -> None:
        """Lose the socket, no close frame: what a network failure looks like to the client."""
        self.ws.transport.abort()

    async def expire(self) -> None:
        """What OpenAI does at the session's maximum duration: ``session_expired``, then close 1001."""
        err = {
            "type": "invalid_request_error",
            "code": "session_expired",
            "message": "Your session hit the maximum duration of 60 minutes.",
            "param": None,
        }
        with contextlib.suppress(ConnectionClosed):
            await self.send("error", error=err)
            await self.ws.close(1001, "session expired")

    async def send(self, type_: str, **fields: Any) -> None:
        await send_texts(self.ws, _event(type_, **fields))

    async def error(self, code: str, message: str, param: str | None = None) -> None:
        self.errors_sent.append(code)
        err = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        await self.send("error", error=err)

    async def run(self) -> None:
        await self.send(
            "session.created", session={"type": "realtime", "id": _id("sess"), "object": "realtime.session"}
        )
        ws = self.ws
        fast = ws if isinstance(ws, FastPath) else None
        if fast is not None:  # caller audio is most of the load: taken in the socket's callback
            fast.attach(self._append_now)
        try:
            while True:
                frame = (await fast.next_message())[0] if fast is not None else await ws.recv()
                event = json.loads(frame)
                kind = event.get("type", "")
                self.events[kind] += 1
                handler = getattr(self, "on_" + kind.replace(".", "_"), None)
                if handler is None:
                    await self.error("unknown_event", f"Unknown event type {kind!r}")
                else:
                    await handler(event)
        except ConnectionClosed:
            pass
        finally:
            if fast is not None:
                fast.detach()
            if self.response is not None:
                self.response.cancel()

    # -- client events -----------------------------------------------------------------------

    async def on_session_update(self, event: dict[str, Any]) -> None:
        session = event["session"]
        td = session.get("audio", {}).get("input", {}).get("turn_detection")
        if td:
            self.turn_detection.update(td)
        await self.send("session.updated", session=session)

    def _append_now(self, frame: bytes, t: int) -> bool:
        """An ``input_audio_buffer.append`` in the voice worker's own shape, when the reply can be
        written at once; anything else goes to :meth:`run`."""
        if not (frame.startswith(_APPEND_HEAD) and frame.endswith(b'"}') and writable(self.ws)):
            return False
        self.events["input_audio_buffer.append"] += 1
        texts = self._audio(binascii.a2b_base64(frame[len(_APPEND_HEAD) : -2]))
        if texts:
            write_texts(self.ws, *texts)
        return True

    async def on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        texts = self._audio(binascii.a2b_base64(event["audio"]))
        if texts:
            await send_texts(self.ws, *texts)

    def _audio(self, audio: bytes) -> list[str]:
        """Caller audio through the energy VAD: the events to send back."""
        self.in_bytes += len(audio)
        self.in_crc = zlib.crc32(audio, self.in_crc)
        ms = len(audio) // 8
        speech = audio.count(0xFF) + audio.count(0x7F) < len(audio) // 2
        out: list[str] = []
        if speech:
            self.silence_run = 0
            if not self.in_speech:
                self.in_speech, self.user_item = True, _id("item")
                out.append(
                    _event(
                        "input_audio_buffer.speech_started",
                        audio_start_ms=self.audio_ms,
                        item_id=self.user_item,
                    )
                )
                if self.response is not None and self.turn_detection.get("interrupt_response", True):
                    self.response.cancel()
        elif self.in_speech:
            self.silence_run += ms
            if self.silence_run >= self.server.silence_ms:
                out += self._end_turn(self.audio_ms + ms - self.silence_run)
        self.audio_ms += ms
        return out

    def _end_turn(self, end_ms: int) -> list[str]:
        self.in_speech, self.turns = False, self.turns + 1
        item = self.user_item
        usage = {"type": "duration", "seconds": 1.0}
        out = [
            _event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=item),
            _event("input_audio_buffer.committed", item_id=item, previous_item_id=None),
            _event(
                "conversation.item.input_audio_transcription.completed",
                item_id=item, content_index=0, transcript=f"caller turn {self.turns}", usage=usage,
            ),
        ]  # fmt: skip
        if self.turn_detection.get("create_response", True) and self.response is None:
            self._respond(f"Agent reply number {self.turns}.", self.server.tools.pop(self.turns, None))
        return out

    async def on_response_create(self, event: dict[str, Any]) -> None:
        self.requested.append(event)
        if self.response is not None:
            await self.error(
                "conversation_already_has_active_response", "Conversation already has an active response"
            )
            return
        said = _SAY.search((event.get("response") or {}).get("instructions", ""))
        self._respond(said.group(1) if said else "Here is what I found.")

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        if self.response is None:
            await self.error("response_cancel_not_active", "Cancellation failed: no active response found")
        else:
            self.response.cancel()

    async def on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end_ms = event["item_id"], event["audio_end_ms"]
        sent = self.item_sent_ms.get(item_id)
        if sent is None or end_ms > sent:
            await self.error(
                "invalid_value", f"Audio content of {sent or 0}ms is already shorter than {end_ms}ms"
            )
            return
        self.truncates.append((item_id, end_ms))
        await self.send("conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms)

    async def on_conversation_item_create(self, event: dict[str, Any]) -> None:
        self.created.append(event["item"])
        item = {**event["item"], "id": _id("item"), "object": "realtime.item", "status": "completed"}
        await self.send("conversation.item.added", item=item, previous_item_id=None)

    # -- responses ---------------------------------------------------------------------------

    def _respond(self, text: str, tool: tuple[str, dict[str, Any]] | None = None) -> None:
        self.response = asyncio.ensure_future(self._stream_response(text, tool))

    async def _stream_response(self, text: str, tool: tuple[str, dict[str, Any]] | None) -> None:
        rid, item = _id("resp"), _id("item")
        base = {"response_id": rid, "item_id": item, "output_index": 0, "content_index": 0}
        status, reason = "completed", None
        await self.send(
            "response.created", response={"id": rid, "object": "realtime.response", "status": "in_progress"}
        )
        try:
            if tool is not None:
                await self._function_call(rid, tool)
                return
            msg = {
                "id": item,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "content": [],
            }
            await self.send(
                "response.output_item.added",
                response_id=rid,
                output_index=0,
                item={**msg, "status": "in_progress"},
            )
            # The transcript leads the audio, as the real service's deltas do.
            await self.send("response.output_audio_transcript.delta", **base, delta=text)
            audio = tone(self.server.reply_ms, 300.0 + 23.0 * (next(_ids) % 20))
            step = self.server.chunk_ms * 8
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            self.item_sent_ms[item] = 0
            for k, offset in enumerate(range(0, len(audio), step)):
                wait = t0 + k * self.server.chunk_ms / 1000 - self.server.lead_ms / 1000 - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                chunk = audio[offset : offset + step]
                self.out_bytes += len(chunk)
                self.out_chunks += 1
                self.out_crc = zlib.crc32(chunk, self.out_crc)
                self.item_sent_ms[item] += len(chunk) // 8
                await self.send("response.output_audio.delta", **base, delta=base64.b64encode(chunk).decode())
        except asyncio.CancelledError:
            status, reason = "cancelled", "turn_detected"
        finally:
            if self.response is asyncio.current_task():
                self.response = None
        with contextlib.suppress(ConnectionClosed):
            await self.send("response.output_audio.done", **base)
            await self.send("response.output_audio_transcript.done", **base, transcript=text)
            done: dict[str, Any] = {"id": rid, "object": "realtime.response", "status": status}
            if reason:
                done["status_details"] = {"type": "cancelled", "reason": reason}
            await self.send("response.done", response=done)

    async def _function_call(self, rid: str, tool: tuple[str, dict[str, Any]]) -> None:
        name, args = tool
        call_id, item = _id("call"), _id("item")
        fc = {
            "id": item,
            "object": "realtime.item",
            "type": "function_call",
            "name": name,
            "call_id": call_id,
        }
        await self.send(
            "response.output_item.added", response_id=rid, output_index=0, item={**fc, "arguments": ""}
        )
        await self.send(
            "response.function_call_arguments.done",
            response_id=rid, item_id=item, output_index=0, call_id=call_id, name=name, arguments=json.dumps(args),
        )  # fmt: skip
        await self.send(
            "response.done", response={"id": rid, "object": "realtime.response", "status": "completed"}
        )
        self.response = None


class ToneRealtime:
    """``async with ToneRealtime(port) as tone: settings.realtime_url = tone.url``."""

    def __init__(
        self,
        port: int = 0,
        *,
        reply_ms: int = 800,
        chunk_ms: int = 100,
        lead_ms: int = 200,
        silence_ms: int = 200,
        tools: dict[int, tuple[str, dict[str, Any]]] | None = None,
        tls: ssl.SSLContext | None = None,
        refuse_after: int | None = None,
    ) -> None:
        self.port, self.reply_ms, self.chunk_ms, self.lead_ms = port, reply_ms, chunk_ms, lead_ms
        self.tls = tls  # serve wss:// with this context, as OpenAI does
        self.silence_ms = silence_ms
        self.tools = dict(tools or {})
        self.refuse_after = refuse_after  # handshakes after this many sessions get a 503
        self.refused = 0
        self.sessions: list[ToneSession] = []
        self.headers: list[dict[str, str]] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/v1/realtime?model=gpt-realtime"

    async def __aenter__(self) -> ToneRealtime:
        self._server = await serve(
            self._session,
            "127.0.0.1",
            self.port,
            compression=None,
            max_size=2**24,
            create_connection=_Conn,
            ssl=self.tls,
            process_request=self._admit,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _admit(self, ws: ServerConnection, request: Request) -> Response | None:
        if self.refuse_after is not None and len(self.sessions) >= self.refuse_after:
            self.refused += 1
            return ws.respond(503, "The server is overloaded.\n")
        return None

    async def _session(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.headers.append({k.lower(): v for k, v in ws.request.headers.raw_items()})
        session = ToneSession(self, ws)
        self.sessions.append(session)
        await session.run()
