"""Twilio Media Streams messages: typed, decoded and encoded here, and nowhere else.

Inbound messages (``connected``, ``start``, ``media``, ``dtmf``, ``mark``, ``stop``) are pydantic
models picked by ``event`` from a discriminated union; Twilio sends numeric fields as strings,
and lax validation turns them into ints. Anything that does not validate raises one error,
:class:`TwilioFrameError`, which the caller counts and skips: a bad frame never ends a call.

Caller audio is most of the traffic (50 ``media`` frames a second per call), so
:func:`decode_media` reads those with the same rules but without building models: pydantic
validates the frame against a ``TypedDict`` in Rust and hands back two values. Any frame it does
not accept (another event, or a media frame that is not well formed) goes to :func:`decode`,
which types it or raises, so a bad frame is still counted and skipped.

Outbound messages (``media``, ``mark``, ``clear``) are tiny frozen dataclasses: the bridge makes
two of them per agent audio chunk, so they are cheap to build, and :func:`encode` writes the
wire JSON. This module never touches a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired

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
    "decode_media",
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


def decode_media(frame: str | bytes) -> tuple[int, str] | None:
    """``(timestamp, payload)`` of a well-formed ``media`` frame, without building models (hot path).

    None for any other frame: give that one to :func:`decode`, which types it or raises.
    """
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


def encode(message: OutboundMessage, stream_sid: str) -> str:
    """The wire JSON of an outbound message.

    A media payload must be base64 (the conversation runner checks it with a strict decode);
    it is then pasted into the JSON as it is, which keeps the hot path to one concatenation.
    """
    if type(message) is MediaOut:
        payload = message.payload
        if _json_safe(payload) and _json_safe(stream_sid):
            return '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"' + payload + '"}}'
        return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})
    if type(message) is MarkOut:
        return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": message.name}})
    return json.dumps({"event": "clear", "streamSid": stream_sid})
