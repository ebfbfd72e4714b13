"""`make demo` works every time: five demos in a row on the same stack home (so the same local
business calendar, which keeps its bookings) each book the meeting their lead asks for.

Slow (about a minute a call): part of `make evals`, not `make test`; `tests/test_business.py`
checks the slot choice itself in `make test`."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infra.demo import run_demo
from infra.stack import Stack
from switchboard.config import Settings

pytestmark = pytest.mark.slow


async def test_five_demos_in_a_row_each_book_their_meeting(e2e: tuple[Settings, Stack]) -> None:
    settings, _ = e2e
    for run in range(5):
        out = io.StringIO()
        code = await run_demo(settings, Console(file=out, width=120))
        assert code == 0, f"demo {run + 1} of 5:\n{out.getvalue()}"
        assert "✓ tool book_meeting" in out.getvalue()
