"""Signed-out requests get the sign-in page and nothing else; sessions expire; POSTs need the CSRF token."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from dashboard.auth import COOKIE, Sessions
from dashboard.settings import DashboardSettings
from tests.dashboard.conftest import PASSWORD, SUPERVISOR, sign_in

PAGES = ["/", "/live", "/review", "/review/call-123", "/reveals", "/static/app.js", "/nope"]


async def _signed_in(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/login", data={"user": SUPERVISOR, "password": PASSWORD}) as res:
        assert res.status == 200 and res.url.path == "/live"
        html = await res.text()
    return html.split('name="csrf" content="', 1)[1].split('"', 1)[0]


async def test_signed_out_requests_get_only_the_sign_in_page(dashboard_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path in PAGES:
            async with http.get(f"{dashboard_url}{path}") as res:
                html = await res.text()
                assert res.status == 200 and res.url.path == "/login", path
                assert 'action="/login"' in html and "/static/app.js" not in html and "csrf" not in html
        for path in ("/live/stream", "/review?date=2020-01-01"):
            async with http.get(f"{dashboard_url}{path}", headers={"Accept": "application/json"}) as res:
                assert res.status == 401, path
        async with http.get(f"{dashboard_url}/live/stream") as res:
            assert res.status == 401
        for path in (
            "/calls/call-1/supervise",
            "/review/call-1/reveal",
            "/review/call-1/eval-bank",
            "/logout",
        ):
            async with http.post(f"{dashboard_url}{path}", data={"kind": "end_call"}) as res:
                assert res.status == 401, path
        async with http.post(f"{dashboard_url}/login", data={"user": "x", "password": "wrong"}) as res:
            assert res.status == 401 and "Wrong name or password" in await res.text()
            assert COOKIE not in res.cookies


async def test_posts_need_the_session_csrf_token(dashboard_url: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await _signed_in(http, dashboard_url)  # the jar keeps cookies for 127.0.0.1 (unsafe=True)
        url = f"{dashboard_url}/calls/call-missing/supervise"
        async with http.post(url, data={"kind": "end_call"}) as res:
            assert res.status == 403
        async with http.post(url, data={"kind": "end_call", "csrf": "0" * 64}) as res:
            assert res.status == 403
        headers = {"Accept": "application/json", "Origin": "http://evil.example"}
        async with http.post(url, data={"kind": "end_call", "csrf": csrf}, headers=headers) as res:
            assert res.status == 403
        headers = {"Accept": "application/json"}
        async with http.post(url, data={"kind": "end_call", "csrf": csrf}, headers=headers) as res:
            body = await res.json()
            assert res.status == 404 and body["ok"] is False  # past the guard: no such call
        async with http.post(url, data={"kind": "sing", "csrf": csrf}, headers=headers) as res:
            assert res.status == 400 and "kind" in (await res.json())["message"]


def test_sessions_are_signed_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = Sessions(DashboardSettings(password=SecretStr("pw"), session_ttl_s=60))
    token = sessions.issue("dana")
    session = sessions.read(token)
    assert session is not None and session.user == "dana" and len(session.csrf) == 64
    assert sessions.read(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert Sessions(DashboardSettings(password=SecretStr("pw"))).read(token) is None  # another secret
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert sessions.read(token) is None
    assert sessions.check_password("pw") and not sessions.check_password("pw ")


async def test_browser_signed_out_sees_sign_in_then_signs_in(page: Any, dashboard_url: str) -> None:
    await page.goto(f"{dashboard_url}/review")
    assert page.url.endswith("/login")
    assert await page.locator("nav").count() == 0
    await sign_in(page, dashboard_url, password="not-it")
    assert "Wrong name or password" in await page.locator(".error").inner_text()
    await sign_in(page, dashboard_url)
    await page.wait_for_url(f"{dashboard_url}/live")
    assert SUPERVISOR in await page.locator("header.top").inner_text()
    await page.click("text=Sign out")
    await page.wait_for_url(f"{dashboard_url}/login")
    await page.goto(f"{dashboard_url}/live")
    assert page.url.endswith("/login")
