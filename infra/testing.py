"""Helpers that start an isolated copy of the local stack: other ports, another home, always stopped.

The pytest fixtures in ``tests/conftest.py`` are built on these, and so are the benchmarks and
the eval runner, so that everything runs against the very servers ``switchboard up`` starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from infra.stack import ServiceSpec, Stack, free_port
from switchboard.config import LOCAL_HOST, Ports, Settings


def isolated_settings(home: Path, **overrides: object) -> Settings:
    """Settings for a private stack under ``home``: every port free, every URL pointing at it."""
    ports = Ports.model_validate({name: free_port() for name in Ports.model_fields})
    values: dict[str, object] = {
        "home": home,
        "ports": ports,
        "temporal_address": f"{LOCAL_HOST}:{ports.temporal}",
        "temporal_ui_url": f"http://{LOCAL_HOST}:{ports.temporal_ui}",
        "aws_endpoint_url": f"http://{LOCAL_HOST}:{ports.moto}",
        "realtime_url": f"ws://{LOCAL_HOST}:{ports.realtime}/v1/realtime?model=gpt-realtime",
        "twilio_api_url": f"http://{LOCAL_HOST}:{ports.phone}",
        "public_voice_url": f"ws://{LOCAL_HOST}:{ports.voice}/media-stream",
        "public_api_url": f"http://{LOCAL_HOST}:{ports.gateway}",
        "voice_webhook_url": f"http://{LOCAL_HOST}:{ports.gateway}/twilio/voice",
        "tts_url": f"http://{LOCAL_HOST}:{ports.tts}",
        "codec_origins": f"http://{LOCAL_HOST}:{ports.temporal_ui}",
        "voice_workers": 1,  # one worker on the voice port, no balancer (pass 2 for haproxy's pool)
    }
    values.update(overrides)
    return Settings.model_validate(values)


@asynccontextmanager
async def running_stack(
    settings: Settings, services: Callable[[Settings], Sequence[ServiceSpec]]
) -> AsyncIterator[Stack]:
    """Start the given services for ``settings``; stop them on exit, whatever happened."""
    stack = Stack(settings, services(settings))
    try:
        await stack.up()
        yield stack
    finally:
        stack.down()
