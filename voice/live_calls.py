"""The voice service's scaling signal: how many calls this worker carries, sent to CloudWatch.

``template.yaml`` scales the voice service to keep the average of ``Switchboard``/``LiveCalls``
(dimension ``ServiceName``) near its target: every worker sends its own count once a minute under
the same dimension, so the average of the datapoints is live calls per task. A worker sends only
when ``SWITCHBOARD_LIVE_CALLS_SERVICE`` (``settings.live_calls_service``) names its service (the
template sets it); locally, never.
A failed send is logged and retried on the next beat: it never touches a call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from switchboard import aws
from switchboard.config import Settings

NAMESPACE = "Switchboard"
METRIC = "LiveCalls"
SERVICE_ENV = "SWITCHBOARD_LIVE_CALLS_SERVICE"  # Settings.live_calls_service, as the template sets it
EVERY_S = 60.0

log = logging.getLogger("voice.live_calls")


def datum(service: str, count: int) -> dict[str, Any]:
    return {
        "MetricName": METRIC,
        "Dimensions": [{"Name": "ServiceName", "Value": service}],
        "Value": float(count),
        "Unit": "Count",
    }


async def publish(
    settings: Settings, service: str, count: Callable[[], int], every_s: float = EVERY_S
) -> None:
    """Send ``count()`` every ``every_s`` (on the beat: the send's own time is not added) until cancelled."""
    cloudwatch = await asyncio.to_thread(aws.client, "cloudwatch", settings)  # botocore loads off the loop
    while True:
        beat = time.monotonic()
        try:
            await asyncio.to_thread(
                cloudwatch.put_metric_data, Namespace=NAMESPACE, MetricData=[datum(service, count())]
            )
        except Exception as err:  # botocore's errors: no metric this minute, the calls go on
            log.warning("live-calls metric not sent: %s", type(err).__name__)
        await asyncio.sleep(max(0.0, every_s - (time.monotonic() - beat)))


def start(settings: Settings, count: Callable[[], int]) -> asyncio.Task[None] | None:
    """The publishing task, when the settings name the service; else None."""
    service = settings.live_calls_service.strip()
    return asyncio.create_task(publish(settings, service, count)) if service else None
