"""The OpenAI Realtime client (GA protocol only): one websocket, typed events in, JSON events out.

The same client talks to OpenAI (``wss://api.openai.com/v1/realtime?model=gpt-realtime``) and to
the local engine: the URL and key come from :class:`~switchboard.config.Settings`, never from a
code path. No ``OpenAI-Beta`` header and no beta event names exist here; the real service now
ends beta sessions with close code 4000.

Incoming frames are parsed with the ``openai`` package's own models. The SDK's union is not a
real pydantic discriminator (an unknown type silently becomes its first member), so events are
looked up by ``type`` in :data:`SERVER_EVENT_TYPES` and validated against that one class.

Errors, all :class:`RealtimeError`; ``fatal`` says whether the session is over::

    RealtimeError
    ├── RealtimeConnectError      fatal      handshake refused, unreachable, or timed out
    ├── RealtimeProtocolError     non-fatal  a frame that is not a GA event (bad JSON, unknown type)
    ├── RealtimeServerError                  an ``error`` event from the server
    │   ├── RealtimeRequestError  non-fatal  one client event was refused; the session lives on
    │   └── RealtimeFatalError    fatal      the server ends the session (close 4000, beta shape, auth)
    └── RealtimeClosed            fatal      the socket closed (a 4000 close raises RealtimeFatalError)

:meth:`RealtimeClient.recv` raises the fatal ones and :class:`RealtimeProtocolError`; a non-fatal
``error`` event is returned as the typed event (``RealtimeErrorEvent``) so the bridge can count
it and go on; :func:`error_from_event` turns it into its exception when one is wanted.
"""

from __future__ import annotations

import asyncio
import json
import typing
from typing import Any, ClassVar

import orjson
from openai.types.realtime import RealtimeErrorEvent, RealtimeServerEvent
from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from switchboard.config import Settings
from switchboard.models import AgentProfile, TurnDetection
from voice.wsfast import FastPath, send_texts

__all__ = [
    "FATAL_ERROR_CODES",
    "SERVER_EVENT_TYPES",
    "RealtimeClient",
    "RealtimeClosed",
    "RealtimeConnectError",
    "RealtimeError",
    "RealtimeFatalError",
    "RealtimeProtocolError",
    "RealtimeRequestError",
    "RealtimeServerError",
    "ServerEvent",
    "error_from_event",
    "event_from_frame",
    "parse_server_event",
    "read_server_frame",
    "send_texts",
    "session_config",
    "turn_detection_config",
]

ServerEvent = RealtimeServerEvent
FATAL_CLOSE_CODE = 4000
FATAL_ERROR_CODES = frozenset(
    {"beta_api_shape_disabled", "invalid_intent", "invalid_api_key", "session_expired", "insufficient_quota"}
)
_FATAL_ERROR_TYPES = frozenset({"authentication_error", "permission_error"})
_AUDIO_DELTA = "response.output_audio.delta"
TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"


def _event_classes() -> dict[str, type[BaseModel]]:
    union = typing.get_args(typing.get_args(RealtimeServerEvent)[0])
    table: dict[str, type[BaseModel]] = {}
    for cls in union:
        (name,) = typing.get_args(cls.model_fields["type"].annotation)
        table[name] = cls
        # The SDK defers building its validators to first use: ~10 ms an event type, which would
        # land in the middle of the first calls' audio. Build them all now, at import.
        cls.model_rebuild()
    return table


SERVER_EVENT_TYPES: dict[str, type[BaseModel]] = _event_classes()


# -- errors ------------------------------------------------------------------------------------


class RealtimeError(Exception):
    fatal: ClassVar[bool] = True


class RealtimeConnectError(RealtimeError):
    fatal = True


class RealtimeProtocolError(RealtimeError):
    fatal = False


class RealtimeServerError(RealtimeError):
    def __init__(
        self, message: str, *, type: str = "", code: str | None = None, param: str | None = None,
        event_id: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.type, self.code, self.param, self.event_id = type, code, param, event_id


class RealtimeRequestError(RealtimeServerError):
    fatal = False


class RealtimeFatalError(RealtimeServerError):
    fatal = True


class RealtimeClosed(RealtimeError):
    fatal = True

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"realtime socket closed ({code}) {reason}".strip())
        self.code, self.reason = code, reason


def error_from_event(event: RealtimeErrorEvent) -> RealtimeServerError:
    """The exception an ``error`` event stands for: fatal when it ends the session."""
    err = event.error
    fatal = (err.code or "") in FATAL_ERROR_CODES or err.type in _FATAL_ERROR_TYPES
    cls = RealtimeFatalError if fatal else RealtimeRequestError
    return cls(err.message, type=err.type, code=err.code, param=err.param, event_id=err.event_id)


def _loads(frame: str | bytes) -> Any:
    """orjson, and the standard parser for what orjson refuses but JSON allows (a lone surrogate escape)."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        try:
            return json.loads(frame)
        except ValueError:
            raise RealtimeProtocolError("realtime frame is not JSON") from None


def _typed(data: Any) -> ServerEvent:
    if type(data) is not dict:
        raise RealtimeProtocolError("realtime frame is not a JSON object")
    cls = SERVER_EVENT_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise RealtimeProtocolError(f"unknown realtime event type {str(data.get('type'))[:60]!r}")
    try:
        return cls.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise RealtimeProtocolError(f"invalid {data['type']} event: {exc.error_count()} errors") from None


def _raise_fatal(event: ServerEvent) -> ServerEvent:
    if event.type == "error":
        error = error_from_event(event)
        if error.fatal:
            raise error
    return event


def parse_server_event(frame: str | bytes) -> ServerEvent:
    """One frame → its typed GA event. Raises :class:`RealtimeProtocolError` for anything else."""
    return _typed(_loads(frame))


def event_from_frame(frame: str | bytes) -> ServerEvent:
    """:func:`parse_server_event`, raising the fatal ``error`` events (a non-fatal one is returned)."""
    return _raise_fatal(parse_server_event(frame))


def _delta_fields(data: dict[str, Any]) -> tuple[str, str, str] | None:
    """An audio delta's ``(response_id, item_id, delta)`` when every field of the SDK's model is
    present with its exact JSON type (so the model would accept it with the same values)."""
    rid, item, delta = data.get("response_id"), data.get("item_id"), data.get("delta")
    if (
        type(rid) is str
        and type(item) is str
        and type(delta) is str
        and type(data.get("event_id")) is str
        and type(data.get("output_index")) is int
        and type(data.get("content_index")) is int
    ):
        return rid, item, delta
    return None


def read_server_frame(frame: str | bytes) -> tuple[str, str, str] | ServerEvent:
    """The conversation's reading of a frame, parsed once (the hot path).

    A ``response.output_audio.delta`` comes back as its ``(response_id, item_id, delta)``: read
    from the parsed JSON when the SDK's model surely accepts it, through the model when unsure.
    Any other frame comes back as :func:`event_from_frame` returns it (fatal ``error`` events
    raised, :class:`RealtimeProtocolError` for a frame that is not a GA event).
    """
    data = _loads(frame)
    if type(data) is dict and data.get("type") == _AUDIO_DELTA:
        hot = _delta_fields(data)
        if hot is not None:
            return hot
    event: Any = _raise_fatal(_typed(data))
    if event.type == _AUDIO_DELTA:
        return event.response_id, event.item_id, event.delta
    return event


# -- session configuration ---------------------------------------------------------------------


def turn_detection_config(td: TurnDetection, *, interrupt_response: bool | None = None) -> dict[str, Any]:
    """The GA ``audio.input.turn_detection`` object for a profile's turn detection."""
    interrupt = td.interrupt_response if interrupt_response is None else interrupt_response
    common = {"create_response": td.create_response, "interrupt_response": interrupt}
    if td.type == "semantic_vad":
        return {"type": "semantic_vad", "eagerness": td.eagerness, **common}
    return {
        "type": "server_vad",
        "threshold": td.threshold,
        "prefix_padding_ms": td.prefix_padding_ms,
        "silence_duration_ms": td.silence_duration_ms,
        **common,
    }


def session_config(profile: AgentProfile) -> dict[str, Any]:
    """The ``session`` of the opening ``session.update``: μ-law both ways, so audio passes through."""
    transcription: dict[str, str] = {"model": TRANSCRIPTION_MODEL}
    if profile.transcription_prompt:
        transcription["prompt"] = profile.transcription_prompt
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": profile.instructions,
        "tools": [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
            for t in profile.tools
        ],
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": transcription,
                "turn_detection": turn_detection_config(profile.turn_detection),
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": profile.voice},
        },
    }


# -- the client --------------------------------------------------------------------------------


class StampedClientConnection(FastPath, ClientConnection):
    """The Realtime socket: notes each message's arrival, and has the hot path of :mod:`voice.wsfast`."""


class RealtimeClient:
    """One Realtime session over one websocket.

    Usage::

        client = await RealtimeClient.connect(settings, profile)   # sends session.update
        await client.append_audio(b64_mulaw)
        event = await client.recv()                                 # typed GA event
        await client.close()

    **Parameters**

    * ``connection`` — an open websocket to the Realtime endpoint (``connect`` makes one).
    """

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def connect(
        cls, settings: Settings, profile: AgentProfile | None = None, *, open_timeout_s: float = 10.0
    ) -> RealtimeClient:
        """Open a session; with a profile, configure it at once (``session.update``)."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "local"
        try:
            ws = await connect(
                settings.realtime_url,
                additional_headers={"Authorization": f"Bearer {key}"},
                max_size=16 * 2**20,
                compression=None,
                open_timeout=open_timeout_s,
                ping_interval=20,
                ping_timeout=20,
                create_connection=StampedClientConnection,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise RealtimeConnectError(f"cannot open realtime session: {type(exc).__name__}: {exc}") from exc
        client = cls(ws)
        if profile is not None:
            await client.send({"type": "session.update", "session": session_config(profile)})
        return client

    async def send(self, event: dict[str, Any]) -> None:
        await self._send_text(json.dumps(event))

    async def append_audio(self, payload: str) -> None:
        """``input_audio_buffer.append`` for a base64 payload already checked to be base64 (hot path)."""
        await self._send_text('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')

    async def _send_text(self, text: str) -> None:
        try:
            await send_texts(self.connection, text)
        except ConnectionClosed as exc:
            raise self.closed_error(exc) from None

    async def recv(self) -> ServerEvent:
        """The next typed event. Raises fatal errors, and RealtimeProtocolError for a bad frame."""
        try:
            frame = await self.connection.recv()
        except ConnectionClosed as exc:
            raise self.closed_error(exc) from None
        arrivals = getattr(self.connection, "arrivals", None)
        if arrivals:  # keep the fast path's arrival stamps in step with the messages
            arrivals.popleft()
        return event_from_frame(frame)

    def closed_error(self, exc: ConnectionClosed) -> RealtimeError:
        """The error a closed socket stands for (close 4000 ends the session: fatal)."""
        rcvd = exc.rcvd
        if rcvd is not None and rcvd.code == FATAL_CLOSE_CODE:
            kind, _, code = rcvd.reason.partition(".")
            return RealtimeFatalError(f"realtime session ended: {rcvd.reason}", type=kind, code=code or None)
        return RealtimeClosed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "no close frame")

    async def close(self, timeout_s: float = 2.0) -> None:
        """Close politely, but never wait long: a call that is ending must not hang on it."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.connection.close()
        except (TimeoutError, OSError):
            self.connection.transport.abort()
