"""The websocket server: HTTP checks at the handshake, then one ``Connection`` per socket.

The handshake (``process_request``) answers ``/healthz`` and the ``/control`` routes (``armory``)
as plain HTTP, checks the path, auth and query of a Realtime request, and gives an accepted
connection the oldest armed plan (or refuses it, 503, if the plan says so).

``Connection`` is the thin I/O layer around ``Session``: it reads frames, hands checked events
to the session, writes the session's events in order (applying injected faults), keeps the
session's clock (timed faults and the session cap, from ``session.created``), and runs the
effects that take time — transcription on the STT thread, speculative transcription while the
caller pauses, and one ``Responder`` task per response.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from infra.realtime_engine import armory, errors, faults
from infra.realtime_engine.client_events import MAX_FRAME_BYTES, client_event_id, parse_frame
from infra.realtime_engine.responder import Responder, Speech
from infra.realtime_engine.response_events import ActiveResponse
from infra.realtime_engine.session import Session
from infra.speech.stt import Transcriber, Transcript

log = logging.getLogger(__name__)
PATHS = ("/v1/realtime", "/realtime")


@dataclass
class Engine:
    """What every connection shares: one speech client, one Whisper model and the armed plans."""

    speech: Speech
    stt: Transcriber
    armed: armory.Armory = field(default_factory=armory.Armory)
    # the plan each accepted connection took at its handshake, until its handler picks it up
    taken: weakref.WeakKeyDictionary[ServerConnection, armory.Plan] = field(
        default_factory=weakref.WeakKeyDictionary
    )


class Connection:
    def __init__(self, ws: ServerConnection, engine: Engine, options: faults.Options, model: str) -> None:
        self.ws = ws
        self.engine = engine
        self.options = options
        self.out: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.session = Session(self, model, options.max_session_s)
        self.responder = Responder(self.session, engine.speech, options, self._inputs_ready)
        self.transcripts: dict[str, asyncio.Task[None]] = {}
        self._speculative: tuple[int, asyncio.Task[Transcript]] | None = None
        self._response_task: asyncio.Task[None] | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._sent = 0
        self._sent_by_type: Counter[str] = Counter()
        self._closing = False

    # -- Host: what the session asks of the outside world ---------------------------------

    def send(self, event: dict[str, Any]) -> None:
        self.out.put_nowait(event)

    def transcribe(self, item_id: str, audio: Any, prompt: str | None, pause: int | None) -> None:
        spec = self._speculative
        reuse = spec[1] if spec is not None and pause is not None and spec[0] == pause else None
        self._speculative = None
        self._done_transcripts()
        self.transcripts[item_id] = asyncio.create_task(self._transcribe(item_id, audio, prompt, reuse))

    def speculate(self, pause: int, audio: Any, prompt: str | None) -> None:
        if self._speculative is not None:
            self._speculative[1].cancel()
            self._speculative = None
        if self.engine.stt.busy:
            return  # a guess must never delay someone's real turn on the shared model
        self._speculative = (pause, asyncio.create_task(self.engine.stt.transcribe(audio, prompt)))

    def start_response(self, resp: ActiveResponse) -> None:
        self._response_task = asyncio.create_task(self.responder.run(resp))

    def stop_response(self, resp: ActiveResponse) -> None:
        if self._response_task is not None:
            self._response_task.cancel()
            self._response_task = None

    # -- effects ---------------------------------------------------------------------------

    async def _transcribe(
        self, item_id: str, audio: Any, prompt: str | None, reuse: asyncio.Task[Transcript] | None
    ) -> None:
        result: Transcript | None = None
        waited = time.perf_counter()
        if reuse is not None:
            with contextlib.suppress(asyncio.CancelledError):
                result = await reuse
        if result is None:
            try:
                result = await self.engine.stt.transcribe(np.asarray(audio, dtype=np.float32), prompt)
            except Exception as exc:  # the model failed: say so, and let the turn go on untranscribed
                log.exception("transcription failed")
                self.session.on_transcript_failed(item_id, type(exc).__name__)
                return
        log.info(
            "transcribed %.1f s of audio: %.0f ms after the turn ended (model %.0f ms, speculative %s)",
            result.audio_s,
            1000 * (time.perf_counter() - waited),
            1000 * result.elapsed_s,
            reuse is not None,
        )
        self.session.on_transcript(item_id, result.text, result.audio_s)

    async def _inputs_ready(self) -> None:
        pending = [t for t in self.transcripts.values() if not t.done()]
        if pending:
            await asyncio.wait(pending)

    # -- the socket ----------------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            if self.ws.request is not None and "openai-beta" in self.ws.request.headers:
                self._fail(errors.beta_shape_disabled(), None)
            else:
                self.session.start()
                await self._read()
        finally:
            for task in [self._response_task, self._clock_task, *self.transcripts.values()]:
                if task is not None:
                    task.cancel()
            if self._speculative is not None:
                self._speculative[1].cancel()
            self.out.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=5)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # a dropped socket ends the session quietly
            await self._read_frames()
        self._done_transcripts()

    async def _read_frames(self) -> None:
        async for frame in self.ws:
            if self._closing:
                break
            raw: Any = None
            try:
                if isinstance(frame, bytes):
                    raise errors.invalid_event("Binary frames are not supported; send JSON text frames.")
                with contextlib.suppress(ValueError):
                    raw = json.loads(frame)
                event = parse_frame(frame)
                self.session.handle(event)
            except errors.EngineError as exc:
                self._fail(exc, client_event_id(raw))
                if exc.fatal:
                    break
            except Exception:  # a bug must cost one event, not the caller's session
                log.exception("event handling failed")
                self._fail(errors.server_error(), client_event_id(raw))

    def _done_transcripts(self) -> None:
        self.transcripts = {k: t for k, t in self.transcripts.items() if not t.done()}

    def _fail(self, exc: errors.EngineError, client_event: str | None) -> None:
        self.session.emit("error", error=exc.payload(client_event))
        if exc.fatal:
            self._closing = True
            self.out.put_nowait({"__close__": exc.close_code, "reason": exc.close_reason})

    async def _write(self) -> None:
        while (event := await self.out.get()) is not None:
            if "__close__" in event:
                await self.ws.close(event["__close__"], event["reason"])
                return
            if self.ws.state.name != "OPEN":
                continue
            await self.ws.send(json.dumps(event))
            self._sent += 1
            self._sent_by_type[event["type"]] += 1
            if event["type"] == "session.created":
                self._clock_task = asyncio.create_task(self._clock())
            if await self._inject_faults():
                return

    async def _clock(self) -> None:
        """Timed faults and the session cap, counted from the moment ``session.created`` went out."""
        o = self.options
        started = time.monotonic()
        timers = [(o.max_session_s * 1000, "expire")]
        timers += [
            (ms, kind) for ms, kind in ((o.drop_at_ms, "drop"), (o.close_at_ms, "close")) if ms is not None
        ]
        at_ms, kind = min(timers)  # the first one ends the session
        await asyncio.sleep(max(0.0, started + at_ms / 1000 - time.monotonic()))
        if self._closing:
            return
        self._closing = True
        if kind == "drop":
            self.ws.transport.abort()
        elif kind == "close":
            self.out.put_nowait({"__close__": 1011, "reason": "injected fault"})
        else:
            self._fail(errors.session_expired(o.max_session_s), None)

    async def _inject_faults(self) -> bool:
        """Apply the connection's fault plan after each event; True when the socket is gone."""
        o = self.options
        if o.error_after is not None and self._sent == o.error_after:
            self.session.emit("error", error=errors.server_error("Injected fault.").payload(None))
        if o.close_after is not None and self._sent >= o.close_after:
            await self.ws.close(1011, "injected fault")
            return True
        if o.drop_after is not None and self._sent >= o.drop_after:
            self.ws.transport.abort()
            return True
        if o.drop_on is not None and self._sent_by_type[o.drop_on[0]] >= o.drop_on[1]:
            self.ws.transport.abort()
            return True
        return False


def process_request(engine: Engine, connection: ServerConnection, request: Request) -> Response | None:
    """Paths, health, control and auth, answered at the HTTP level like the real endpoint."""
    url = urlsplit(request.path)
    if url.path == "/healthz":
        body = b"ok\n"
        return Response(200, "OK", Headers([("Content-Length", str(len(body)))]), body)
    if url.path == armory.PREFIX or url.path.startswith(armory.PREFIX + "/"):
        return armory.handle(engine.armed, request)
    if url.path.rstrip("/") not in PATHS:
        return armory.error_response(http.HTTPStatus.NOT_FOUND, f"Invalid URL ({request.method} {url.path})")
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return armory.error_response(
            http.HTTPStatus.UNAUTHORIZED,
            "You didn't provide an API key. Provide it in an Authorization header (Bearer auth).",
        )
    try:
        faults.parse(dict(parse_qsl(url.query)))
    except errors.EngineError as exc:
        return armory.error_response(http.HTTPStatus.BAD_REQUEST, exc.message)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return None  # not a handshake: websockets answers it (426), and it takes no plan
    plan = engine.armed.take()
    if plan is not None and plan.refuse:
        return armory.refusal()
    if plan is not None:
        engine.taken[connection] = plan
    return None


def gatekeeper(engine: Engine) -> Callable[[ServerConnection, Request], Response | None]:
    def check(connection: ServerConnection, request: Request) -> Response | None:
        return process_request(engine, connection, request)

    return check


def handler(engine: Engine) -> Any:
    async def handle(ws: ServerConnection) -> None:
        assert ws.request is not None
        query = dict(parse_qsl(urlsplit(ws.request.path).query))
        options = faults.parse(query)
        plan = engine.taken.pop(ws, None)
        if plan is not None:
            options = faults.apply(options, plan.options)
            log.info("connection takes armed plan %d: %s", plan.id, plan.options)
        connection = Connection(ws, engine, options, query.get("model", "gpt-realtime"))
        await connection.run()

    return handle


async def start(engine: Engine, host: str, port: int) -> Server:
    return await serve(
        handler(engine),
        host,
        port,
        process_request=gatekeeper(engine),
        max_size=MAX_FRAME_BYTES,
        max_queue=64,
        compression=None,
        ping_interval=20,
        ping_timeout=20,
    )
