"""The review queue: flagged calls a supervisor should hear, unreviewed first, filterable by reason
and profile; and the review itself (a verdict and a note), stored in the call records table.

The queue reads the store's sparse ``review_queue`` index (open items only); the calls reviewed
lately come from the ``by_profile`` index over the last week. Nothing here is kept in the browser.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from dashboard.state import page, reply, session_of, state_of
from switchboard.call_record_store import NOTE_MAX, UnknownCall
from switchboard.call_records import FLAG_LABELS, CallRecord, Flag, Verdict
from switchboard.profiles import profile_names

REVIEWED_DAYS = 7
PAGE = 50  # the newest flagged calls shown; a filter narrows the rest
VERDICT_LABELS = {
    Verdict.FINE: "Fine",
    Verdict.AGENT_ERROR: "Agent error",
    Verdict.TOOL_ERROR: "Tool error",
    Verdict.CALLER_ISSUE: "Caller issue",
}
log = logging.getLogger("switchboard.dashboard")
routes = web.RouteTableDef()


@dataclass(frozen=True)
class QueueFilter:
    reason: Flag | None = None
    profile: str = ""

    @classmethod
    def parse(cls, query: dict[str, str]) -> QueueFilter:
        reason = query.get("reason", "").strip()
        profile = query.get("profile", "").strip()
        if reason and reason not in {f.value for f in Flag}:
            raise web.HTTPBadRequest(text=f"unknown reason {reason!r}")
        if profile and profile not in profile_names():
            raise web.HTTPBadRequest(text=f"unknown profile {profile!r}")
        return cls(reason=Flag(reason) if reason else None, profile=profile)

    def keeps(self, record: CallRecord) -> bool:
        return (self.reason is None or self.reason in record.flags) and (
            not self.profile or record.profile == self.profile
        )


def reason_details(record: CallRecord) -> dict[Flag, str]:
    """What each flag of a call amounts to, in a few words (from the record: nothing personal)."""
    slowest = max(record.latency.turn_to_first_audio_ms, default=record.first_audio_p95_ms or 0.0)
    failed = [name for name, t in record.tools.items() if t.failures]
    refused = [name for name, t in record.tools.items() if t.refusals]
    details = {
        Flag.SLOW_TURN: f"{record.slow_turns or 1} slow, worst {slowest / 1000:.1f} s",
        Flag.TOOL_FAILED: ", ".join(failed),
        Flag.TOOL_REFUSED: ", ".join(refused),
        Flag.LONG_SILENCE: f"{record.longest_silence_ms / 1000:.0f} s",
        Flag.DROPPED: f"{record.drops} drop{'s' if record.drops != 1 else ''}, {record.reconnects} reconnected",
    }
    return {f: details.get(f, "") for f in record.flags}


@routes.get("/queue")
async def queue_page(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    flt = QueueFilter.parse(dict(request.query))
    since = datetime.now(UTC) - timedelta(days=REVIEWED_DAYS)
    store = state.records
    open_, lately = await asyncio.gather(
        asyncio.to_thread(store.review_queue, profile=flt.profile or None, reason=flt.reason, limit=PAGE + 1),
        asyncio.to_thread(
            store.in_period, [flt.profile] if flt.profile else profile_names(), since, datetime.now(UTC)
        ),
    )
    reviewed = sorted(
        (r for r in lately if r.flags and r.reviewed_at is not None and flt.keeps(r)),
        key=lambda r: r.reviewed_at or since,
        reverse=True,
    )
    return page(
        request,
        "queue.html",
        nav="queue",
        flt=flt,
        pending=open_[:PAGE],
        more=len(open_) > PAGE,
        reviewed=reviewed,
        reasons=FLAG_LABELS,
        verdicts=VERDICT_LABELS,
        profiles=profile_names(),
        days=REVIEWED_DAYS,
        details=reason_details,
    )


@routes.post("/review/{call_id}/verdict")
async def mark_reviewed(request: web.Request) -> web.StreamResponse:
    """A supervisor's verdict and note on a call, stored durably; back to the call, then the next one."""
    state = state_of(request)
    call_id = request.match_info["call_id"]
    form = await request.post()
    verdict, note = str(form.get("verdict", "")), str(form.get("note", ""))
    back = f"/review/{call_id}"
    if verdict not in {v.value for v in Verdict}:
        return reply(
            request, False, "choose a verdict: fine, agent error, tool error or caller issue", back, 400
        )
    if len(note) > NOTE_MAX:
        return reply(request, False, f"the note is longer than {NOTE_MAX} characters", back, 400)
    user = session_of(request).user
    try:
        await asyncio.to_thread(state.records.mark_reviewed, call_id, verdict, note, user)
    except UnknownCall:
        return reply(request, False, "this call has no record to review", back, status=404)
    log.info("review user=%s call=%s verdict=%s", user, call_id, verdict)  # never the note
    raise web.HTTPSeeOther(f"{back}?reviewed=1")


async def review_of(request: web.Request, call_id: str) -> dict[str, Any]:
    """The call page's review card: the call's record (its flags, any review) and the next in the queue."""
    store = state_of(request).records
    record, pending = await asyncio.gather(
        asyncio.to_thread(store.get, call_id), asyncio.to_thread(store.review_queue, limit=2)
    )
    following = next((r.call_id for r in pending if r.call_id != call_id), None)
    return {
        "record": record,
        "reasons": FLAG_LABELS,
        "details": reason_details(record) if record else {},
        "verdicts": VERDICT_LABELS,
        "next_call": following,
        "just_reviewed": request.query.get("reviewed") == "1",
    }
