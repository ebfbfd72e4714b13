"""Benchmark: what metrics and tracing cost the voice worker, in CPU per call-second.

``bench_bridge``'s processes (the media server alone on core 0; the tone Realtime stand-in and the
caller processes on core 1) and one of its levels, with the server started twice per round in the
same run: *off* (no metrics, ``OTEL_SDK_DISABLED``) and *on* (as the voice worker runs: its
Prometheus metrics with a scrape every 15 s and its loop-lag watcher, and OpenTelemetry spans per
turn and tool round trip written to a file). Rounds alternate off/on so a drift of the machine
hits both. Reported: the server's CPU ms per call per second in each mode (every window), their
medians and the ratio. Target: on ≤ 1.05 × off.

Run: ``.venv/bin/python -m bench.bench_observability [--calls 150] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench.bench_bridge import CALLER_PROCS, _callers_main, _load, _run_level, _server_main, _tone_main
from bench.common import report
from infra.testing import isolated_settings


def main(calls: int, rounds: int) -> None:
    mp_ctx = mp.get_context("spawn")
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    checks: list[dict[str, Any]] = []
    with TemporaryDirectory() as home:
        settings = isolated_settings(Path(home))
        tone_pipe, tone_theirs = mp_ctx.Pipe()
        helpers = [
            mp_ctx.Process(
                target=_tone_main, args=(settings.ports.realtime, tone_theirs, True, None), daemon=True
            )
        ]
        callers = []
        for _ in range(CALLER_PROCS):
            ours, theirs = mp_ctx.Pipe()
            callers.append(ours)
            helpers.append(mp_ctx.Process(target=_callers_main, args=(settings, theirs, True), daemon=True))
        for proc in helpers:
            proc.start()
        try:
            assert tone_pipe.recv() == "ready"
            for n in range(rounds):
                for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):
                    server_pipe, server_theirs = mp_ctx.Pipe()
                    server = mp_ctx.Process(
                        target=_server_main,
                        args=(settings, server_theirs, None, True, None, mode == "on"),
                        daemon=True,
                    )
                    server.start()
                    ready, _ = server_pipe.recv()
                    assert ready == "ready"
                    figures = _run_level(server_pipe, tone_pipe, callers, calls)
                    server_pipe.send("quit")
                    server.join(10)
                    lost = figures["caller_bytes_lost"] + figures["agent_chunks_lost"] + figures["errors"]
                    checks.append({"mode": mode, "lost_or_errors": lost, "loadavg": figures["loadavg"]})
                    cpu[mode].append(round(figures["cpu_ms_per_call_s"], 3))
                    print(
                        f"round {n + 1} {mode}: {figures['cpu_ms_per_call_s']:.3f} ms CPU per call-second",
                        flush=True,
                    )
            for pipe in [tone_pipe, *callers]:
                pipe.send("quit")
        finally:
            for proc in helpers:
                proc.join(5)
                if proc.is_alive():
                    proc.terminate()
    off, on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
    report(
        "observability",
        {
            "calls": calls,
            "cpu_ms_per_call_s_off": cpu["off"],
            "cpu_ms_per_call_s_on": cpu["on"],
            "median_off": off,
            "median_on": on,
            "on_over_off": round(on / off, 3),
            "goal_on_le_1.05x_off": on <= 1.05 * off,
            "checks": checks,
            "loadavg_end": _load(),
        },
        notes=(
            "bench_bridge's processes and window; the server restarted per mode, rounds alternating "
            "off/on; on = Prometheus metrics (scrape every 15 s, loop-lag watcher) and OpenTelemetry "
            "spans per turn and tool round trip to a JSON-lines file; off = neither"
        ),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.calls, args.rounds)
