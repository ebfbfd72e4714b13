"""The reveal log: each time a supervisor unmasks personal data, who, what and when (never the value).

One audit log line per reveal (logger ``switchboard.dashboard.audit``), and the same record appended
to ``<home>/dashboard/reveals.jsonl`` for the in-app list.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

audit_log = logging.getLogger("switchboard.dashboard.audit")


@dataclass(frozen=True)
class Reveal:
    at: str
    user: str
    call_id: str
    what: str


class RevealLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, user: str, call_id: str, what: str) -> Reveal:
        entry = Reveal(
            at=datetime.now(UTC).isoformat(timespec="seconds"), user=user, call_id=call_id, what=what
        )
        audit_log.info("reveal user=%s call=%s what=%s at=%s", user, call_id, what, entry.at)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(entry)) + "\n")
        return entry

    def recent(self, limit: int = 200) -> list[Reveal]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [Reveal(**json.loads(line)) for line in reversed(lines[-limit:]) if line.strip()]
