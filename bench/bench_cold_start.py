"""Benchmark: a Lambda cold start's import of each handler, from the twin artifact alone (issue 17).

Each sample is a fresh ``python -I -S -B`` (``deploy/invoke.py``) that imports the handler from the
twin (the Lambda artifact built for this machine, CPython 3.12 where this machine has it) with only
the runtime's boto3 beside it, as Lambda's init phase does; the figure is the import's own time
(``init_s``), median of ``RUNS`` interpreters per handler. ``-B`` writes no bytecode, as on Lambda's
read-only ``/var/task``: the artifact ships none, so every cold start compiles what it imports.

In the same run, the baseline: the same imports from a copy of the twin compiled to bytecode by the
same interpreter (what shipping ``.pyc`` would save, and what it would cost in size), and the floor:
an interpreter that imports nothing.

Run: ``.venv/bin/python -m bench.bench_cold_start`` (the first run builds the twin: wheels download).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import report
from deploy.artifact import handler_modules, mib, tree_bytes
from deploy.twin import Twin, TwinFunction, build_twin

RUNS = 10


def lambda_env(function: str) -> dict[str, str]:
    """What the runtime sets that the import reads (Powertools, X-Ray), and no endpoint: nothing connects."""
    return {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "POWERTOOLS_SERVICE_NAME": function,
        "LAMBDA_TASK_ROOT": "/var/task",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    }


def imports(twin: Twin, handler: str, artifact: Path) -> list[float]:
    """``init_s`` of ``RUNS`` fresh interpreters importing ``handler`` from ``artifact``."""
    times = []
    for _ in range(RUNS):
        with TwinFunction(twin, handler, lambda_env(handler.split(".")[1]), artifact=artifact) as function:
            if "init_error" in function.loaded:
                raise RuntimeError(function.loaded["init_error"])
            times.append(float(function.loaded["init_s"]))
    return times


def floor(twin: Twin) -> list[float]:
    """Wall time of an interpreter that starts and imports nothing (``-I -S``)."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([twin.python, "-I", "-S", "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    twin = build_twin()
    handlers = [f"{module}.lambda_handler" for module in handler_modules()]
    figures: dict[str, Any] = {"python": twin.version, "runs": RUNS}
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "compiled"
        shutil.copytree(twin.artifact, compiled)
        subprocess.run([twin.python, "-m", "compileall", "-q", "-j", "0", str(compiled)], check=True)
        figures["bytecode_adds_mib"] = mib(tree_bytes(compiled) - tree_bytes(twin.artifact))
        for handler in handlers:
            name = handler.split(".")[1]
            plain = imports(twin, handler, twin.artifact)
            with_pyc = imports(twin, handler, compiled)
            figures[name] = {
                "init_median_s": statistics.median(plain),
                "init_max_s": max(plain),
                "with_bytecode_median_s": statistics.median(with_pyc),
            }
    figures["interpreter_floor_median_s"] = statistics.median(floor(twin))
    report(
        "cold_start",
        figures,
        notes=f"twin: {twin.artifact} on CPython {twin.version}; x86_64 here, arm64 on Lambda "
        "(Lambda's CPU and memory size change the absolute figures, not the comparison)",
    )


if __name__ == "__main__":
    main()
