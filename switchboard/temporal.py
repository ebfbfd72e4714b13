"""The one way every part connects to Temporal: pydantic payloads, and Cloud auth by config."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RetryConfig

from switchboard.config import Settings, get_settings


async def connect_client(
    settings: Settings | None = None, *, fail_fast: bool = False, wait_s: float = 0.0
) -> Client:
    """Connect to the configured Temporal (local dev server, self-hosted or Temporal Cloud).

    With ``TEMPORAL_API_KEY`` set, TLS is switched on and the key is sent, as Temporal Cloud expects.
    ``fail_fast`` uses a tight retry budget, for request handlers that must answer quickly;
    ``wait_s`` keeps trying that long for a server that is still starting (workers at boot).
    """
    s = settings or get_settings()
    api_key = s.temporal_api_key.get_secret_value() if s.temporal_api_key else None
    retry = RetryConfig(max_retries=2, max_elapsed_time_millis=2000) if fail_fast else RetryConfig()
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await Client.connect(
                s.temporal_address,
                namespace=s.temporal_namespace,
                api_key=api_key,
                tls=bool(api_key),
                data_converter=pydantic_data_converter,
                retry_config=retry,
            )
        except RuntimeError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.25)
