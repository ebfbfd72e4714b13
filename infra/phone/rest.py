"""Twilio's REST subset on Twilio's wire format, so the real ``twilio`` SDK works against it.

``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` creates a call (form fields as the SDK
sends them), ``GET``/``POST …/Calls/{Sid}.json`` fetches or updates one, ``GET …/Calls.json``
lists them. HTTP basic auth with the account sid and auth token; errors in Twilio's JSON shape.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from aiohttp import web

from infra.phone.calls import API_VERSION, CallOptions, twilio_page
from infra.phone.network import PhoneError, PhoneNetwork

NETWORK: web.AppKey[PhoneNetwork] = web.AppKey("network", PhoneNetwork)
_BASE = f"/{API_VERSION}/Accounts/{{account}}"


def twilio_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


def _authorised(request: web.Request, network: PhoneNetwork) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    ok_user = hmac.compare_digest(user, network.account_sid)
    ok_password = hmac.compare_digest(password.encode(), network.auth_token.encode())
    return ok_user and ok_password and request.match_info["account"] == network.account_sid


@web.middleware
async def twilio_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    """Basic auth on every Twilio route; ``PhoneError``s become Twilio's error JSON."""
    if not request.path.startswith(f"/{API_VERSION}/"):
        return await handler(request)
    network = request.app[NETWORK]
    if "account" in request.match_info and not _authorised(request, network):
        return twilio_error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
    try:
        return await handler(request)
    except PhoneError as exc:
        return twilio_error(exc.status, exc.code, exc.message)


def _events(values: list[str]) -> frozenset[str]:
    events = {e.strip().lower() for v in values for e in v.replace(",", " ").split() if e.strip()}
    return frozenset(events or {"completed"})


def _options(form: Any) -> CallOptions:
    try:
        timeout = int(form.get("Timeout", "60"))
    except ValueError:
        raise PhoneError(400, 21216, "Timeout must be an integer") from None
    return CallOptions(
        twiml=None if form.get("Url") else form.get("Twiml"),  # Twilio ignores Twiml when Url is given
        url=form.get("Url"),
        method=form.get("Method", "POST").upper(),
        status_callback=form.get("StatusCallback"),
        status_callback_events=_events(form.getall("StatusCallbackEvent", [])),
        status_callback_method=form.get("StatusCallbackMethod", "POST").upper(),
        timeout_s=max(1, min(timeout, 600)),
        machine_detection=form.get("MachineDetection"),
        async_amd=form.get("AsyncAmd", "false").lower() == "true",
        async_amd_callback=form.get("AsyncAmdStatusCallback"),
        async_amd_callback_method=form.get("AsyncAmdStatusCallbackMethod", "POST").upper(),
    )


async def create_call(request: web.Request) -> web.Response:
    network = request.app[NETWORK]
    form = await request.post()
    call = network.create_call(str(form.get("To", "")), str(form.get("From", "")), _options(form))
    return web.json_response(call.resource(), status=201)


async def fetch_call(request: web.Request) -> web.Response:
    call = request.app[NETWORK].get_call(request.match_info["sid"])
    return web.json_response(call.resource())


async def update_call(request: web.Request) -> web.Response:
    network = request.app[NETWORK]
    form = await request.post()
    status = form.get("Status")
    call = network.update_call(
        request.match_info["sid"],
        status=str(status) if status is not None else None,
        twiml=str(form["Twiml"]) if "Twiml" in form else None,
        url=str(form["Url"]) if "Url" in form else None,
        method=str(form.get("Method", "POST")).upper(),
    )
    return web.json_response(call.resource())


async def list_calls(request: web.Request) -> web.Response:
    network = request.app[NETWORK]
    calls = [c.resource() for c in reversed(network.calls.all())]
    to, status = request.query.get("To"), request.query.get("Status")
    calls = [c for c in calls if (to is None or c["to"] == to) and (status is None or c["status"] == status)]
    return twilio_page(request, "calls", calls)


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{_BASE}/Calls.json", create_call)
    app.router.add_get(f"{_BASE}/Calls.json", list_calls)
    app.router.add_get(f"{_BASE}/Calls/{{sid}}.json", fetch_call)
    app.router.add_post(f"{_BASE}/Calls/{{sid}}.json", update_call)
