"""Calls as the phone network knows them: status, options from the REST request, and history.

A ``Call`` is plain state; the lifecycle coroutines move it along and the REST layer renders it
in Twilio's JSON shape, so the SDK's ``CallInstance`` reads every field it expects.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

API_VERSION = "2010-04-01"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")  # a phone number as Twilio takes it


class CallStatus(StrEnum):
    QUEUED = "queued"
    INITIATED = "initiated"  # only ever seen in the ``initiated`` status callback
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"


FINAL = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.CANCELED}
)


def new_sid(prefix: str) -> str:
    """Twilio-shaped ids: two letters and 32 hex digits (``CA…`` calls, ``MZ…`` streams)."""
    return prefix + uuid.uuid4().hex


def rfc2822(dt: datetime | None) -> str | None:
    """Twilio's date format on the wire: ``Tue, 31 Aug 2010 20:36:28 +0000``."""
    return None if dt is None else format_datetime(dt.astimezone(UTC))


@dataclass
class CallOptions:
    """What the REST request (or an inbound number's configuration) asked of the call."""

    twiml: str | None = None
    url: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_events: frozenset[str] = frozenset({"completed"})
    status_callback_method: str = "POST"
    timeout_s: int = 60
    machine_detection: str | None = None  # Enable | DetectMessageEnd
    async_amd: bool = False
    async_amd_callback: str | None = None
    async_amd_callback_method: str = "POST"


@dataclass
class StatusChange:
    status: str
    at_ms: int  # since the call was created


@dataclass
class CallEvent:
    """Something that happened to the call outside the media stream (TwiML verbs, transfers, errors)."""

    kind: str
    at_ms: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Call:
    sid: str
    account_sid: str
    to: str
    from_: str
    direction: str  # outbound-api | inbound
    options: CallOptions
    status: CallStatus = CallStatus.QUEUED
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_by: str | None = None
    transferred_to: str | None = None
    status_history: list[StatusChange] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.status_history.append(StatusChange(self.status.value, 0))

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def set_status(self, status: CallStatus) -> None:
        now = datetime.now(UTC)
        self.status = status
        self.updated_at = now
        if status is CallStatus.IN_PROGRESS and self.start_time is None:
            self.start_time = now
        if status in FINAL and self.end_time is None:
            self.end_time = now
        self.status_history.append(StatusChange(status.value, self.ms()))

    def note(self, kind: str, **detail: Any) -> None:
        self.events.append(CallEvent(kind, self.ms(), detail))

    @property
    def duration_s(self) -> int:
        """Whole seconds between answer and end, as Twilio reports ``CallDuration``."""
        if self.start_time is None:
            return 0
        end = self.end_time or datetime.now(UTC)
        return max(0, round((end - self.start_time).total_seconds()))

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        """The call resource exactly as Twilio's REST API returns it."""
        base = self.uri.removesuffix(".json")
        subresources = ("notifications", "recordings", "payments", "events", "siprec", "streams")
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.updated_at),
            "direction": self.direction,
            "duration": str(self.duration_s) if self.end_time else None,
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            "status": self.status.value,
            "stir_verstat": None,
            "subresource_uris": {name: f"{base}/{name.capitalize()}.json" for name in subresources},
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": self.uri,
        }


class CallRegistry:
    """Every call the network has seen, by sid (kept for the process lifetime: a test tool, not a DB)."""

    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}

    def add(self, call: Call) -> Call:
        self._calls[call.sid] = call
        return call

    def get(self, sid: str) -> Call | None:
        return self._calls.get(sid)

    def all(self) -> list[Call]:
        return list(self._calls.values())


def twilio_page(request: web.Request, key: str, items: list[dict[str, Any]]) -> web.Response:
    """One page of a Twilio list resource (the SDK reads ``key`` and the paging fields): all of it."""
    uri = f"{request.path}?PageSize=50&Page=0"
    page = {"end": max(len(items) - 1, 0), "first_page_uri": uri, "next_page_uri": None, "page": 0}
    page |= {"page_size": 50, "previous_page_uri": None, "start": 0, "uri": uri}
    return web.json_response({key: items, **page})
