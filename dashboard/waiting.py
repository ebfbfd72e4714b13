"""Leads waiting for their next call: the running cadences (``OutboundCallbackWorkflow`` with
``CallStatus='waiting_for_attempt'``), each with when its next attempt is due and why.

The list comes from a visibility query over the search attributes; each cadence's ``status``
query answers the rest (attempts so far, the next time and its reason, the last thing that
happened). No numbers or names are shown: the lead's submission id identifies the enquiry, and
``switchboard audit <workflow id>`` shows the whole cadence. Times are the business's
(``SWITCHBOARD_BUSINESS_TIMEZONE``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from temporalio.client import Client

from dashboard.state import page, state_of
from switchboard.messages import CallbackOutcome
from workflows.callback import OutboundCallbackWorkflow

QUERY = (
    "WorkflowType='OutboundCallbackWorkflow' AND ExecutionStatus='Running'"
    " AND CallStatus='waiting_for_attempt'"
)
LIMIT = 200
_NEVER = datetime.max.replace(tzinfo=UTC)
routes = web.RouteTableDef()


@dataclass(frozen=True)
class WaitingLead:
    workflow_id: str
    lead_id: str
    attempts: int
    next_at: datetime | None
    why: str
    last: str  # the last step of the cadence, e.g. "text" or "reschedule"


async def waiting_leads(client: Client, limit: int = LIMIT) -> list[WaitingLead]:
    """The waiting cadences, soonest first; one that ends or cannot be read meanwhile is left out."""
    ids = [wf.id async for wf in client.list_workflows(QUERY, limit=limit)]
    gate = asyncio.Semaphore(8)

    async def read(workflow_id: str) -> WaitingLead | None:
        async with gate:
            try:
                view: CallbackOutcome = await client.get_workflow_handle_for(
                    OutboundCallbackWorkflow.run, workflow_id
                ).query(OutboundCallbackWorkflow.view)
            except Exception:  # closed since the list, or its person erased: nothing to show
                return None
        steps = [e for e in view.events if e.kind != "text_status"]
        return WaitingLead(
            workflow_id=workflow_id,
            lead_id=view.lead_id,
            attempts=len(view.attempts),
            next_at=view.next_attempt_at,
            why=view.next_attempt_why,
            last=steps[-1].kind.replace("_", " ") if steps else "",
        )

    found = [w for w in await asyncio.gather(*(read(i) for i in ids)) if w is not None]
    return sorted(found, key=lambda w: w.next_at or _NEVER)


@routes.get("/waiting")
async def waiting_page(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    zone = ZoneInfo(state.settings.business_timezone)
    leads = await waiting_leads(state.client)
    rows = [
        {
            "lead": w,
            "when": w.next_at.astimezone(zone).strftime("%a %-d %b %H:%M") if w.next_at else "—",
            "iso": w.next_at.isoformat() if w.next_at else "",
        }
        for w in leads
    ]
    return page(request, "waiting.html", nav="waiting", rows=rows, zone=state.settings.business_timezone)
