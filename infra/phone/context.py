"""What every call run shares with the network: credentials, the webhook sender, speech, storage."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.phone.callbacks import Webhooks
from infra.phone.callee import CalleeBook
from infra.phone.performer import Speech


@dataclass
class NetworkContext:
    account_sid: str
    auth_token: str
    http: httpx.AsyncClient
    webhooks: Webhooks
    speech: Speech | None
    recordings_dir: Path
    callees: CalleeBook = field(default_factory=CalleeBook)  # who answers a <Dial>ed number, and how


class Interrupt:
    """Lets the REST API cut into whatever the call is doing (a hangup or a redirect)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event = asyncio.Event()

    @property
    def fired(self) -> bool:
        return self._event.is_set()

    def fire(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def reset(self) -> None:
        self.reason = None
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()

    async def sleep(self, ms: float) -> bool:
        """Sleep ``ms``; False when interrupted first."""
        try:
            await asyncio.wait_for(self._event.wait(), ms / 1000)
        except TimeoutError:
            return True
        return False


@dataclass
class StreamRecord:
    """One media stream of a call, for the control API."""

    index: int
    stream_sid: str
    url: str
    name: str | None
    parameter_names: list[str]
    ended_by: str = ""
    reason: str = ""
    malformed: int = 0
    unknown_events: int = 0
    wav_path: str | None = None
    summary: dict[str, object] = field(default_factory=dict)
