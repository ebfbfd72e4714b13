"""Sign-in, signed expiring session cookies and CSRF protection, as one aiohttp middleware.

A session is a cookie signed with the session secret (itsdangerous), carrying the supervisor's
name and a random nonce; it expires ``session_ttl_s`` after sign-in. Every POST must carry a CSRF
token (a form field or the ``X-CSRF-Token`` header) that is an HMAC of that nonce, and the cookie is
``SameSite=Strict``. Unauthenticated requests get the sign-in page, or 401 for the event stream and
API calls; nothing else is served to them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from itsdangerous import BadSignature, URLSafeTimedSerializer

from dashboard.settings import DashboardSettings

COOKIE = "sb_session"
PUBLIC = {"/login", "/healthz", "/static/app.css", "/favicon.ico"}
log = logging.getLogger("switchboard.dashboard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Session:
    user: str
    nonce: str
    csrf: str


class Sessions:
    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        self._secret = settings.session_secret.get_secret_value().encode()
        self._signer = URLSafeTimedSerializer(self._secret, salt="switchboard-dashboard-session")

    def check_password(self, password: str) -> bool:
        want = self.settings.password.get_secret_value().encode()
        return hmac.compare_digest(password.encode(), want)

    def issue(self, user: str) -> str:
        return self._signer.dumps({"u": user, "n": secrets.token_urlsafe(16)})

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=self.settings.session_ttl_s)
        except BadSignature:  # includes SignatureExpired
            return None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("u"), str)
            or not isinstance(data.get("n"), str)
        ):
            return None
        return Session(user=data["u"], nonce=data["n"], csrf=self._csrf(data["n"]))

    def _csrf(self, nonce: str) -> str:
        return hmac.new(self._secret, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def _wants_401(request: web.Request) -> bool:
    return (
        request.method != "GET"
        or request.path.startswith("/live/stream")
        or "application/json" in request.headers.get("Accept", "")
    )


def middleware(sessions: Sessions) -> Middleware:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC:
            return await handler(request)
        session = sessions.read(request.cookies.get(COOKIE))
        if session is None:
            if _wants_401(request):
                raise web.HTTPUnauthorized(text="sign in first", headers={"WWW-Authenticate": "Session"})
            raise web.HTTPSeeOther("/login")
        if request.method == "POST":
            await _check_csrf(request, session)
        request[SESSION] = session
        return await handler(request)

    return auth


async def _check_csrf(request: web.Request, session: Session) -> None:
    token = request.headers.get("X-CSRF-Token")
    if token is None:
        form = await request.post()
        value = form.get("csrf")
        token = value if isinstance(value, str) else None
    if not token or not hmac.compare_digest(token, session.csrf):
        raise web.HTTPForbidden(text="missing or stale form token: reload the page")
    origin = request.headers.get("Origin")
    if origin and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-site request refused")


def set_session_cookie(response: web.StreamResponse, sessions: Sessions, user: str) -> None:
    response.set_cookie(
        COOKIE,
        sessions.issue(user),
        max_age=sessions.settings.session_ttl_s,
        httponly=True,
        samesite="Strict",
        secure=sessions.settings.secure_cookies,
        path="/",
    )
