"""Shared fixtures: an isolated local stack (real Temporal dev server and moto) per test session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from infra import services
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.config import Settings
from switchboard.temporal import connect_client


def _core_services(settings: Settings) -> list[ServiceSpec]:
    return [services.temporal(settings, in_memory=True), services.moto(settings)]


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(stack_home: Path) -> AsyncIterator[Settings]:
    """Temporal and moto, started through the same launcher as ``switchboard up``."""
    settings = isolated_settings(stack_home)
    async with running_stack(settings, _core_services):
        yield settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(stack: Settings) -> Client:
    """A client of the stack; when histories are exported as replay fixtures, its payloads are
    encrypted under the test key (moto's KMS keys are gone once the stack stops)."""
    if os.environ.get("SWITCHBOARD_EXPORT_HISTORIES") == "1":
        from tests.support.keys import TEST_KEYS

        return await connect_client(stack, keys=TEST_KEYS)
    return await connect_client(stack)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def tts_settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """The Piper speech process (separate from the core stack: it takes ~1 s and 300 MB)."""
    from infra.speech import tts

    settings = isolated_settings(tmp_path_factory.mktemp("tts"))
    async with running_stack(settings, lambda s: [tts.service(s)]):
        yield settings
