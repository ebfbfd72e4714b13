"""Benchmark: the gap a caller hears when the voice worker holding their call is killed (#15).

The whole local stack as processes, with two voice workers behind haproxy (``infra.voice_pool``):
Temporal, the gateway's functions, the phone network, the Realtime engine with real speech. For
each of ``BENCH_KILLS`` calls (default 10), the simulated caller gives consent, and while the agent
answers ("Thank you. How can I help?") the worker holding the call is killed with SIGKILL. The call
goes on from the other worker (the phone network runs the ``<Redirect>``, ``/twilio/resume`` asks
the workflow, the new stream attaches, a new ``converse`` replays the conversation and apologises);
the killed worker is started again for the next call.

- **gap heard:** the agent's last audio before the kill → its first audio after (what the caller
  hears as silence), from the phone network's own record of both streams (``infra.phone.heard``).
- **drop → first audio:** the stream's end (the kill, as the phone saw it) → the first agent audio
  of the new stream: the resume itself.
- **floor:** the same calls' answer time to the caller's turn before the kill (the engine's
  first-audio latency of an undisturbed turn): what any agent audio costs here anyway.

Target: gap heard p95 ≤ 3 s locally. Run: ``.venv/bin/python -m bench.bench_resume``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from bench.common import percentiles, report
from infra import services
from infra.phone.client import SimClient
from infra.phone.heard import resume_delays_ms, resume_gaps_ms
from infra.stack import Stack
from infra.testing import isolated_settings, running_stack
from infra.voice_pool import worker_settings
from switchboard.config import Settings
from switchboard.temporal import connect_client
from workflows.call import CallWorkflow

KILLS = int(os.environ.get("BENCH_KILLS", "10"))
WORKERS = 2
CLINIC, CALLER = "+61255550101", "+61412345678"
LIVE = re.compile(r"^switchboard_voice_live_calls (\d+)", re.M)
WAIT = {"wait_for_agent": {"silence_ms": 2000, "timeout_ms": 25000}}
SCRIPT = {
    "name": "bench-resume",
    "steps": [
        WAIT,
        {"say": "Yes, that's fine, you can record the call."},
        WAIT,
        {"say": "That's all, thank you. Goodbye."},
        {"wait_for_agent": {"silence_ms": 2000, "timeout_ms": 15000}},
    ],
    "after_steps": "hangup",
    "max_duration_ms": 90000,
}


async def _holder(settings: Settings) -> int:
    async with httpx.AsyncClient(timeout=2.0) as http:
        for _ in range(100):
            for n in range(1, WORKERS + 1):
                url = f"http://127.0.0.1:{worker_settings(settings, n).ports.voice}/metrics"
                found = LIVE.search((await http.get(url)).text)
                if found and int(found.group(1)) > 0:
                    return n
            await asyncio.sleep(0.05)
    raise RuntimeError("no worker holds the call")


async def _consented(client: Client, call_id: str) -> None:
    handle = client.get_workflow_handle(call_id)
    for _ in range(1200):
        with contextlib.suppress(RPCError):
            if (await handle.query(CallWorkflow.view)).consent is not None:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("consent never recorded")


def _floor_ms(call: dict[str, Any]) -> float | None:
    """The first stream's answer time to the caller's consent: their speech end → agent audio."""
    stream = call["streams"][0]["summary"]["timeline"]
    ends = [e["t_ms"] for e in stream if e["kind"] == "caller_speech_stop"]
    starts = [e["t_ms"] for e in stream if e["kind"] == "agent_audio_start"]
    if not ends:
        return None
    after = [s for s in starts if s > ends[0]]
    return float(after[0] - ends[0]) if after else None


async def one_kill(settings: Settings, stack: Stack, client: Client, sim: SimClient) -> dict[str, Any]:
    sid = await sim.inbound_call({"from": CALLER, "to": CLINIC, "caller": {"script": SCRIPT}})
    await _consented(client, f"call-{sid}")
    holder = await _holder(settings)
    await asyncio.sleep(0.4)  # the agent is answering the consent ("Thank you. How can I help?")
    pid = stack.pid(f"voice-{holder}")
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # the whole host: the worker and its segment uploaders
    await asyncio.to_thread(os.waitpid, pid, 0)
    restart = asyncio.create_task(stack.up())  # back for the next call, while this one goes on
    call = await sim.wait(sid, timeout_s=180)
    outcome = await asyncio.wait_for(
        client.get_workflow_handle_for(CallWorkflow.run, f"call-{sid}").result(), 60
    )
    await restart
    gaps, delays = resume_gaps_ms(call), resume_delays_ms(call)
    return {
        "gap": gaps[0] if gaps else None,
        "delay": delays[0] if delays else None,
        "floor": _floor_ms(call),
        "resumes": outcome.resumes,
        "outcome": outcome.outcome.value,
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = isolated_settings(Path(tmp), calling_hours="always", voice_workers=WORKERS)
        async with running_stack(settings, lambda s: services.call_stack(s, voice_workers=WORKERS)) as stack:
            client = await connect_client(settings)
            runs: list[dict[str, Any]] = []
            async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
                for i in range(KILLS):
                    t0 = time.monotonic()
                    run = await one_kill(settings, stack, client, sim)
                    runs.append(run)
                    print(f"kill {i + 1}/{KILLS}: {run} ({time.monotonic() - t0:.0f} s)")
    gaps = [r["gap"] for r in runs if r["gap"] is not None]
    report(
        "bench_resume",
        {
            "kills": len(runs),
            "resumed": sum(r["resumes"] == 1 for r in runs),
            "completed": sum(r["outcome"] == "completed" for r in runs),
            "gap_heard_ms": percentiles(gaps),
            "drop_to_first_audio_ms": percentiles(r["delay"] for r in runs if r["delay"] is not None),
            "floor_answer_ms": percentiles(r["floor"] for r in runs if r["floor"] is not None),
            "target_gap_p95_ms": 3000,
        },
        notes="gap heard: the agent's last audio before the kill → its first audio after (target p95 ≤ 3 s); "
        "floor: an undisturbed answer of the same calls (caller's speech end → agent audio).",
    )


if __name__ == "__main__":
    asyncio.run(main())
