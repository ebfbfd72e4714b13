"""Fixtures shared by the engine tests: one engine process for the whole test session.

The engine beside the session's Piper process (``tts_settings``) starts once; each test opens
its own websocket, and a websocket is a session of its own (conversation, buffer, policy), so
tests stay isolated without paying for a process and a Whisper model load per module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from infra.realtime_engine import service
from infra.stack import free_port
from infra.testing import running_stack
from switchboard.config import LOCAL_HOST, Settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine_url(tts_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One engine process for every engine test, as ``ws://…/v1/realtime``."""
    ports = tts_settings.ports.model_copy(update={"realtime": free_port()})
    settings = tts_settings.model_copy(update={"home": tmp_path_factory.mktemp("realtime"), "ports": ports})
    async with running_stack(settings, lambda s: [service(s)]):
        yield f"ws://{LOCAL_HOST}:{settings.ports.realtime}/v1/realtime"
