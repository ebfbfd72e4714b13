"""The twin: the Lambda artifact built for this machine, and a clean interpreter that runs it.

Lambda runs the functions on CPython 3.12; the twin uses a 3.12 interpreter when this machine has
one (``SWITCHBOARD_TWIN_PYTHON``, ``python3.12`` on the PATH, or pyenv's), else the interpreter
running this code. ``TwinFunction`` is one execution environment: ``deploy/invoke.py`` in
``python -I -S -B`` with the artifact and the runtime's boto3 on ``sys.path`` and nothing else.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from deploy.artifact import build, twin_platform
from deploy.lock import LAMBDA_PYTHON

INVOKE = Path(__file__).resolve().parent / "invoke.py"
WANTED = LAMBDA_PYTHON  # Lambda's runtime
# What Lambda's runtime sets for every invocation that an import reads (X-Ray's tracing header).
LAMBDA_RUNTIME_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}


def _version(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def twin_python() -> tuple[str, str]:
    """(interpreter, its X.Y): Lambda's version where this machine has it, else this interpreter's."""
    candidates = [
        os.environ.get("SWITCHBOARD_TWIN_PYTHON", ""),
        shutil.which(f"python{WANTED}") or "",
        *sorted(
            glob.glob(os.path.expanduser(f"~/.pyenv/versions/{WANTED}*/bin/python{WANTED}")), reverse=True
        ),
    ]
    for candidate in filter(None, candidates):
        version = _version(candidate)
        if version == WANTED:
            return candidate, version
    return sys.executable, "{}.{}".format(*sys.version_info[:2])


@dataclass(frozen=True)
class Twin:
    python: str
    version: str
    artifact: Path
    runtime: Path


def build_twin() -> Twin:
    """The twin artifact and its runtime stand-in (cached in ``.local/lambda/``)."""
    python, version = twin_python()
    platform = twin_platform(version)
    return Twin(python, version, build(platform), build(platform, runtime=True))


class TwinFunction:
    """One execution environment of a handler running from ``artifact`` alone (a context manager)."""

    def __init__(
        self, twin: Twin, handler: str, env: dict[str, str], *, artifact: Path | None = None
    ) -> None:
        self.twin, self.handler = twin, handler
        self.artifact = artifact or twin.artifact
        self.env = env
        self.loaded: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> TwinFunction:
        argv = [self.twin.python, "-I", "-S", "-B", str(INVOKE), self.handler, str(self.artifact)]
        self._process = subprocess.Popen(
            [*argv, str(self.twin.runtime)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        self.loaded = self._read()
        return self

    def _read(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.handler}: the environment exited (code {self._process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def invoke(self, event: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
        """The handler's reply to one event: ``{"result": …}`` or ``{"error": traceback}``."""
        if "init_error" in self.loaded:
            raise RuntimeError(self.loaded["init_error"])
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps({"event": event, "context": context or {}}) + "\n")
        self._process.stdin.flush()
        return self._read()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
