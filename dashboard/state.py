"""What the request handlers share, kept on the aiohttp application under one typed key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from temporalio.client import Client

from dashboard.auth import SESSION, Session, Sessions, session_of
from dashboard.live import LiveHub
from dashboard.render import Renderer
from dashboard.reveals import RevealLog
from dashboard.settings import DashboardSettings
from dashboard.waveform import Waveforms
from switchboard.call_record_store import CallRecordStore
from switchboard.config import Settings


@dataclass
class AppState:
    settings: Settings
    dashboard: DashboardSettings
    client: Client
    sessions: Sessions
    hub: LiveHub
    renderer: Renderer
    reveals: RevealLog
    records: (
        CallRecordStore  # a record per finished call: the review queue, the overview (blocking: to_thread)
    )
    waveforms: Waveforms | None = None  # made at the first call page


STATE = web.AppKey("state", AppState)


def state_of(request: web.Request) -> AppState:
    return request.app[STATE]


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session: Session | None = request.get(SESSION)
    state = state_of(request)
    html = state.renderer.page(template, session=session, tz=state.settings.business_timezone, **context)
    return web.Response(text=html, content_type="text/html", status=status)


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def reply(request: web.Request, ok: bool, text: str, back: str, status: int = 200) -> web.Response:
    """A JSON answer for the page's script; a small page for a browser without it."""
    if wants_json(request):
        return web.json_response({"ok": ok, "message": text}, status=status)
    heading = "Done" if ok else "Not done"
    return page(request, "message.html", status=status, heading=heading, text=text, error=not ok, back=back)


__all__ = ["STATE", "AppState", "page", "reply", "session_of", "state_of", "wants_json"]
