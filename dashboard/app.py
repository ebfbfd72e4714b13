"""The supervisor dashboard: an aiohttp app serving server-rendered pages and one event stream.

Routes: ``/login`` (the only page for the signed-out), ``/live`` and ``/live/stream`` (live calls),
``/calls/{id}/supervise`` (actions, as the workflow's ``supervise`` Update), ``/review`` and
``/review/{id}`` (finished calls), ``/queue`` and ``/review/{id}/verdict`` (the review queue),
``/overview`` (the figures), ``/waiting`` (leads between attempts), ``/reveals`` (who unmasked
what), ``/healthz``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from temporalio.client import Client

from dashboard import calls, overview, queue, review, waiting
from dashboard.auth import COOKIE, Handler, Sessions, middleware, set_session_cookie
from dashboard.live import LiveHub
from dashboard.render import Renderer
from dashboard.reveals import RevealLog
from dashboard.settings import DashboardSettings
from dashboard.state import STATE, AppState, page, state_of
from switchboard.call_record_store import CallRecordStore
from switchboard.config import Settings
from switchboard.temporal import connect_client

STATIC = Path(__file__).parent / "static"
routes = web.RouteTableDef()
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' http: https:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@routes.get("/favicon.ico")
async def favicon(_request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    return page(request, "login.html", error="", user="")


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    form = await request.post()
    user = str(form.get("user", "")).strip()[:120]
    password = str(form.get("password", ""))
    if not user or not state.sessions.check_password(password):
        return page(request, "login.html", status=401, error="Wrong name or password.", user=user)
    response = web.HTTPSeeOther("/live")
    set_session_cookie(response, state.sessions, user)
    raise response


@routes.post("/logout")
async def logout(_request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


@routes.get("/static/{name}")
async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ("app.css", "app.js", "call.js"):
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _harden(response)
        raise
    _harden(response)
    return response


def _harden(response: web.StreamResponse) -> None:
    if response.prepared:
        return
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on form posts.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")


def create_app(
    settings: Settings, *, client: Client | None = None, dashboard: DashboardSettings | None = None
) -> web.Application:
    """The dashboard app; without ``client`` it connects to the configured Temporal at startup."""
    ds = dashboard or DashboardSettings()
    sessions = Sessions(ds)
    app = web.Application(middlewares=[security_headers, middleware(sessions)])
    app.add_routes(routes)
    app.add_routes(calls.routes)
    app.add_routes(review.routes)
    app.add_routes(queue.routes)
    app.add_routes(overview.routes)
    app.add_routes(waiting.routes)

    async def start(app: web.Application) -> None:
        temporal = client or await connect_client(settings, wait_s=30)
        app[STATE] = AppState(
            settings=settings,
            dashboard=ds,
            client=temporal,
            sessions=sessions,
            hub=LiveHub(temporal, ds.poll_s),
            renderer=Renderer(),
            reveals=RevealLog(settings.home / "dashboard" / "reveals.jsonl"),
            records=CallRecordStore.of(settings),
        )

    async def stop(app: web.Application) -> None:
        if STATE in app:
            await app[STATE].hub.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
