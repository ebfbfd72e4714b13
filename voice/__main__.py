"""The voice worker: the media server and, in the same process, a Temporal worker polling this
host's own task queue (``voice-<host>``) for the activities that must run where the stream is.

SIGTERM drains it (``voice/drain.py``): ``/healthz`` turns 503 at once, the live calls go on to
their end and their recordings are archived, calls still live at the drain timeout are handed to
another worker, the Temporal worker shuts down gracefully, and the process exits 0.

Its metrics: ``/metrics`` on the media port (:mod:`voice.metrics`), and the Temporal SDK's own on
``SWITCHBOARD_PORT_VOICE_SDK_METRICS`` (9103; 0 for none)."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.worker import Worker

from activities.recordings import RecordingActivities
from switchboard import tracing
from switchboard.config import Settings, get_settings
from switchboard.readiness import mark_ready
from switchboard.temporal import connect_client, metrics_runtime
from voice import live_calls
from voice.activity import VoiceActivities
from voice.drain import Drain, drain_timeout_s
from voice.live_commands import CommandActivities, LiveConversations
from voice.metrics import VoiceMetrics
from voice.segments import SegmentShipper
from voice.serve import run, serve, settle_heap

log = logging.getLogger("voice")
# When the Temporal worker shuts down, a task still running gets this long before it is cancelled
# (a conversation still live at the drain timeout: cancelled, it closes its stream, and Twilio's
# <Redirect> resumes the call on another worker).
GRACEFUL_SHUTDOWN = timedelta(seconds=2)


async def main(settings: Settings | None = None) -> None:
    s = settings or get_settings()
    tracing.install(s, "voice-worker")
    client = await connect_client(s, wait_s=60, runtime=metrics_runtime(s, s.ports.voice_sdk_metrics))
    metrics = VoiceMetrics()
    live = LiveConversations()
    segments = SegmentShipper(s, on_shipped=metrics.recording_shipped)
    activities = VoiceActivities(client, s, metrics, live=live, segments=segments)
    metrics.live_calls.set_function(lambda: activities.live_calls)
    recordings = RecordingActivities(s, on_shipped=metrics.recording_shipped)
    drain = Drain(lambda: activities.live_calls, lambda: activities.recorded)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = Worker(
        client,
        task_queue=s.voice_task_queue,
        activities=[
            activities.converse,
            CommandActivities(live).deliver_command,
            recordings.archive_recording,
            recordings.delete_recording,
        ],
        max_concurrent_activities=1000,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )
    ready = asyncio.Event()
    server = asyncio.create_task(
        serve(s, activities.broker, ready=ready, metrics=metrics, draining=lambda: drain.draining)
    )
    try:
        async with worker:
            metric = live_calls.start(s, lambda: activities.live_calls)  # in AWS only (template.yaml)
            lag = asyncio.create_task(metrics.watch_loop_lag())
            stopping = asyncio.create_task(stop.wait())
            try:
                await ready.wait()
                settle_heap()
                mark_ready(s, f"voice-{s.host}")
                log.info(
                    "voice worker %s ready: media on port %d, task queue %s",
                    s.host,
                    s.ports.voice,
                    s.voice_task_queue,
                )
                await asyncio.wait({server, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    drain.begin()
                    drained = await drain.wait(drain_timeout_s(s))
                    log.info(
                        "drained (%s); stopping the Temporal worker",
                        "all calls ended" if drained else "timeout",
                    )
            finally:
                stopping.cancel()
                lag.cancel()
                if metric is not None:
                    metric.cancel()
        # The Temporal worker has shut down: no task of this host is left running.
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        segments.close()  # the last segments reach S3 before the process exits
    log.info("voice worker stopped")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("websockets.server").setLevel(logging.WARNING)  # a line per health check otherwise
    run(main())  # on uvloop where it is installed
