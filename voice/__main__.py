"""The voice worker: the media server and, in the same process, a Temporal worker polling this
host's own task queue (``voice-<host>``) for the activities that must run where the stream is."""

from __future__ import annotations

import asyncio
import logging

from temporalio.worker import Worker

from activities.recordings import RecordingActivities
from switchboard.config import Settings, get_settings
from switchboard.readiness import mark_ready
from switchboard.temporal import connect_client
from voice import live_calls
from voice.activity import VoiceActivities
from voice.serve import run, serve, settle_heap


async def main(settings: Settings | None = None) -> None:
    s = settings or get_settings()
    client = await connect_client(s, wait_s=60)
    activities = VoiceActivities(client, s)
    recordings = RecordingActivities(s)
    worker = Worker(
        client,
        task_queue=s.voice_task_queue,
        activities=[activities.converse, recordings.archive_recording, recordings.delete_recording],
        max_concurrent_activities=1000,
    )
    ready = asyncio.Event()
    async with worker:
        server = asyncio.create_task(serve(s, activities.broker, ready=ready))
        metric = live_calls.start(s, lambda: activities.live_calls)  # in AWS only (template.yaml)
        try:
            await ready.wait()
            settle_heap()
            mark_ready(s, "voice")
            await server
        finally:
            if metric is not None:
                metric.cancel()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(main())  # on uvloop where it is installed
