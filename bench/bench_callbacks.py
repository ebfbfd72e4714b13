"""Benchmark: web form → the phone network receives the dial request (issue 6).

Each form is POSTed signed to the Lambda gateway (a separate process: its execution environments
run the real handler), which starts ``OutboundCallbackWorkflow`` on the dev server (SQLite file);
the workflow worker (``python -m workflows.worker``, its own process as in ``switchboard up``)
checks the contact rules, starts the call's workflow and dials through the twilio SDK at the phone
network (in this process, so the moment it receives ``Calls.json`` is read from its own clock).
Numbers are registered busy: no call holds a voice worker, and the network posts the busy status
callback through the gateway's ``call_status`` function, which ends the call's workflow; the
callback workflow then sleeps until its retry (``retry_after_s``, minutes later).

1. Latency: 50 forms one at a time, form POST sent → dial request received, p50/p99 (goal p99 ≤ 1 s).
2. Load: 1,000 forms in 60 s at an even rate, 10 % of them re-posts of an earlier submission →
   every submission scheduled exactly once: one workflow, and one dial of its first attempt
   (``callback-<id>-a1``, read from the TwiML the network received). Dials of later attempts are
   the scheduled retries and are counted apart; the same attempt dialled twice is a duplicate.
   The dials may trail the posting: the wait for them (``DRAIN_TIMEOUT_S``) is reported as
   ``drain_seconds``, from the last post to the last first-attempt dial.

CPU seconds per process during the load (``cpu_ms_per_form``: per unique submission) say where
the time goes whatever else runs on the machine; wall-clock figures come with the load average.

Run: ``.venv/bin/python -m bench.bench_callbacks`` (``BENCH_WORKERS=n`` runs n worker processes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import re
import tempfile
import time
from collections import Counter
from datetime import UTC
from pathlib import Path

import httpx

from bench.common import percentiles, report
from functions._forms import sign_body
from infra import gateway, services
from infra.phone.app import running_network
from infra.phone.callee import Callee
from infra.phone.network import PhoneNetwork
from infra.stack import ServiceSpec, Stack
from infra.testing import isolated_settings, running_stack
from switchboard.config import Settings
from switchboard.readiness import ready_check
from switchboard.temporal import connect_client

LATENCY_FORMS = 50
LOAD_FORMS = 1000
LOAD_SECONDS = 60.0
DUPLICATE_SHARE = 0.10
DRAIN_TIMEOUT_S = 300.0
WORKERS = max(1, int(os.environ.get("BENCH_WORKERS", "1")))
_ATTEMPT = re.compile(r'name="call_id" value="([^"]+-a(\d+))"')
_TICK = os.sysconf("SC_CLK_TCK")


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


class DialLog:
    """The dial requests the network received, indexed as they arrive: number, call id, attempt
    (``…-a<n>`` in the TwiML's call_id parameter) and the network's own receive time."""

    def __init__(self, network: PhoneNetwork) -> None:
        self.network = network
        self.dials: list[tuple[str, str, int, float]] = []
        self._seen = 0

    def refresh(self) -> None:
        calls = self.network.calls.all()  # in the order the network received them
        for call in calls[self._seen :]:
            found = _ATTEMPT.search(call.options.twiml or "")
            call_id, attempt = (found.group(1), int(found.group(2))) if found else ("", 0)
            self.dials.append((call.to, call_id, attempt, call.created_at.astimezone(UTC).timestamp()))
        self._seen = len(calls)

    def first_attempts(self) -> dict[str, list[float]]:
        """When each number's first attempt was dialled (more than one entry: a duplicate dial)."""
        seen: dict[str, list[float]] = {}
        for to, _, attempt, at in self.dials:
            if attempt == 1:
                seen.setdefault(to, []).append(at)
        return seen

    def per_call_id(self) -> Counter[str]:
        """How often each call id (one attempt of one callback) was dialled."""
        return Counter(call_id for _, call_id, _, _ in self.dials if call_id)

    async def wait(self, numbers: set[str], timeout_s: float, poll_s: float) -> dict[str, list[float]]:
        """First-attempt dials, once every number has one (or at the timeout)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.refresh()
            seen = self.first_attempts()
            if numbers <= seen.keys() or time.monotonic() >= deadline:
                return seen
            await asyncio.sleep(poll_s)


def cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """User + system CPU seconds of a process and its live descendants (the gateway's environments)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if descendants else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
        todo.extend(children.get(current, []))
    return total


BENCH_PROCESS = "bench (phone network, form client)"


async def process_ids(stack: Stack) -> dict[str, int]:
    pids = {r.name: r.pid for r in await stack.status() if r.pid is not None}
    return {**pids, BENCH_PROCESS: os.getpid()}


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    # The services are this process's children: its own figure is itself alone.
    return {name: cpu_seconds(pid, descendants=name != BENCH_PROCESS) for name, pid in pids.items()}


async def bench_latency(
    http: httpx.AsyncClient, settings: Settings, network: PhoneNetwork
) -> dict[str, float]:
    dial_log = DialLog(network)
    samples: list[float] = []
    for i in range(LATENCY_FORMS):
        phone = number(i)
        network.register(phone, Callee(answer="busy"))
        status, sent = await post(http, settings, form(f"lat-{i}-{random.getrandbits(32):x}", phone))
        assert status == 202, status
        seen = await dial_log.wait({phone}, 10, poll_s=0.02)
        samples.append((seen[phone][0] - sent) * 1000)
    return percentiles(samples)


async def bench_load(
    http: httpx.AsyncClient, settings: Settings, network: PhoneNetwork, pids: dict[str, int]
) -> dict[str, object]:
    rng = random.Random(7)
    unique = int(LOAD_FORMS * (1 - DUPLICATE_SHARE))
    subs = [(f"load-{i}-{rng.getrandbits(32):x}", number(1000 + i)) for i in range(unique)]
    for _, phone in subs:
        network.register(phone, Callee(answer="busy"))
    order = subs + [rng.choice(subs) for _ in range(LOAD_FORMS - unique)]
    rng.shuffle(order)  # duplicates may arrive before or after their first post
    statuses: list[int] = []
    answered_ms: list[float] = []
    cpu_before = cpu_by_process(pids)
    load_before = os.getloadavg()
    started = time.monotonic()

    async def one(k: int, submission: str, phone: str) -> None:
        await asyncio.sleep(max(0.0, started + k * LOAD_SECONDS / LOAD_FORMS - time.monotonic()))
        status, sent = await post(http, settings, form(submission, phone))
        answered_ms.append((time.time() - sent) * 1000)
        statuses.append(status)

    await asyncio.gather(*(one(k, s, p) for k, (s, p) in enumerate(order)))
    posted, posted_at = time.monotonic(), time.time()
    dial_log = DialLog(network)
    seen = await dial_log.wait({p for _, p in subs}, DRAIN_TIMEOUT_S, poll_s=0.5)
    drained = time.monotonic()
    cpu = {name: sec - cpu_before[name] for name, sec in cpu_by_process(pids).items()}
    last_dial = max((t for times in seen.values() for t in times), default=posted_at)
    client = await connect_client(settings)
    workflows = 0
    async for _ in client.list_workflows(
        "WorkflowType='OutboundCallbackWorkflow' AND LeadId STARTS_WITH 'load-'"
    ):
        workflows += 1
    dials = [len(seen.get(p, [])) for _, p in subs]
    call_ids = dial_log.per_call_id()
    load_ids = {cid: n for cid, n in call_ids.items() if cid.startswith("callback-load-")}
    twice = sum(1 for n in load_ids.values() if n > 1)
    elapsed = drained - started
    return {
        "forms_posted": len(order),
        "posting_seconds": posted - started,
        "form_answer_ms_under_load": percentiles(answered_ms),
        "unique_submissions": unique,
        "http_202": statuses.count(202),
        "other_status": len(statuses) - statuses.count(202),
        "callback_workflows": workflows,
        "numbers_dialled_once": dials.count(1),
        "numbers_dialled_twice_or_more": sum(1 for d in dials if d > 1),
        "numbers_never_dialled": dials.count(0),
        "attempts_dialled_twice": twice,
        "retry_dials_a2_plus": sum(n for cid, n in load_ids.items() if not cid.endswith("-a1")),
        "drain_seconds": last_dial - posted_at,
        "exactly_once": workflows == unique and dials.count(1) == unique and twice == 0,
        "cpu_ms_per_form": {name: 1000 * sec / unique for name, sec in cpu.items()},
        "cpu_share_of_one_core": {name: sec / elapsed for name, sec in cpu.items()},
        "loadavg_before": load_before[0],
        "loadavg_after": os.getloadavg()[0],
    }


def worker_services(s: Settings, count: int) -> list[ServiceSpec]:
    specs = []
    for i in range(1, count + 1):
        name = "worker" if i == 1 else f"worker-{i}"
        spec = services.worker(s)
        specs.append(
            dataclasses.replace(
                spec,
                name=name,
                env={**spec.env, "SWITCHBOARD_WORKER_NAME": name},
                health=ready_check(s, name),
            )
        )
    return specs


async def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = isolated_settings(Path(home), calling_hours="always")

        def stack(s: Settings) -> list[ServiceSpec]:
            return [services.temporal(s), services.moto(s), gateway.service(s), *worker_services(s, WORKERS)]

        async with (
            running_stack(settings, stack) as running,
            running_network(settings) as network,
        ):
            limits = httpx.Limits(max_connections=LOAD_FORMS, max_keepalive_connections=100)
            async with httpx.AsyncClient(timeout=180, limits=limits) as http:
                latency = await bench_latency(http, settings, network)
                load = await bench_load(http, settings, network, await process_ids(running))
    report(
        "callbacks",
        {
            "form_to_dial_ms": latency,
            "goal_p99_le_1000ms": latency.get("p99", 1e9) <= 1000,
            **{f"load_{k}": v for k, v in load.items()},
        },
        notes=(
            "gateway (with its execution environments), worker(s), Temporal dev server (SQLite, WAL) "
            "and moto are separate processes; the phone network and the form client run in this one"
        ),
    )


if __name__ == "__main__":
    asyncio.run(main())
