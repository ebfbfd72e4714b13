"""A webhook receiver for tests and demos: records what the network POSTs and answers with TwiML.

It stands where ``functions/call_status`` and ``functions/inbound_call`` stand in production, so
tests can check that each request validates with ``RequestValidator.validate`` against the
exact URL that was requested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from twilio.request_validator import RequestValidator

from infra.stack import free_port
from switchboard.config import LOCAL_HOST


@dataclass
class Received:
    method: str
    url: str  # exactly as requested, query string included
    path: str
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)  # form fields (POST) or empty (GET)

    def valid(self, auth_token: str) -> bool:
        signature = self.headers.get("X-Twilio-Signature", "")
        return bool(RequestValidator(auth_token).validate(self.url, self.params, signature))


Responder = Callable[[Received], tuple[int, str]]


class WebhookSink:
    """``responder`` decides (status, TwiML body) per request; by default 200 and an empty ``<Response/>``."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.received: list[Received] = []
        self.responder: Responder = responder or (lambda r: (200, "<Response/>"))
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, LOCAL_HOST, port).start()
        self.base_url = f"http://{LOCAL_HOST}:{port}"
        return self.base_url

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> WebhookSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else {}
        received = Received(
            method=request.method,
            url=f"{self.base_url}{request.path_qs}",
            path=request.path,
            headers=dict(request.headers),
            params={k: str(v) for k, v in form.items()},
        )
        async with self._changed:
            self.received.append(received)
            self._changed.notify_all()
        status, body = self.responder(received)
        return web.Response(status=status, text=body, content_type="application/xml")

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout_s: float = 30.0
    ) -> list[Received]:
        async def until() -> list[Received]:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.received))
                return list(self.received)

        return await asyncio.wait_for(until(), timeout_s)
