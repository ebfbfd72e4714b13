"""The voice worker: the media server and, in the same process, a Temporal worker polling this
host's own task queue (``voice-<host>``) for the activities that must run where the stream is.

Its metrics: ``/metrics`` on the media port (:mod:`voice.metrics`), and the Temporal SDK's own on
``SWITCHBOARD_PORT_VOICE_SDK_METRICS`` (9103; 0 for none)."""

from __future__ import annotations

import asyncio
import logging

from temporalio.worker import Worker

from activities.recordings import RecordingActivities
from switchboard import tracing
from switchboard.config import Settings, get_settings
from switchboard.readiness import mark_ready
from switchboard.temporal import connect_client, metrics_runtime
from voice import live_calls
from voice.activity import VoiceActivities
from voice.live_commands import CommandActivities, LiveConversations
from voice.metrics import VoiceMetrics
from voice.segments import SegmentShipper
from voice.serve import run, serve, settle_heap


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
    )
    ready = asyncio.Event()
    async with worker:
        server = asyncio.create_task(serve(s, activities.broker, ready=ready, metrics=metrics))
        metric = live_calls.start(s, lambda: activities.live_calls)  # in AWS only (template.yaml)
        lag = asyncio.create_task(metrics.watch_loop_lag())
        try:
            await ready.wait()
            settle_heap()
            mark_ready(s, "voice")
            await server
        finally:
            lag.cancel()
            if metric is not None:
                metric.cancel()
            segments.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(main())  # on uvloop where it is installed
