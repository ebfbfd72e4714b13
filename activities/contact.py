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
from switchboard.people import NotAPhoneNumber, PersonKeys, person_id


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


class OptedOut:
    """The do-not-contact list in the people table, asked by ``person_id`` (an HMAC of the number)."""

    def __init__(self, people: PersonKeys, pepper: str) -> None:
        self.people, self.pepper = people, pepper

    def listed(self, phone: str) -> bool:
        try:
            return self.people.opted_out(person_id(phone, self.pepper))
        except NotAPhoneNumber:
            return False


class ContactActivities:
    """The national register, and the business's own do-not-contact list (people who replied STOP)."""

    def __init__(self, register: DoNotCallRegister, opted_out: DoNotCallRegister | None = None) -> None:
        self.register = register
        self.opted_out = opted_out

    def _listed(self, phone: str) -> bool:
        return self.register.listed(phone) or (self.opted_out is not None and self.opted_out.listed(phone))

    @activity.defn(name="check_do_not_call")
    async def check_do_not_call(self, check: DoNotCallCheck) -> bool:
        return await asyncio.to_thread(self._listed, check.phone)
