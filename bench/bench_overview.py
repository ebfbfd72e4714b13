"""Benchmark: the overview page's load time with 1,000 calls in the call records table (issue 22).

1,000 records of the last 30 days, spread over the profiles, outcomes and hours of the day with
realistic turns, latencies, tools and costs, are written to the table in moto (through the store,
as ``record_call`` writes them). The dashboard runs in this process against a dev server; a
signed-in client GETs ``/overview`` for the last 30 days (all 1,000 calls: one query per profile),
the last 7 days, and one profile, ``ROUNDS`` times each, and the full response is timed.
Target: p99 under 1 s. Wall-clock figures come with the load average (a shared 2-core machine).

Run: ``.venv/bin/python -m bench.bench_overview``.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bench.common import percentiles, report
from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from infra import services
from infra.stack import ServiceSpec, free_port
from infra.testing import isolated_settings, running_stack
from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import CallFacts, ToolUse, TurnTiming, build_record
from switchboard.config import LOCAL_HOST, Settings
from switchboard.models import LatencySlices, Outcome, Speaker
from switchboard.profiles import profile_names
from switchboard.temporal import connect_client

CALLS = 1000
ROUNDS = 30
PASSWORD = "bench-overview"
OUTCOMES = (
    [Outcome.COMPLETED] * 14
    + [Outcome.ESCALATED] * 3
    + [Outcome.CALLER_HUNG_UP] * 2
    + [
        Outcome.CONSENT_REFUSED,
        Outcome.NO_ANSWER,
        Outcome.DROPPED,
    ]
)
TOOLS = ["check_availability", "book_appointment", "create_ticket", "lookup_job", "end_call"]


def _facts(rng: random.Random, i: int, now: datetime) -> CallFacts:
    started = now - timedelta(days=rng.uniform(0, 29.9))
    turns, first_audio, at = [], [], 3000
    for _ in range(rng.randint(2, 9)):
        ms = rng.lognormvariate(6.2, 0.3)  # ~500 ms median, a tail past 700
        first_audio.append(round(ms, 1))
        turns += [
            TurnTiming(speaker=Speaker.CALLER, start_ms=at, end_ms=at + 2500),
            TurnTiming(
                speaker=Speaker.AGENT, start_ms=at + 2500 + int(ms), end_ms=at + 7000, first_audio_ms=ms
            ),
        ]
        at += 7500 + (9000 if rng.random() < 0.02 else 0)
    tools = [ToolUse(name=rng.choice(TOOLS), ok=rng.random() > 0.04) for _ in range(rng.randint(0, 4))]
    return CallFacts(
        call_id=f"call-bench-{i:05d}",
        profile=rng.choice(profile_names()),
        direction="inbound",
        started_at=started,
        ended_at=started + timedelta(seconds=at / 1000),
        outcome=rng.choice(OUTCOMES),
        consent="refused" if rng.random() < 0.1 else "given",
        tools=tools,
        refused_tools=["book_appointment"] if rng.random() < 0.03 else [],
        turns=turns,
        latency=LatencySlices(
            turn_to_first_audio_ms=first_audio,
            tool_round_trip_ms=[round(rng.uniform(120, 450), 1) for _ in tools],
            barge_in_to_clear_ms=[round(rng.uniform(60, 180), 1) for _ in range(rng.randint(0, 2))],
            goodbye_heard_to_hangup_ms=[round(rng.uniform(300, 900), 1)],
        ),
        duration_s=at / 1000,
        cost_usd=Decimal(f"{rng.uniform(0.05, 0.6):.6f}"),
    )


def _services(settings: Settings) -> list[ServiceSpec]:
    return [services.temporal(settings, in_memory=True), services.moto(settings)]


async def _timed(http: aiohttp.ClientSession, url: str) -> float:
    t0 = time.perf_counter()
    async with http.get(url) as res:
        body = await res.text()
        assert res.status == 200 and "Calls per day" in body, res.status
    return (time.perf_counter() - t0) * 1000


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-overview-"))
    settings = isolated_settings(home)
    async with running_stack(settings, _services):
        store = CallRecordStore.of(settings)
        rng = random.Random(22)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        for i in range(CALLS):
            await asyncio.to_thread(store.put, build_record(_facts(rng, i, now), settings.business_timezone))
        seed_s = time.perf_counter() - t0

        client = await connect_client(settings)
        ds = DashboardSettings(password=SecretStr(PASSWORD))
        runner = web.AppRunner(create_app(settings, client=client, dashboard=ds))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, LOCAL_HOST, port).start()
        base = f"http://{LOCAL_HOST}:{port}"
        pages = {
            "days30_all": f"{base}/overview?days=30",
            "days7_all": f"{base}/overview?days=7",
            "days30_one_profile": f"{base}/overview?days=30&profile=clinic_booking",
        }
        figures: dict[str, object] = {"calls_stored": CALLS, "seed_seconds": round(seed_s, 1)}
        try:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                async with http.post(f"{base}/login", data={"user": "bench", "password": PASSWORD}) as res:
                    assert res.status == 200
                for name, url in pages.items():
                    await _timed(http, url)  # warm: templates compiled, boto3 client made
                    figures[f"{name}_ms"] = percentiles([await _timed(http, url) for _ in range(ROUNDS)])
                async with http.get(pages["days30_all"]) as res:
                    html = await res.text()
                shown = html.split('data-figure="calls"><dt>Calls</dt><dd>', 1)[1].split("<", 1)[0]
                figures["calls_shown_30_days"] = int(shown)
        finally:
            await runner.cleanup()
    worst = max(float(v["p99"]) for k, v in figures.items() if k.endswith("_ms") and isinstance(v, dict))
    figures["target_p99_ms"] = 1000.0
    figures["met"] = worst < 1000.0
    report("bench_overview", figures, notes="GET /overview, full response; records read from moto's DynamoDB")


if __name__ == "__main__":
    asyncio.run(main())
