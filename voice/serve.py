"""Run the media server until cancelled: the voice worker's ``__main__`` awaits this beside its Temporal worker.

:func:`run` is ``asyncio.run`` on uvloop where uvloop is installed (Linux and macOS): its transports
and poll loop are C, which takes a good part of the per-frame CPU off the media sockets. Without
it the worker runs on the standard loop, unchanged.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from switchboard.config import Settings
from voice.media_server import MediaServer, StreamBroker, StreamHandler
from voice.metrics import VoiceMetrics

__all__ = ["event_loop_name", "run", "serve", "settle_heap"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """``asyncio.run(main)``, on uvloop when it is installed and ``use_uvloop``."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def event_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this coroutine runs on."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


def settle_heap() -> None:
    """Once started: move every object made so far out of the garbage collector's sight.

    Imports (pydantic models, the openai SDK) leave a large heap the cyclic collector would scan
    on every full collection, in the middle of live calls; ``gc.freeze`` takes it out of the scan.
    """
    gc.collect()
    gc.freeze()


async def serve(
    settings: Settings,
    broker: StreamBroker,
    *,
    handler: StreamHandler | None = None,
    ready: asyncio.Event | None = None,
    metrics: VoiceMetrics | None = None,
    draining: Callable[[], bool] | None = None,
) -> None:
    """Serve ``/media-stream``, ``/healthz`` (and ``/metrics`` with ``metrics``) on
    ``settings.bind_address``:``settings.ports.voice`` until cancelled.

    ``ready`` is set once the port is listening. Cancelling stops accepting and closes open streams.
    ``draining()`` True turns ``/healthz`` to 503.
    """
    async with MediaServer(settings, broker, handler=handler, metrics=metrics, draining=draining):
        if ready is not None:
            ready.set()
        await asyncio.Future()
