"""Readiness for services that listen on no port of their own (the workers): a ready file.

The process writes ``<home>/run/<name>.ready`` holding its pid once it is serving; the health
check reads it and checks that pid is alive, so a stale file from a dead run never counts.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from switchboard.config import Settings


def ready_file(settings: Settings, name: str) -> Path:
    return settings.home / "run" / f"{name}.ready"


def mark_ready(settings: Settings, name: str) -> None:
    path = ready_file(settings, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))


def ready_check(settings: Settings, name: str) -> Callable[[], Awaitable[bool]]:
    path = ready_file(settings, name)

    async def check() -> bool:
        try:
            pid = int(path.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    return check
