"""The simulator's control API under ``/_sim`` (a prefix Twilio's API can never use).

Register how a number behaves when dialled, place an inbound call, and read what happened:
status history, callbacks, the stream timeline, barge-in measurements and the heard audio.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from infra.phone.callee import Callee
from infra.phone.network import InboundCall, PhoneError
from infra.phone.rest import NETWORK
from infra.phone.script import bundled_scripts

PREFIX = "/_sim"


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def control_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except PhoneError as exc:
        return _error(exc.status, exc.message, code=exc.code)
    except ValidationError as exc:
        return _error(422, "invalid request", details=exc.errors(include_url=False, include_context=False))
    except (ValueError, FileNotFoundError) as exc:
        return _error(400, str(exc))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "calls": len(request.app[NETWORK].calls.all())})


async def put_callee(request: web.Request) -> web.Response:
    callee = Callee.model_validate(await request.json())
    request.app[NETWORK].register(request.match_info["number"], callee)
    return web.json_response(
        {"number": request.match_info["number"], "callee": callee.model_dump(mode="json")}
    )


async def delete_callee(request: web.Request) -> web.Response:
    found = request.app[NETWORK].callees.forget(request.match_info["number"])
    return web.json_response({"forgotten": found}, status=200 if found else 404)


async def start_call(request: web.Request) -> web.Response:
    call = request.app[NETWORK].start_inbound(InboundCall.model_validate(await request.json()))
    return web.json_response({"sid": call.sid, "status": call.status.value}, status=201)


async def list_calls(request: web.Request) -> web.Response:
    return web.json_response({"calls": request.app[NETWORK].list_calls()})


async def get_call(request: web.Request) -> web.Response:
    return web.json_response(request.app[NETWORK].result(request.match_info["sid"]))


async def wait_call(request: web.Request) -> web.Response:
    timeout = float(request.query.get("timeout", "60"))
    try:
        result = await request.app[NETWORK].wait(request.match_info["sid"], timeout)
    except TimeoutError:
        return _error(408, "call still running", sid=request.match_info["sid"])
    return web.json_response(result)


async def call_audio(request: web.Request) -> web.StreamResponse:
    path = request.app[NETWORK].result(request.match_info["sid"])["wav_path"]
    if path is None or not await asyncio.to_thread(Path(path).exists):
        return _error(404, "no audio for this call")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


async def scripts(request: web.Request) -> web.Response:
    return web.json_response({"scripts": bundled_scripts()})


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_put(f"{PREFIX}/callees/{{number}}", put_callee)
    app.router.add_delete(f"{PREFIX}/callees/{{number}}", delete_callee)
    app.router.add_post(f"{PREFIX}/calls", start_call)
    app.router.add_get(f"{PREFIX}/calls", list_calls)
    app.router.add_get(f"{PREFIX}/calls/{{sid}}", get_call)
    app.router.add_get(f"{PREFIX}/calls/{{sid}}/wait", wait_call)
    app.router.add_get(f"{PREFIX}/calls/{{sid}}/audio", call_audio)
    app.router.add_get(f"{PREFIX}/scripts", scripts)
