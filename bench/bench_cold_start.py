"""Benchmark: a Lambda cold start's import of each handler, from the twin artifact alone (issue 17).

Each sample is a fresh ``python -I -S -B`` (``deploy/invoke.py``) that imports the handler from the
twin (the Lambda artifact built for this machine, CPython 3.12 where this machine has it) with only
the runtime's boto3 beside it, as Lambda's init phase does; the figure is the import's own time
(``init_s``) and the wall time from spawn to ready, median of ``RUNS`` interpreters per function. ``-B`` writes no bytecode, as on Lambda's
read-only ``/var/task``: the artifact ships none, so every cold start compiles what it imports.

In the same run, the baseline: the same imports from a copy of the twin compiled to bytecode by the
same interpreter (what shipping ``.pyc`` would save, and what it would cost in size), and the floor:
an interpreter that imports nothing (on the wall clock). The kinds alternate round by round.

Run: ``.venv/bin/python -m bench.bench_cold_start`` (the first run builds the twin: wheels download).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import percentiles, report
from deploy.artifact import mib, tree_bytes
from deploy.twin import LAMBDA_RUNTIME_ENV, Twin, TwinFunction, build_twin
from infra.gateway import function_env
from infra.gateway_events import LambdaRoute, routes_from_template

RUNS = 10


def lambda_env(route: LambdaRoute) -> dict[str, str]:
    """What the runtime sets that the import reads (Powertools, X-Ray), and no endpoint: nothing connects."""
    env = function_env(route.function, route.env) | LAMBDA_RUNTIME_ENV
    return env | {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}


def cold_start(twin: Twin, route: LambdaRoute, artifact: Path) -> tuple[float, float]:
    """(the import's own time inside the new interpreter, the wall time from spawn to ready)."""
    started = time.perf_counter()
    with TwinFunction(twin, route.handler, lambda_env(route), artifact=artifact) as function:
        wall = time.perf_counter() - started
        if "init_error" in function.loaded:
            raise RuntimeError(function.loaded["init_error"])
        return float(function.loaded["init_s"]), wall


def floor(twin: Twin) -> float:
    """Wall time of an interpreter that starts and imports nothing (``-I -S``): the same clock as a
    cold start's wall time."""
    started = time.perf_counter()
    subprocess.run([twin.python, "-I", "-S", "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    twin = build_twin()
    routes = list({r.function: r for r in routes_from_template()}.values())  # one route per function
    figures: dict[str, Any] = {"python": twin.version, "runs": RUNS}
    samples: dict[str, dict[str, list[float]]] = {
        r.function: {"init": [], "wall": [], "init_pyc": [], "wall_pyc": []} for r in routes
    }
    floors: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "compiled"
        shutil.copytree(twin.artifact, compiled)
        subprocess.run([twin.python, "-m", "compileall", "-q", "-j", "0", str(compiled)], check=True)
        figures["bytecode_adds_mib"] = mib(tree_bytes(compiled) - tree_bytes(twin.artifact))
        for _ in range(RUNS):  # rounds, each with every kind, so a busy moment hits all alike
            floors.append(floor(twin))
            for route in routes:
                s = samples[route.function]
                for kind, artifact in (("", twin.artifact), ("_pyc", compiled)):
                    init, wall = cold_start(twin, route, artifact)
                    s["init" + kind].append(init)
                    s["wall" + kind].append(wall)
    floor_p50 = percentiles(floors)["p50"]
    figures["interpreter_floor_s"] = percentiles(floors)
    for function, s in samples.items():
        wall_p50 = percentiles(s["wall"])["p50"]
        figures[function] = {
            "init_p50_s": percentiles(s["init"])["p50"],
            "init_max_s": max(s["init"]),
            "wall_p50_s": wall_p50,
            "wall_over_floor": wall_p50 / floor_p50,
            "with_bytecode_init_p50_s": percentiles(s["init_pyc"])["p50"],
            "with_bytecode_wall_p50_s": percentiles(s["wall_pyc"])["p50"],
        }
    report(
        "cold_start",
        figures,
        notes=f"twin: {twin.artifact} on CPython {twin.version}; x86_64 here, arm64 on Lambda "
        "(Lambda's CPU and memory size change the absolute figures, not the comparison)",
    )


if __name__ == "__main__":
    main()
