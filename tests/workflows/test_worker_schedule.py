"""The worker makes the digest's schedule once it runs, retrying while the stack is still being
provisioned (the codec's people table comes after every service is healthy)."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.config import Settings
from workflows import worker


async def test_the_digest_schedule_is_retried_until_it_can_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    async def ensure(client: Any, settings: Settings) -> bool:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise RuntimeError("ResourceNotFoundException: the people table is not there yet")
        return True

    monkeypatch.setattr(worker, "ensure_digest_schedule", ensure)
    await worker.keep_digest_schedule(object(), Settings(), max_wait_s=0.01)  # type: ignore[arg-type]
    assert len(attempts) == 3
