"""Contact rules that need the outside world: the do-not-call register (an adapter; a local file).

A user swaps ``FileDoNotCall`` for their provider (e.g. a national register's wash API). The check
runs as a local activity of the callback workflow (a lookup, no side effect), so it must stay quick:
a provider's API call belongs behind a short timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from temporalio import activity

from switchboard.messages import DoNotCallCheck


class DoNotCallRegister(Protocol):
    def listed(self, phone: str) -> bool: ...


class FileDoNotCall:
    """One E.164 number per line; ``#`` comments. Read again whenever the file changes (its size or
    modification time or inode), so edits apply at once without parsing the file on every check."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._numbers: frozenset[str] = frozenset()
        self._version: tuple[int, int, int] | None = None

    def listed(self, phone: str) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if version != self._version:
            lines = self.path.read_text().splitlines()
            self._numbers = frozenset(n for n in (line.split("#", 1)[0].strip() for line in lines) if n)
            self._version = version
        return phone in self._numbers


class ContactActivities:
    def __init__(self, register: DoNotCallRegister) -> None:
        self.register = register

    @activity.defn(name="check_do_not_call")
    async def check_do_not_call(self, check: DoNotCallCheck) -> bool:
        return await asyncio.to_thread(self.register.listed, check.phone)
