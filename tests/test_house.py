"""The house's floors: ``switchboard`` is the ground floor every part imports, so it imports none.

Each module of ``switchboard`` is imported alone in a fresh interpreter (one per module, a few at a
time), and what that pulled into ``sys.modules`` must hold nothing of the parts above it. One
interpreter for all would not do: a module already imported by an earlier one hides its imports.
An import inside a function runs only when the function does, so the source is read for those too.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import switchboard

ROOT = Path(__file__).resolve().parents[1]
# The parts above the ground floor; `cli` composes them all and sits on top.
PARTS = frozenset(
    {"infra", "workflows", "voice", "activities", "evals", "dashboard", "functions", "cli", "deploy", "bench"}
)
PROBE = (
    "import importlib, json, sys; module = importlib.import_module(sys.argv[1]); "
    "print(json.dumps({'file': module.__file__, 'loaded': sorted({m.partition('.')[0] for m in sys.modules})}))"
)


def ground_floor_modules() -> list[str]:
    modules = pkgutil.walk_packages(switchboard.__path__, prefix="switchboard.")
    return ["switchboard", *sorted(m.name for m in modules)]


def _parts_loaded_by(module: str) -> tuple[str, list[str]]:
    """The parts a fresh interpreter holds after importing ``module`` alone, and the file it found."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{module} does not import alone:\n{done.stderr}"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["file"], sorted(PARTS & set(found["loaded"]))


def test_the_walk_sees_the_whole_ground_floor() -> None:
    modules = ground_floor_modules()
    assert {"switchboard.config", "switchboard.profiles", "switchboard.temporal"} <= set(modules)
    assert len(modules) >= 20, modules


def test_no_ground_floor_module_imports_a_part_above_it() -> None:
    modules = ground_floor_modules()
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        results = dict(zip(modules, pool.map(_parts_loaded_by, modules), strict=True))
    outside = {m: file for m, (file, _) in results.items() if not file.startswith(str(ROOT))}
    assert not outside, f"imported from another tree (set PYTHONPATH?): {outside}"
    offenders = {m: parts for m, (_, parts) in results.items() if parts}
    assert not offenders, f"switchboard modules that import the parts above them: {offenders}"


def _parts_named_in(path: Path) -> set[str]:
    """The parts an ``import`` anywhere in the file names, inside functions included."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            named.add(node.module.partition(".")[0])
    return named & PARTS


def test_no_ground_floor_source_names_a_part_even_in_a_function() -> None:
    package = Path(switchboard.__file__).parent
    offenders = {
        str(path.relative_to(ROOT)): sorted(parts)
        for path in sorted(package.rglob("*.py"))
        if (parts := _parts_named_in(path))
    }
    assert not offenders, f"switchboard sources that import the parts above them: {offenders}"
