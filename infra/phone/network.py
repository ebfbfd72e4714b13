"""The phone network in one object: calls, callees, and the in-process API tests use directly.

The HTTP layers (``rest.py`` for Twilio's REST subset, ``control.py`` for ``/_sim``) are thin
translations onto this class, so a test can drive the very same objects without HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from infra.phone.callbacks import Webhooks
from infra.phone.callee import Callee, CalleeBook
from infra.phone.calls import E164, Call, CallOptions, CallRegistry, new_sid
from infra.phone.context import NetworkContext
from infra.phone.performer import Speech
from infra.phone.run import CallRun
from infra.phone.texts import Texts


class PhoneError(Exception):
    """A request Twilio would refuse, with Twilio's HTTP status and error code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class InboundCall(BaseModel):
    """A call into one of our numbers, placed from the control API."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    url: str | None = Field(
        default=None, description="The number's voice webhook (else the network default)."
    )
    method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: list[str] = Field(default_factory=lambda: ["completed"])
    caller: Callee = Field(default_factory=Callee, description="How the calling party behaves.")


class PhoneNetwork:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        speech: Speech | None,
        recordings_dir: Path,
        default_voice_url: str | None = None,
        callback_attempts: int = 3,
        default_sms_url: str | None = None,
        business_number: str | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.default_voice_url = default_voice_url
        self.callees = CalleeBook()
        self.calls = CallRegistry()
        self._runs: dict[str, CallRun] = {}
        self._http = httpx.AsyncClient(timeout=10.0)
        self.ctx = NetworkContext(
            account_sid=account_sid,
            auth_token=auth_token,
            http=self._http,
            webhooks=Webhooks(self._http, auth_token, attempts=callback_attempts),
            speech=speech,
            recordings_dir=recordings_dir,
            callees=self.callees,
        )
        self.texts = Texts(
            account_sid,
            self.ctx.webhooks,
            self.callees,
            sms_url=default_sms_url,
            business_number=business_number,
        )

    async def aclose(self) -> None:
        """Hang up every live call, let them finish, then release the HTTP client."""
        for run in self._runs.values():
            run.hang_up("completed")
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10.0)
        await self.texts.aclose()
        await self._http.aclose()

    # -- Twilio REST semantics ------------------------------------------------------------------
    def create_call(self, to: str, from_: str, options: CallOptions) -> Call:
        if not to:
            raise PhoneError(400, 21201, "No 'To' number is specified")
        if not E164.match(to):
            raise PhoneError(400, 21211, "The 'To' number is not a valid phone number.")
        if not from_:
            raise PhoneError(400, 21603, "A 'From' phone number is required.")
        if not E164.match(from_):
            raise PhoneError(400, 21212, "The 'From' number is not a valid phone number.")
        if options.twiml is None and options.url is None:
            raise PhoneError(400, 21205, "Url or Twiml parameter is required.")
        if options.twiml is not None and len(options.twiml) > 4000:
            raise PhoneError(400, 21230, "Twiml parameter is longer than 4000 characters.")
        call = self.calls.add(Call(new_sid("CA"), self.account_sid, to, from_, "outbound-api", options))
        self._start(call, self.callees.lookup(to))
        return call

    def update_call(
        self,
        sid: str,
        *,
        status: str | None = None,
        twiml: str | None = None,
        url: str | None = None,
        method: str = "POST",
    ) -> Call:
        run = self._run(sid)
        if status is not None:
            if status not in ("completed", "canceled"):
                raise PhoneError(400, 20001, "Status must be one of completed, canceled")
            run.hang_up(status)
        elif twiml is not None or url is not None:
            if twiml is not None and url is not None:
                raise PhoneError(400, 21218, "Twiml and Url are mutually exclusive.")
            if not run.redirect(twiml, url, method):
                raise PhoneError(400, 21220, "Call is not in-progress. Cannot redirect.")
        return run.call

    def get_call(self, sid: str) -> Call:
        return self._run(sid).call

    # -- the simulator's own API ----------------------------------------------------------------
    def register(self, number: str, callee: Callee) -> None:
        self.callees.register(number, callee)

    def start_inbound(self, request: InboundCall) -> Call:
        url = request.url or self.default_voice_url
        if url is None:
            raise PhoneError(400, 21205, "No voice webhook URL for the inbound call.")
        if not (E164.match(request.to) and E164.match(request.from_)):
            raise PhoneError(400, 21211, "Inbound calls need E.164 numbers.")
        options = CallOptions(
            url=url,
            method=request.method,
            status_callback=request.status_callback,
            status_callback_method=request.status_callback_method,
            status_callback_events=frozenset(request.status_callback_events),
        )
        call = self.calls.add(
            Call(new_sid("CA"), self.account_sid, request.to, request.from_, "inbound", options)
        )
        self._start(call, request.caller, voice_url=url, voice_method=request.method)
        return call

    def result(self, sid: str) -> dict[str, Any]:
        return self._run(sid).result()

    def list_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "sid": c.sid,
                "direction": c.direction,
                "to": c.to,
                "from": c.from_,
                "status": c.status.value,
                "done": c.done.is_set(),
            }
            for c in self.calls.all()
        ]

    async def wait(self, sid: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The call's result once it has ended and its callbacks have been delivered."""
        run = self._run(sid)
        await asyncio.wait_for(run.call.done.wait(), timeout_s)
        return run.result()

    def _start(
        self, call: Call, callee: Callee, *, voice_url: str | None = None, voice_method: str = "POST"
    ) -> None:
        run = CallRun(call, callee, self.ctx)
        self._runs[call.sid] = run
        run.start(voice_url=voice_url, voice_method=voice_method)

    def _run(self, sid: str) -> CallRun:
        run = self._runs.get(sid)
        if run is None:
            raise PhoneError(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
        return run
