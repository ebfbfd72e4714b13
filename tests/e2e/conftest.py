"""The whole local stack as processes, started by the same launcher as ``switchboard up``:
Temporal, moto, Piper, the Realtime engine, the phone network, the gateway, both workers."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from infra import services
from infra.phone.client import SimClient
from infra.stack import Stack
from infra.testing import isolated_settings, running_stack
from switchboard.config import Settings
from switchboard.models import CallOutcome
from switchboard.temporal import connect_client


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def e2e(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Settings, Stack]]:
    settings = isolated_settings(tmp_path_factory.mktemp("e2e"), calling_hours="always")  # any hour
    try:
        async with running_stack(settings, services.call_stack) as stack:
            yield settings, stack
    finally:  # keep the services' logs where a failed run can be read (pytest rotates its tmp dirs)
        kept = Path(".local/test-logs/e2e")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(settings.logs_dir, kept, dirs_exist_ok=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def e2e_client(e2e: tuple[Settings, Stack]) -> Client:
    return await connect_client(e2e[0])


@pytest_asyncio.fixture(loop_scope="session")
async def sim(e2e: tuple[Settings, Stack]) -> AsyncIterator[SimClient]:
    async with SimClient(f"http://127.0.0.1:{e2e[0].ports.phone}") as client:
        yield client


JOBS = "+61255550104"
WAIT = {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 25000}}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def barged(e2e: tuple[Settings, Stack], e2e_client: Client) -> tuple[str, CallOutcome]:
    """One job-status call whose caller talks over the agent's answer (test_barge_in checks the
    audio, test_call_page the dashboard's picture of it): its call sid and outcome."""
    from tests.e2e.test_booking_call import place_call

    script = {
        "name": "barges-in",
        "steps": [
            WAIT,
            {"say": "Yes, that's fine, you can record the call."},
            WAIT,
            {"say": "What's the status of job four one seven two?"},
            # The answer is a long sentence: speak over it 600 ms after it starts.
            {"say": {"text": "Sorry, stop, what about job four one eight zero?", "barge_in_after_ms": 600}},
            WAIT,
            {"say": "Thanks, goodbye."},
            {"wait_for_agent": {"silence_ms": 2500, "timeout_ms": 15000}},
        ],
        "after_steps": "hangup",
    }
    async with SimClient(f"http://127.0.0.1:{e2e[0].ports.phone}") as sim:
        return await place_call(sim, e2e_client, JOBS, script)
