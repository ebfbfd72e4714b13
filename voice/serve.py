"""Run the media server until cancelled: the voice worker's ``__main__`` awaits this beside its Temporal worker."""

from __future__ import annotations

import asyncio

from switchboard.config import Settings
from voice.media_server import MediaServer, StreamBroker, StreamHandler

__all__ = ["serve"]


async def serve(
    settings: Settings,
    broker: StreamBroker,
    *,
    handler: StreamHandler | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve ``/media-stream`` and ``/healthz`` on 127.0.0.1:``settings.ports.voice`` until cancelled.

    ``ready`` is set once the port is listening. Cancelling stops accepting and closes open streams.
    """
    async with MediaServer(settings, broker, handler=handler):
        if ready is not None:
            ready.set()
        await asyncio.Future()
