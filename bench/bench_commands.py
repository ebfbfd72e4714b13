"""Benchmark: Temporal RPCs per call-minute at 50 concurrent live calls, commands polled (before)
and pushed (now), in the same run on the same dev server.

How RPCs are counted: the dev server's own Prometheus counter ``service_requests`` of its
frontend service (every gRPC call a client or worker makes: queries, signals, updates, heartbeats,
polls, task completions), read before and after a window while all calls are live. The window
has one supervisor whisper per call, so delivering a command is counted too. The calls end
afterwards and what ending costs is reported apart (``end_rpcs_per_call``).

Before: the tree of the commit before the push (found in git history: the last one whose
``voice/activity.py`` queried the workflow's ``command``), extracted with ``git archive`` to a
temporary directory; now: this tree. Each runs ``bench/commands_calls.py`` in its own process with
that tree first on ``PYTHONPATH``: the real workflow, workflow worker and ``converse`` activity
of that tree, with only the media stream and the Realtime conversation replaced.

Run: ``.venv/bin/python -m bench.bench_commands [--calls 50] [--window 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bench.common import report
from infra import services
from infra.testing import isolated_settings, running_stack
from switchboard.config import Settings

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "bench" / "commands_calls.py"


def baseline_ref() -> str:
    """The commit before the polling was removed from ``voice/activity.py``."""
    out = subprocess.run(
        ["git", "log", "--format=%H", "-S", 'query("command"', "--", "voice/activity.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not out:
        raise RuntimeError("no commit in this history polls the command query")
    return f"{out[0]}^"


def extract(ref: str, into: Path) -> None:
    archive = into / "tree.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "archive", ref], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")


def run_side(tree: Path, settings: Settings, calls: int, window_s: float) -> dict[str, Any]:
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(tree)}
    metrics = f"http://127.0.0.1:{settings.ports.temporal_metrics}/metrics"
    out = subprocess.run(
        [sys.executable, str(RUNNER), str(calls), str(window_s), metrics],
        env=env,
        capture_output=True,
        text=True,
        timeout=window_s + 600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the {tree} side failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument(
        "--window", type=float, default=60.0, help="seconds measured while all calls are live"
    )
    args = parser.parse_args()
    ref = baseline_ref()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        extract(ref, base)
        settings = isolated_settings(base / "home")
        async with running_stack(
            settings, lambda s: [services.temporal(s, in_memory=True), services.moto(s)]
        ):
            before = await asyncio.to_thread(run_side, base / "tree", settings, args.calls, args.window)
            after = await asyncio.to_thread(run_side, ROOT, settings, args.calls, args.window)
    assert before["mode"] == "poll" and after["mode"] == "push", (before["mode"], after["mode"])
    figures = {
        "concurrent_calls": args.calls,
        "rpcs_per_call_minute_polled": before["rpcs_per_call_minute"],
        "rpcs_per_call_minute_pushed": after["rpcs_per_call_minute"],
        "reduction": round(before["rpcs_per_call_minute"] / max(after["rpcs_per_call_minute"], 0.1), 1),
        "polled_by_operation": before["live_rpcs_by_operation"],
        "pushed_by_operation": after["live_rpcs_by_operation"],
        "end_rpcs_per_call_polled": before["end_rpcs_per_call"],
        "end_rpcs_per_call_pushed": after["end_rpcs_per_call"],
        "baseline": ref,
    }
    report(
        "bench_commands",
        figures,
        notes=(
            f"{args.calls} live calls for {before['live_s']} s / {after['live_s']} s, one whisper each; "
            "RPCs = the dev server's frontend service_requests (all operations); in-memory dev server"
        ),
    )


if __name__ == "__main__":
    asyncio.run(main())
