"""Contact rules that need the outside world: the do-not-call register (an adapter; a local file).

A user swaps ``FileDoNotCall`` for their provider (e.g. a national register's wash API)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from temporalio import activity

from switchboard.messages import DoNotCallCheck


class DoNotCallRegister(Protocol):
    def listed(self, phone: str) -> bool: ...


class FileDoNotCall:
    """One E.164 number per line; ``#`` comments. Re-read on every check, so edits apply at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def listed(self, phone: str) -> bool:
        if not self.path.exists():
            return False
        return any(line.split("#", 1)[0].strip() == phone for line in self.path.read_text().splitlines())


class ContactActivities:
    def __init__(self, register: DoNotCallRegister) -> None:
        self.register = register

    @activity.defn(name="check_do_not_call")
    async def check_do_not_call(self, check: DoNotCallCheck) -> bool:
        return await asyncio.to_thread(self.register.listed, check.phone)
