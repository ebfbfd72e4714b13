"""The live view: the page, its event stream, and the supervisor's actions on a call."""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from dashboard.state import page, reply, session_of, state_of
from switchboard.messages import SupervisorAction
from workflows.call import CallWorkflow

KEEPALIVE_S = 15.0
log = logging.getLogger("switchboard.dashboard")
routes = web.RouteTableDef()


@routes.get("/")
async def index(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/live")


@routes.get("/live")
async def live_page(request: web.Request) -> web.StreamResponse:
    hub = state_of(request).hub
    await hub.refresh()
    return page(request, "live.html", nav="live", calls=list(hub.calls.values()))


@routes.get("/live/stream")
async def live_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a card per live call, then only what changed."""
    state = state_of(request)
    csrf = session_of(request).csrf
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
    try:
        async with state.hub.subscribe() as events:
            while True:
                event = await events.next(KEEPALIVE_S)
                if event is None:
                    await response.write(b": keepalive\n\n")
                    continue
                html = state.renderer.live_event(event, state.hub.calls.get(event.call_id), csrf)
                if html or event.kind == "ended":
                    await response.write(event.encode(html))
    except ConnectionResetError:  # the browser went away
        pass
    return response


@routes.post("/calls/{call_id}/supervise")
async def supervise(request: web.Request) -> web.StreamResponse:
    """Whisper, approve/reject, take over or end: the call's ``supervise`` Update, validated by the workflow."""
    state = state_of(request)
    call_id = request.match_info["call_id"]
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    fields = {k: v.strip() for k, v in fields.items() if v.strip() or k == "text"}
    try:
        action = SupervisorAction.model_validate(fields | {"supervisor": session_of(request).user})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return reply(request, False, f"not a valid action: {problems}", "/live", status=400)
    handle = state.client.get_workflow_handle_for(CallWorkflow.run, call_id)
    try:
        result = await handle.execute_update(CallWorkflow.supervise, action)
    except WorkflowUpdateFailedError as exc:  # the workflow's validator said no
        reason = str(exc.cause) if exc.cause else str(exc)
        return reply(request, False, reason, "/live", status=409)
    except RPCError as exc:
        return reply(request, False, f"the call cannot be reached: {exc.message}", "/live", status=404)
    log.info("supervise user=%s call=%s kind=%s", session_of(request).user, call_id, action.kind)
    await state.hub.refresh()  # push the effect now rather than at the next tick
    return reply(request, result.accepted, f"{action.kind.replace('_', ' ')}: accepted", "/live")
