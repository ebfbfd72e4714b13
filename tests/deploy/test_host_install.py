"""The Dockerfile's install steps (scripts/install-host.sh), run here in a fresh virtual environment.

No Docker engine runs in CI, so the image is not built; what goes into it is: the host lock, hash
checked, without the [local] and [dev] extras, and the project. Both workers' modules must import
from that environment alone (not from this source tree).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("voice.__main__", "voice.live_calls", "workflows.worker")


def image_sources() -> list[str]:
    """What the Dockerfile copies into the image (every ``COPY`` line's sources)."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    return [src for line in lines if line.startswith("COPY ") for src in line.split()[1:-1]]


@pytest.mark.slow  # ~40 s building a venv: make evals (the locks stay checked in make test: test_lock.py)
def test_the_host_install_script_makes_an_environment_that_imports_both_workers(tmp_path: Path) -> None:
    # The image's build context: only what the Dockerfile copies (and no build/ left in this tree).
    context = tmp_path / "src"
    for src in image_sources():
        target = context / src
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / src).is_dir():
            shutil.copytree(ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / src, target)
    venv = tmp_path / "host"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))}
    env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_")}  # this machine's pip settings
    for step in ("deps", "project"):  # the two layers, as the Dockerfile runs them
        script = ["sh", "scripts/install-host.sh", str(venv), step]
        subprocess.run(script, cwd=context, env=env, check=True, timeout=900)

    python = str(venv / "bin" / "python")
    code = f"import importlib, json; print(json.dumps([importlib.import_module(m).__file__ for m in {WORKERS!r}]))"
    done = subprocess.run([python, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert all(path.startswith(str(venv)) for path in json.loads(done.stdout)), done.stdout

    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"], env=env, capture_output=True, text=True, check=True
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"temporalio", "openai", "websockets", "switchboard"} <= installed
    assert not installed & {
        "moto",
        "piper-tts",
        "onnxruntime",
        "faster-whisper",
        "pytest",
        "ruff",
        "mypy",
        "torch",
    }
    check = subprocess.run([python, "-m", "pip", "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
