"""The live-calls metric the voice service scales on, sent to CloudWatch (moto) as the template reads it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from switchboard import aws
from switchboard.config import Settings
from voice import live_calls


@pytest.mark.asyncio(loop_scope="session")
async def test_each_beat_sends_the_current_count_under_the_service_dimension(stack: Settings) -> None:
    service = f"switchboard-voice-{uuid.uuid4().hex[:8]}"
    counts = iter([3, 5])
    task = asyncio.create_task(live_calls.publish(stack, service, lambda: next(counts, 5), every_s=0.05))
    await asyncio.sleep(0.5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    cloudwatch = aws.client("cloudwatch", stack)
    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace=live_calls.NAMESPACE,
        MetricName=live_calls.METRIC,
        Dimensions=[{"Name": "ServiceName", "Value": service}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=600,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )["Datapoints"]
    assert [(d["Minimum"], d["Maximum"]) for d in stats] == [(3.0, 5.0)]  # each beat's count, as counted
    assert stats[0]["SampleCount"] >= 3


def test_nothing_is_sent_unless_the_service_is_named() -> None:
    assert live_calls.start(Settings(live_calls_service=""), lambda: 0) is None
    assert Settings.model_fields["live_calls_service"].default == ""  # SWITCHBOARD_LIVE_CALLS_SERVICE


def test_the_template_scales_on_the_metric_this_module_sends() -> None:
    from tests.deploy.test_template import resources

    spec = resources()["VoiceLiveCallsScaling"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    metric = spec["CustomizedMetricSpecification"]
    assert (metric["Namespace"], metric["MetricName"]) == (live_calls.NAMESPACE, live_calls.METRIC)
    assert [d["Name"] for d in metric["Dimensions"]] == ["ServiceName"]
    task = resources()["VoiceTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert live_calls.SERVICE_ENV in {e["Name"] for e in task["Environment"]}
