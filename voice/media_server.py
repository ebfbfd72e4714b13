"""The media server: Twilio opens ``/media-stream`` here, one websocket per call, many calls a process.

A stream is served only once its ``start`` message carries a ``call_id`` and a ``token`` (as
``<Parameter>``s of the TwiML ``<Stream>``) that verify against the stream secret; anything else
is closed with 1008 (policy violation). No anonymous stream is ever bridged.

An accepted stream is handed to a :class:`StreamBroker`, keyed by call id. The conversation
activity running in the same process claims it (``await broker.claim(call_id, timeout)``) and
runs :func:`voice.conversation.run_conversation` on it; the socket stays open until the stream
is released. ``broker.wait_arrival()`` or ``on_stream`` tells the worker a stream arrived, so it
can tell the call's workflow which host holds it. Tests can instead pass a ``handler`` that runs
each accepted stream directly.

``/healthz`` answers 200 over plain HTTP (503 once the worker drains: ``voice/drain.py``), and ``/metrics`` the worker's Prometheus metrics when the
server is given a :class:`voice.metrics.VoiceMetrics` (served on the event loop, between frames:
about a millisecond per scrape). The load balancer forwards only ``/media-stream``, so neither is
public.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from switchboard.config import Settings
from switchboard.tokens import verify_stream_token
from voice import twilio_media
from voice.metrics import CONTENT_TYPE, VoiceMetrics
from voice.twilio_media import StartMessage, TwilioFrameError
from voice.wsfast import FastPath

__all__ = ["MediaServer", "MediaStream", "StampedServerConnection", "StreamBroker", "StreamHandler"]

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
MAX_MALFORMED_BEFORE_START = 20


class StampedServerConnection(FastPath, ServerConnection):
    """A media socket: notes each message's arrival, and has the hot path of :mod:`voice.wsfast`."""


@dataclass
class MediaStream:
    """An accepted, authenticated media stream: its socket and its ``start`` message."""

    ws: ServerConnection
    start: StartMessage
    call_id: str
    malformed_before_start: int = 0
    arrived_at: float = field(default_factory=time.time)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _claimed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def stream_sid(self) -> str:
        return self.start.start.streamSid

    @property
    def parameters(self) -> dict[str, str]:
        """The ``<Parameter>``s of the stream, without the token."""
        return {k: v for k, v in self.start.start.customParameters.items() if k != "token"}

    def release(self) -> None:
        """The conversation is over: the server may close the socket."""
        self._released.set()


StreamHandler = Callable[[MediaStream], Awaitable[None]]
OnStream = Callable[[str, dict[str, str]], Awaitable[None]]


class StreamBroker:
    """Hands accepted streams to whoever claims them by call id (same process, no I/O)."""

    def __init__(self, *, on_stream: OnStream | None = None, max_arrivals: int = 1024) -> None:
        self._streams: dict[str, MediaStream] = {}
        self._waiters: dict[str, asyncio.Future[MediaStream]] = {}
        self._arrivals: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue(max_arrivals)
        self._on_stream = on_stream

    def offer(self, stream: MediaStream) -> bool:
        """Make a stream claimable. False when that call id already has one (the newcomer is refused)."""
        if stream.call_id in self._streams:
            return False
        waiter = self._waiters.pop(stream.call_id, None)
        if waiter is not None and not waiter.done():
            stream._claimed.set()
            waiter.set_result(stream)
        else:
            self._streams[stream.call_id] = stream
        with contextlib.suppress(asyncio.QueueFull):
            self._arrivals.put_nowait((stream.call_id, stream.parameters))
        return True

    async def notify(self, stream: MediaStream) -> None:
        if self._on_stream is not None:  # with its stream sid: a new one mid-call is a resume
            await self._on_stream(stream.call_id, {**stream.parameters, "stream_sid": stream.stream_sid})

    def withdraw(self, stream: MediaStream) -> None:
        """The stream ended before anyone claimed it."""
        if self._streams.get(stream.call_id) is stream:
            del self._streams[stream.call_id]

    async def claim(self, call_id: str, timeout_s: float) -> MediaStream:
        """The stream of ``call_id``, waiting up to ``timeout_s`` seconds for it. Raises TimeoutError."""
        stream = self._streams.pop(call_id, None)
        if stream is not None:
            stream._claimed.set()
            return stream
        waiter = self._waiters.get(call_id)
        if waiter is None or waiter.done():
            waiter = self._waiters[call_id] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.shield(waiter)
        finally:
            if self._waiters.get(call_id) is waiter and not waiter.done():
                del self._waiters[call_id]

    async def wait_arrival(self) -> tuple[str, dict[str, str]]:
        """The next stream to arrive: (call id, its parameters without the token)."""
        return await self._arrivals.get()

    def pending(self) -> list[str]:
        return list(self._streams)


class MediaServer:
    """The websocket server. ``async with MediaServer(settings, broker) as server: ...``.

    **Parameters**

    * ``broker`` — where accepted streams go (ignored when ``handler`` is given).
    * ``handler`` — run each accepted stream directly (tests, benchmarks).
    * ``start_timeout_s`` — how long a new socket may take to send ``start``.
    * ``claim_timeout_s`` — how long an accepted stream waits to be claimed before it is closed.
    * ``metrics`` — counts streams there and serves ``/metrics`` (none: no ``/metrics``).
    * ``draining`` — when it returns True, ``/healthz`` answers 503 (the worker drains).
    """

    def __init__(
        self,
        settings: Settings,
        broker: StreamBroker | None = None,
        *,
        handler: StreamHandler | None = None,
        start_timeout_s: float = 10.0,
        claim_timeout_s: float = 60.0,
        port: int | None = None,
        metrics: VoiceMetrics | None = None,
        draining: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.draining = draining or (lambda: False)
        self.metrics = metrics
        self.broker = broker or StreamBroker()
        self.handler = handler
        self.start_timeout_s = start_timeout_s
        self.claim_timeout_s = claim_timeout_s
        self.port = settings.ports.voice if port is None else port
        self.accepted = 0
        self.rejected = 0
        self._server: Server | None = None

    async def __aenter__(self) -> MediaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await serve(
            self._serve_socket,
            self.settings.bind_address,
            self.port,
            process_request=self._http,
            create_connection=StampedServerConnection,
            max_size=2**20,
            compression=None,
            ping_interval=20,
            ping_timeout=20,
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            if self.draining():  # the load balancer sends nothing new; the streams here go on
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path == "/metrics" and self.metrics is not None:
            body = self.metrics.exposition()
            headers = Headers([("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
            return Response(HTTPStatus.OK, "OK", headers, body)
        if path != "/media-stream":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return Response(HTTPStatus.UPGRADE_REQUIRED, "Upgrade Required", Headers(), b"")
        return None

    async def _serve_socket(self, ws: ServerConnection) -> None:
        try:
            stream = await self._await_start(ws)
        except (TimeoutError, ConnectionClosed):
            return
        if stream is None:
            self.rejected += 1
            self._refused("bad_token")
            await ws.close(POLICY_VIOLATION, "invalid or missing stream token")
            return
        self.accepted += 1
        if self.metrics is not None:
            self.metrics.stream_accepted()
        if self.handler is not None:
            try:
                await self.handler(stream)
            except Exception:
                log.exception("stream handler failed (call %s)", stream.call_id)
            return
        if not self.broker.offer(stream):
            self._refused("duplicate")
            await ws.close(TRY_AGAIN_LATER, "a stream for this call is already open")
            return
        await self.broker.notify(stream)
        claimed = asyncio.ensure_future(stream._claimed.wait())
        released = asyncio.ensure_future(stream._released.wait())
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            done, _ = await asyncio.wait({claimed, closed}, timeout=self.claim_timeout_s)
            if not done:  # nobody claimed it in time
                self.broker.withdraw(stream)
                self._refused("unclaimed")
                await ws.close(TRY_AGAIN_LATER, "no conversation claimed the stream")
            elif claimed not in done:  # the caller left before anyone claimed the stream
                self.broker.withdraw(stream)
            else:  # a conversation holds it: keep the socket until it is released or closes
                await asyncio.wait({released, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            claimed.cancel()
            released.cancel()
            closed.cancel()

    def _refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.stream_refused(reason)

    async def _await_start(self, ws: ServerConnection) -> MediaStream | None:
        """Read up to ``start``; None when its token does not verify for its call id."""
        malformed = 0
        async with asyncio.timeout(self.start_timeout_s):
            while True:
                frame = await ws.recv()
                arrivals = getattr(ws, "arrivals", None)
                if arrivals:
                    arrivals.popleft()
                try:
                    msg = twilio_media.decode(frame)
                except TwilioFrameError:
                    malformed += 1
                    if malformed > MAX_MALFORMED_BEFORE_START:
                        return None
                    continue
                if isinstance(msg, StartMessage):
                    break
        params = msg.start.customParameters
        call_id, token = params.get("call_id", ""), params.get("token", "")
        secret = self.settings.stream_secret.get_secret_value()
        if not call_id or not token or not verify_stream_token(call_id, token, secret):
            log.warning("media stream refused: bad or missing token")
            return None
        return MediaStream(ws=ws, start=msg, call_id=call_id, malformed_before_start=malformed)
