"""The engine as a stack service (``switchboard up`` and the test fixtures start it the same way)."""

from __future__ import annotations

import sys

from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings


def service(settings: Settings) -> ServiceSpec:
    """The local Realtime engine; it needs the Piper process at ``settings.tts_url`` running."""
    port = settings.ports.realtime
    url = f"ws://{LOCAL_HOST}:{port}/v1/realtime"

    healthy = http_ok(f"http://{LOCAL_HOST}:{port}/healthz")

    return ServiceSpec(
        name="realtime",
        argv=[
            sys.executable,
            "-m",
            "infra.realtime_engine",
            "--host",
            LOCAL_HOST,
            "--port",
            str(port),
            "--tts-url",
            settings.tts_url,
        ],
        port=port,
        url=url,
        health=healthy,
        env={"PYTHONUNBUFFERED": "1"},
        ready_timeout_s=30.0,
        description="Local OpenAI Realtime (GA) engine: Silero VAD, Whisper tiny.en, Piper, dialogue policy",
    )
