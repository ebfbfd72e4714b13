"""Benchmark: web form → the phone network receives the dial request (issue 6).

Each form is POSTed signed to the Lambda gateway (a separate process running the real handler),
which starts ``OutboundCallbackWorkflow`` on the dev server (SQLite); the workflow worker (in this
process) checks the contact rules, starts the call's workflow and dials through the twilio SDK
at the phone network (in this process, so the moment it receives ``Calls.json`` is read from its
own clock). Numbers are registered busy so no call holds a voice worker.

1. Latency: 50 forms one at a time, form POST sent → dial request received, p50/p99 (goal p99 ≤ 1 s).
2. Load: 1,000 forms in 60 s at an even rate, 10 % of them re-posts of an earlier submission →
   every submission scheduled exactly once (one workflow, one dial per number).

Run: ``.venv/bin/python -m bench.bench_callbacks``.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from datetime import UTC
from pathlib import Path

import httpx

from bench.common import percentiles, report
from functions._forms import sign_body
from infra import gateway, services
from infra.phone.app import running_network
from infra.phone.callee import Callee
from infra.phone.network import PhoneNetwork
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.config import Settings
from switchboard.temporal import connect_client
from workflows.worker import build_worker

LATENCY_FORMS = 50
LOAD_FORMS = 1000
LOAD_SECONDS = 60.0
DUPLICATE_SHARE = 0.10


def number(i: int) -> str:
    return f"+614{12000000 + i:08d}"


def form(submission: str, phone: str) -> bytes:
    return json.dumps(
        {
            "submission_id": submission,
            "name": "Bench Lead",
            "phone": phone,
            "timezone": "Australia/Sydney",
            "consent_to_contact": True,
        }
    ).encode()


async def post(http: httpx.AsyncClient, settings: Settings, body: bytes) -> tuple[int, float]:
    headers = {
        "content-type": "application/json",
        "x-switchboard-signature": sign_body(gateway.local_form_secret(), body),
    }
    sent = time.time()
    resp = await http.post(f"{settings.public_api_url}/callbacks", content=body, headers=headers)
    return resp.status_code, sent


def dial_times(network: PhoneNetwork) -> dict[str, list[float]]:
    """When the network received each number's dial requests (its own clock)."""
    seen: dict[str, list[float]] = {}
    for call in network.calls.all():
        seen.setdefault(call.to, []).append(call.created_at.astimezone(UTC).timestamp())
    return seen


async def wait_for_dials(
    network: PhoneNetwork, numbers: set[str], timeout_s: float
) -> dict[str, list[float]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = dial_times(network)
        if numbers <= seen.keys():
            return seen
        await asyncio.sleep(0.05)
    return dial_times(network)


async def bench_latency(
    http: httpx.AsyncClient, settings: Settings, network: PhoneNetwork
) -> dict[str, float]:
    samples: list[float] = []
    for i in range(LATENCY_FORMS):
        phone = number(i)
        network.register(phone, Callee(answer="busy"))
        status, sent = await post(http, settings, form(f"lat-{i}-{random.getrandbits(32):x}", phone))
        assert status == 202, status
        seen = await wait_for_dials(network, {phone}, 10)
        samples.append((seen[phone][0] - sent) * 1000)
    return percentiles(samples)


async def bench_load(http: httpx.AsyncClient, settings: Settings, network: PhoneNetwork) -> dict[str, object]:
    rng = random.Random(7)
    unique = int(LOAD_FORMS * (1 - DUPLICATE_SHARE))
    subs = [(f"load-{i}-{rng.getrandbits(32):x}", number(1000 + i)) for i in range(unique)]
    for _, phone in subs:
        network.register(phone, Callee(answer="busy"))
    order = subs + [rng.choice(subs) for _ in range(LOAD_FORMS - unique)]
    rng.shuffle(order)  # duplicates may arrive before or after their first post
    statuses: list[int] = []
    answered_ms: list[float] = []
    started = time.monotonic()

    async def one(k: int, submission: str, phone: str) -> None:
        await asyncio.sleep(max(0.0, started + k * LOAD_SECONDS / LOAD_FORMS - time.monotonic()))
        status, sent = await post(http, settings, form(submission, phone))
        answered_ms.append((time.time() - sent) * 1000)
        statuses.append(status)

    await asyncio.gather(*(one(k, s, p) for k, (s, p) in enumerate(order)))
    posting_s = time.monotonic() - started
    seen = await wait_for_dials(network, {p for _, p in subs}, 60)
    client = await connect_client(settings)
    workflows = 0
    async for _ in client.list_workflows(
        "WorkflowType='OutboundCallbackWorkflow' AND LeadId STARTS_WITH 'load-'"
    ):
        workflows += 1
    dials = [len(seen.get(p, [])) for _, p in subs]
    return {
        "forms_posted": len(order),
        "form_answer_ms_under_load": percentiles(answered_ms),
        "unique_submissions": unique,
        "posting_seconds": posting_s,
        "http_202": statuses.count(202),
        "other_status": len(statuses) - statuses.count(202),
        "callback_workflows": workflows,
        "numbers_dialled_once": dials.count(1),
        "numbers_dialled_twice_or_more": sum(1 for d in dials if d > 1),
        "numbers_never_dialled": dials.count(0),
        "exactly_once": workflows == unique and dials.count(1) == unique,
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = isolated_settings(Path(home), calling_hours="always")

        def stack(s: Settings) -> list[ServiceSpec]:
            return [services.temporal(s), services.moto(s), gateway.service(s)]

        async with (
            running_stack(settings, stack),
            running_network(settings) as network,
        ):
            client = await connect_client(settings)
            limits = httpx.Limits(max_connections=LOAD_FORMS, max_keepalive_connections=100)
            async with build_worker(client, settings), httpx.AsyncClient(timeout=180, limits=limits) as http:
                latency = await bench_latency(http, settings, network)
                load = await bench_load(http, settings, network)
    report(
        "callbacks",
        {
            "form_to_dial_ms": latency,
            "goal_p99_le_1000ms": latency.get("p99", 1e9) <= 1000,
            **{f"load_{k}": v for k, v in load.items()},
        },
        notes="gateway = separate process running the real handler; worker and phone network in this process",
    )


if __name__ == "__main__":
    asyncio.run(main())
