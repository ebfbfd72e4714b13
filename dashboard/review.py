"""Review of finished calls: search, the timeline, summary and recording of one call, reveal and eval bank."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from temporalio.service import RPCError

from dashboard.picture import Picture, build
from dashboard.queue import review_of
from dashboard.search import FilterError, ReviewFilter, find_finished, finished_result, is_finished
from dashboard.state import AppState, page, reply, session_of, state_of
from dashboard.waveform import Waveforms
from switchboard import aws
from switchboard.audit import Entry, fetch_timeline
from switchboard.models import CallOutcome, Outcome
from switchboard.privacy import mask_phone
from switchboard.profiles import profile_names

EVAL_BANK_MODULE = "evals.add"
log = logging.getLogger("switchboard.dashboard")
routes = web.RouteTableDef()


@routes.get("/review")
async def review_list(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    error = ""
    try:
        flt = ReviewFilter.parse(dict(request.query), state.settings.business_timezone)
        calls = await find_finished(state.client, flt)
    except FilterError as exc:
        flt, calls, error = ReviewFilter(), [], str(exc)
    return page(
        request,
        "review.html",
        nav="review",
        flt=flt,
        calls=calls,
        error=error,
        profiles=profile_names(),
        outcomes=[o.value for o in Outcome],
    )


async def _call_page(request: web.Request, *, revealed: bool) -> web.Response:
    state = state_of(request)
    call_id = request.match_info["call_id"]
    if not await is_finished(state.client, call_id):
        raise web.HTTPNotFound(text="no finished call with that id")
    result, timeline = await asyncio.gather(
        finished_result(state.client, call_id), fetch_timeline(state.client, call_id, reveal=revealed)
    )
    url = picture = None
    if result is not None and result.recording_key:
        url = await asyncio.to_thread(
            _presign, state.settings, result.recording_key, state.dashboard.recording_url_ttl_s
        )
    if result is not None and not (timeline and timeline[0].kind == "erased"):
        picture = await _picture(state, result, timeline, revealed)
    return page(
        request,
        "review_call.html",
        nav="review",
        call_id=call_id,
        result=result,
        timeline=timeline,
        recording_url=url,
        recording_ttl=state.dashboard.recording_url_ttl_s,
        revealed=revealed,
        picture=picture,
        **await review_of(request, call_id),
    )


async def _picture(state: AppState, result: CallOutcome, timeline: list[Entry], revealed: bool) -> Picture:
    wave = None
    if result.recording_key:
        state.waveforms = state.waveforms or Waveforms(state.settings)
        wave = await asyncio.to_thread(state.waveforms.get, result.recording_key)
    envelope = (wave.caller, wave.agent) if wave else None
    text: Callable[[str], str] = (lambda s: s) if revealed else mask_phone
    return build(result, timeline, envelope, wave.duration_s if wave else None, text)


def _presign(settings: Any, key: str, ttl_s: int) -> str | None:
    try:
        url: str = aws.client("s3", settings).generate_presigned_url(
            "get_object", Params={"Bucket": settings.recordings_bucket, "Key": key}, ExpiresIn=ttl_s
        )
    except Exception as exc:  # botocore's errors share no useful base here
        log.warning("recording link failed for a call: %s", type(exc).__name__)
        return None
    return url


@routes.get("/review/{call_id}")
async def review_call(request: web.Request) -> web.StreamResponse:
    return await _call_page(request, revealed=False)


@routes.post("/review/{call_id}/reveal")
async def reveal(request: web.Request) -> web.StreamResponse:
    """Show the call unmasked, once, and log who saw what (never the values)."""
    state = state_of(request)
    call_id = request.match_info["call_id"]
    if not await is_finished(state.client, call_id):
        raise web.HTTPNotFound(text="no finished call with that id")
    state.reveals.record(session_of(request).user, call_id, "timeline and summary")
    return await _call_page(request, revealed=True)


@routes.post("/review/{call_id}/eval-bank")
async def add_to_eval_bank(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    call_id = request.match_info["call_id"]
    back = f"/review/{call_id}"
    if importlib.util.find_spec(EVAL_BANK_MODULE) is None:
        text = "The eval bank is not installed here yet (evals.add.add_call_to_bank is missing)."
        return reply(request, False, text, back, status=501)
    add = getattr(importlib.import_module(EVAL_BANK_MODULE), "add_call_to_bank", None)
    if add is None:
        return reply(request, False, "evals.add has no add_call_to_bank yet.", back, status=501)
    try:
        path = add(state.client, state.settings, call_id)
        if inspect.isawaitable(path):
            path = await path
    except RPCError as exc:
        return reply(request, False, f"the call cannot be read: {exc.message}", back, status=404)
    log.info("eval bank add user=%s call=%s", session_of(request).user, call_id)
    return reply(request, True, f"added to the eval bank as {getattr(path, 'name', path)}", back)


@routes.get("/reveals")
async def reveals(request: web.Request) -> web.StreamResponse:
    return page(request, "reveals.html", nav="reveals", reveals=state_of(request).reveals.recent())
