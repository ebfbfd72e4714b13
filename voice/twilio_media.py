"""Twilio Media Streams messages: typed, decoded and encoded here, and nowhere else.

Inbound messages (``connected``, ``start``, ``media``, ``dtmf``, ``mark``, ``stop``) are pydantic
models picked by ``event`` from a discriminated union; Twilio sends numeric fields as strings,
and lax validation turns them into ints. Anything that does not validate raises one error,
:class:`TwilioFrameError`, which the caller counts and skips: a bad frame never ends a call.

Caller audio is most of the traffic (50 ``media`` frames a second per call), and marks come
with every agent chunk, so :func:`decode_hot` reads those with the same rules but without
building models: one ``orjson`` parse and a few type checks, falling back to pydantic (a
``TypedDict`` validated in Rust) for a frame the checks are unsure of. Any frame it does not
accept (another event, or a media frame that is not well formed) goes to :func:`decode`, which
types it or raises, so a bad frame is still counted and skipped.

Outbound messages (``media``, ``mark``, ``clear``) are tiny frozen dataclasses: the bridge makes
two of them per agent audio chunk, so they are cheap to build, and :func:`encode` writes the
wire JSON. This module never touches a socket.
"""

from __future__ import annotations

import binascii
import json
from binascii import a2b_base64
from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

__all__ = [
    "ClearOut",
    "ConnectedMessage",
    "DtmfMessage",
    "InboundMessage",
    "MarkMessage",
    "MarkOut",
    "MediaMessage",
    "MediaOut",
    "OutboundMessage",
    "StartMessage",
    "StopMessage",
    "TwilioFrameError",
    "decode",
    "decode_hot",
    "encode",
]

# Base64 alphabet only: a payload that passes can be pasted into JSON without escaping.
_B64 = r"^[A-Za-z0-9+/]*={0,2}$"


class TwilioFrameError(ValueError):
    """A frame from Twilio that is not a valid Media Streams message (count it, skip it)."""


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConnectedMessage(_Msg):
    event: Literal["connected"]
    protocol: str = "Call"
    version: str = ""


class MediaFormat(_Msg):
    encoding: str = "audio/x-mulaw"
    sampleRate: int = 8000
    channels: int = 1


class StartInfo(_Msg):
    accountSid: str = ""
    streamSid: str
    callSid: str = ""
    tracks: list[str] = Field(default_factory=lambda: ["inbound"])
    customParameters: dict[str, str] = Field(default_factory=dict)
    mediaFormat: MediaFormat = Field(default_factory=MediaFormat)


class StartMessage(_Msg):
    event: Literal["start"]
    sequenceNumber: int = 0
    streamSid: str
    start: StartInfo


class MediaPayload(_Msg):
    track: str = "inbound"
    chunk: int = 0
    timestamp: int = Field(ge=0, description="ms since the stream started (Twilio's presentation clock)")
    payload: str = Field(pattern=_B64)


class MediaMessage(_Msg):
    event: Literal["media"]
    sequenceNumber: int = 0
    streamSid: str = ""
    media: MediaPayload


class Dtmf(_Msg):
    track: str = "inbound_track"
    digit: str = Field(pattern=r"^[0-9*#A-Da-d]$")


class DtmfMessage(_Msg):
    event: Literal["dtmf"]
    sequenceNumber: int = 0
    streamSid: str = ""
    dtmf: Dtmf


class Mark(_Msg):
    name: str


class MarkMessage(_Msg):
    event: Literal["mark"]
    sequenceNumber: int = 0
    streamSid: str = ""
    mark: Mark


class StopInfo(_Msg):
    accountSid: str = ""
    callSid: str = ""


class StopMessage(_Msg):
    event: Literal["stop"]
    sequenceNumber: int = 0
    streamSid: str = ""
    stop: StopInfo = Field(default_factory=StopInfo)


InboundMessage = Annotated[
    ConnectedMessage | StartMessage | MediaMessage | DtmfMessage | MarkMessage | StopMessage,
    Field(discriminator="event"),
]
_INBOUND: TypeAdapter[InboundMessage] = TypeAdapter(InboundMessage)


def decode(frame: str | bytes) -> InboundMessage:
    """One websocket frame from Twilio → its typed message. Raises :class:`TwilioFrameError`."""
    try:
        return _INBOUND.validate_json(frame)
    except ValidationError as exc:
        errors = exc.errors()
        kind = errors[0]["type"] if errors else "invalid"
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        raise TwilioFrameError(f"malformed Twilio frame: {kind} at {where}") from None


class _FastMedia(TypedDict):
    # The fields and rules of MediaPayload: a frame accepted here is one decode() accepts.
    track: NotRequired[str]
    chunk: NotRequired[int]
    timestamp: Annotated[int, Field(ge=0)]
    payload: Annotated[str, Field(pattern=_B64)]


class _FastMediaMessage(TypedDict):
    event: Literal["media"]
    sequenceNumber: NotRequired[int]
    streamSid: NotRequired[str]
    media: _FastMedia


_MEDIA: TypeAdapter[_FastMediaMessage] = TypeAdapter(_FastMediaMessage)


def decode_hot(frame: str | bytes) -> tuple[int, str, bytes] | str | None:
    """The hot path's reading of a frame: ``(timestamp, payload, μ-law)`` for a well-formed media
    frame, the name of a well-formed mark, None for anything else (give that to :func:`decode`).

    One ``orjson`` parse and a few type checks: no models. The checks accept only frames that
    :func:`decode` accepts with the same values; a frame they are unsure of (a number as a float,
    an unusual field) is read by the pydantic rules instead. The payload is decoded with a strict
    base64 decode, which is stricter than :func:`decode`'s pattern: a media frame that fails it
    comes back as None, and is counted as malformed when its audio cannot be decoded.
    """
    fields = _fast_fields(frame)
    if fields is _DEFER:
        fields = _reference_media(frame)
    if type(fields) is tuple:
        ts, payload = fields
        try:
            return ts, payload, a2b_base64(payload, strict_mode=True)
        except binascii.Error:
            return None
    return fields if type(fields) is str else None


_DEFER = object()


def _number(value: object) -> bool:
    """An int the pydantic rules surely accept: a JSON int, or a string of ASCII digits (Twilio's way)."""
    return type(value) is int or (type(value) is str and value.isascii() and value.isdigit())


def _fast_fields(frame: str | bytes) -> tuple[int, str] | str | object | None:
    """(timestamp, payload) of a media frame, a mark's name, None (surely neither), or _DEFER (unsure)."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return _DEFER
    if type(data) is not dict:
        return None
    event = data.get("event")
    if event == "media":
        media = data.get("media")
        if type(media) is not dict:
            return _DEFER
        ts, payload = media.get("timestamp"), media.get("payload")
        if type(ts) is str and ts.isascii() and ts.isdigit() and len(ts) < 19:
            ts = int(ts)
        elif type(ts) is not int or ts < 0:
            return _DEFER
        if (
            type(payload) is str
            and _number(data.get("sequenceNumber", 0))
            and _number(media.get("chunk", 0))
            and type(media.get("track", "")) is str
            and type(data.get("streamSid", "")) is str
        ):
            return ts, payload
        return _DEFER
    if event == "mark":
        mark = data.get("mark")
        name = mark.get("name") if type(mark) is dict else None
        if (
            type(name) is str
            and _number(data.get("sequenceNumber", 0))
            and type(data.get("streamSid", "")) is str
        ):
            return name
        return _DEFER
    return None if type(event) is str else _DEFER


def _reference_media(frame: str | bytes) -> tuple[int, str] | None:
    try:
        media = _MEDIA.validate_json(frame)["media"]
    except ValidationError:
        return None
    return media["timestamp"], media["payload"]


@dataclass(frozen=True, slots=True)
class MediaOut:
    """Agent audio for Twilio to play: base64 μ-law, 8 kHz, no header."""

    payload: str


@dataclass(frozen=True, slots=True)
class MarkOut:
    """Twilio echoes this name back when the audio queued before it has finished playing."""

    name: str


@dataclass(frozen=True, slots=True)
class ClearOut:
    """Empty Twilio's playback buffer now (Twilio then echoes every pending mark)."""


OutboundMessage = MediaOut | MarkOut | ClearOut


def _json_safe(text: str) -> bool:
    # Cheap (no per-character Python work). Control characters are not checked: media payloads
    # reach here only after a strict base64 decode (for the recording), which rejects them.
    return '"' not in text and "\\" not in text and text.isascii()


def _plain(text: str) -> bool:
    """Printable ASCII with no quote or backslash: pasted into JSON as it is (short strings only)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def encode(message: OutboundMessage, stream_sid: str) -> str:
    """The wire JSON of an outbound message.

    A media payload must be base64 (the conversation runner checks it with a strict decode);
    it is then pasted into the JSON as it is, which keeps the hot path to one concatenation.
    A mark name is pasted too when it is plain printable ASCII (the bridge's names are).
    """
    if type(message) is MediaOut:
        payload = message.payload
        if _json_safe(payload) and _plain(stream_sid):
            return '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"' + payload + '"}}'
        return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})
    if type(message) is MarkOut:
        name = message.name
        if _plain(name) and _plain(stream_sid):
            return '{"event":"mark","streamSid":"' + stream_sid + '","mark":{"name":"' + name + '"}}'
        return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})
    return json.dumps({"event": "clear", "streamSid": stream_sid})
