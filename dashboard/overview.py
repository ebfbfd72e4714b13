"""The overview: the numbers a clinic manager asks for, over the last 7 or 30 days, per profile.

Read from the call records table (one query per profile on its ``by_profile`` index), never from
the calls' histories. Dates are the business's (``SWITCHBOARD_BUSINESS_TIMEZONE``).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from aiohttp import web

from dashboard.charts import latency_chart, stacked_bars
from dashboard.figures import OUTCOME_STYLE, PERIODS, Period, overview
from dashboard.state import page, state_of
from switchboard.call_records import FLAG_LABELS
from switchboard.profiles import profile_names

_NAME = re.compile(r"^[a-z0-9_\-]{1,64}$")
routes = web.RouteTableDef()


@routes.get("/overview")
async def overview_page(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    known = profile_names()
    error = ""
    try:
        days = int(request.query.get("days", "7"))
    except ValueError:
        days = 0
    if days not in PERIODS:
        days, error = 7, "The period is the last 7 or the last 30 days."
    profile = request.query.get("profile", "").strip()
    if profile and (not _NAME.match(profile) or profile not in known):
        profile, error = "", "No such profile; showing all of them."
    zone = state.settings.business_timezone
    period = Period.ending(datetime.now(UTC), days, zone)
    records = await asyncio.to_thread(
        state.records.in_period, [profile] if profile else known, period.start, period.end
    )
    ov = overview(records, period, profile)
    return page(
        request,
        "overview.html",
        status=400 if error else 200,
        nav="overview",
        ov=ov,
        bars=stacked_bars(ov),
        latency=latency_chart(ov),
        styles=OUTCOME_STYLE,
        flag_labels=FLAG_LABELS,
        profiles=known,
        periods=PERIODS,
        error=error,
    )
