"""Metrics end to end: during a live call the voice worker's ``/metrics`` shows it, after it the
latency histograms have moved, and the real Prometheus the stack starts (Debian's, with the
config ``switchboard up`` writes) has scraped the series of every service with metrics.

Prometheus is started here beside the session's call stack rather than in ``services.call_stack``:
the evals and benchmarks start that stack too, and a scraper in their CPU budget would cost them
for nothing. It is the same ``infra.prometheus.service`` spec, scraping every second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from infra import prometheus
from infra.phone.client import SimClient
from infra.stack import Stack
from infra.testing import running_stack
from switchboard.config import Settings
from tests.e2e.test_booking_call import CLINIC, place_call

FIRST_AUDIO = "switchboard_voice_turn_to_first_audio_seconds_count"


def short_call() -> dict[str, object]:
    wait = {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 25000}}
    return {
        "name": "e2e-metrics",
        "steps": [
            wait,
            {"say": "Yes, that's fine, you can record the call."},
            wait,
            {"say": "That's all, thank you. Goodbye."},
            {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 15000}},
        ],
        "after_steps": "hangup",
        "max_duration_ms": 90000,
    }


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(text: str, name: str) -> float:
    return sum(v for (n, _), v in samples(text).items() if n == name)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def prom(e2e: tuple[Settings, Stack]) -> AsyncIterator[str]:
    if prometheus.binary() is None:
        pytest.skip("prometheus is not installed (Debian's package: `make up` / `make unit` install it)")
    settings = e2e[0]
    own = settings.model_copy(update={"home": settings.home / "prometheus-stack"})  # its own stack.json
    async with running_stack(own, lambda s: [prometheus.service(s, scrape_interval_s=1)]):
        yield f"http://127.0.0.1:{settings.ports.prometheus}"


async def query(http: httpx.AsyncClient, base: str, promql: str) -> list[dict[str, object]]:
    resp = await http.get(f"{base}/api/v1/query", params={"query": promql})
    resp.raise_for_status()
    result: list[dict[str, object]] = resp.json()["data"]["result"]
    return result


@pytest.mark.slow  # make evals: make test keeps the 15-minute budget
async def test_a_live_call_shows_on_metrics_and_prometheus_has_the_series(
    e2e: tuple[Settings, Stack], e2e_client: Client, sim: SimClient, prom: str
) -> None:
    settings = e2e[0]
    url = f"http://127.0.0.1:{settings.ports.voice}/metrics"
    async with httpx.AsyncClient(timeout=5) as http:
        before = (await http.get(url)).text
        call = asyncio.create_task(place_call(sim, e2e_client, CLINIC, short_call()))
        during = ""
        while not call.done():  # read /metrics while the call is live
            text = (await http.get(url)).text
            if total(text, "switchboard_voice_live_calls") >= 1:
                during = text
                break
            await asyncio.sleep(0.25)
        sid, outcome = await call
        after = (await http.get(url)).text

        assert during, "the live call never showed on /metrics"
        assert total(during, "switchboard_voice_streams_accepted_total") > total(
            before, "switchboard_voice_streams_accepted_total"
        )
        assert total(after, FIRST_AUDIO) > total(before, FIRST_AUDIO)  # the histograms moved
        assert total(after, "switchboard_voice_calls_total") > total(before, "switchboard_voice_calls_total")
        assert total(after, "switchboard_voice_frames_total") > total(
            before, "switchboard_voice_frames_total"
        )
        assert total(after, "switchboard_voice_loop_lag_seconds_count") > 0
        assert sid not in after and outcome.call_id not in after  # no call id in any label

        # The real Prometheus scraped every service with metrics, and has the call's series.
        want = total(after, FIRST_AUDIO)
        deadline = time.monotonic() + 20
        while True:
            up = {str(r["metric"]["job"]): r["value"][1] for r in await query(http, prom, "up")}  # type: ignore[index]
            got = await query(http, prom, f"sum({FIRST_AUDIO})")
            seen = float(got[0]["value"][1]) if got else 0.0  # type: ignore[index]
            if seen >= want and set(up) >= set(prometheus.jobs(settings)) and set(up.values()) == {"1"}:
                break
            assert time.monotonic() < deadline, (up, seen, want)
            await asyncio.sleep(0.5)
        sdk = await query(http, prom, "temporal_workflow_task_schedule_to_start_latency_seconds_count")
        assert {r["metric"]["job"] for r in sdk} >= {"worker_sdk"}  # type: ignore[index]
        rules = (await http.get(f"{prom}/api/v1/rules")).json()["data"]["groups"]
        assert sum(len(g["rules"]) for g in rules) == 8
