"""The local stack: real Temporal dev server and moto, started by the launcher, used, stopped."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from infra import services
from infra.stack import Stack, StackError, _pid_alive, port_is_open
from infra.testing import isolated_settings
from switchboard import aws
from switchboard.config import Settings
from switchboard.models import Speaker, Turn
from tests.support.echo import EchoWorkflow, shout


async def test_workflow_with_activity_on_the_dev_server(temporal_client: Client) -> None:
    queue = f"test-{uuid.uuid4()}"
    async with Worker(temporal_client, task_queue=queue, workflows=[EchoWorkflow], activities=[shout]):
        result = await temporal_client.execute_workflow(
            EchoWorkflow.run,
            Turn(speaker=Speaker.CALLER, text="status of job 4172", start_ms=0),
            id=f"echo-{uuid.uuid4()}",
            task_queue=queue,
        )
    assert isinstance(result, Turn)  # the pydantic converter round-trips the model
    assert result.text == "STATUS OF JOB 4172"


async def test_search_attributes_are_registered(temporal_client: Client) -> None:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    resp = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_client.namespace)
    )
    assert {"CallStatus", "AgentProfile", "CallOutcome", "LeadId"} <= set(resp.custom_attributes)


def test_recordings_bucket_encrypts_with_kms(stack: Settings) -> None:
    s3 = aws.client("s3", stack)
    key = f"recordings/test/{uuid.uuid4()}.wav"
    s3.put_object(Bucket=stack.recordings_bucket, Key=key, Body=b"RIFF-test-audio")
    head = s3.head_object(Bucket=stack.recordings_bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"]
    assert s3.get_object(Bucket=stack.recordings_bucket, Key=key)["Body"].read() == b"RIFF-test-audio"
    block = s3.get_public_access_block(Bucket=stack.recordings_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_mail_identity_and_idempotency_table(stack: Settings) -> None:
    ses = aws.client("sesv2", stack)
    ses.send_email(
        FromEmailAddress=stack.mail_sender,
        Destination={"ToAddresses": ["duty@firm.example"]},
        Content={"Simple": {"Subject": {"Data": "test"}, "Body": {"Text": {"Data": "hello"}}}},
    )
    ddb = aws.client("dynamodb", stack)
    ttl = ddb.describe_time_to_live(TableName=stack.idempotency_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiration"


async def test_second_up_starts_no_duplicates_and_down_stops_everything(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    stack = Stack(settings, [services.moto(settings)])
    try:
        first = await stack.up()
        assert first[0].started and first[0].healthy
        second = await stack.up()
        assert not second[0].started and second[0].healthy
        assert second[0].pid == first[0].pid
        status = await stack.status()
        assert status[0].healthy
    finally:
        stopped = stack.down()
    assert stopped == ["moto"]
    assert first[0].pid is not None and not _pid_alive(first[0].pid)
    assert not port_is_open(settings.ports.moto)
    status = await stack.status()
    assert not status[0].running and not status[0].healthy


async def test_up_refuses_a_port_taken_by_someone_else(stack: Settings, tmp_path: Path) -> None:
    # The session stack's moto holds this port; a second stack must not start a duplicate on it.
    other = isolated_settings(tmp_path, ports=stack.ports)
    with pytest.raises(StackError, match="already in use"):
        await Stack(other, [services.moto(other)]).up()


async def test_the_namespace_keeps_closed_histories_for_the_configured_days(
    stack: Settings, temporal_client: Client
) -> None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    described = await temporal_client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=temporal_client.namespace)
    )
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta()
    assert retention == timedelta(days=stack.history_retention_days) == timedelta(days=30)
    await services.set_retention(temporal_client, retention)  # already so: no update, no error
    lifecycle = aws.client("s3", stack).get_bucket_lifecycle_configuration(Bucket=stack.recordings_bucket)
    [rule] = lifecycle["Rules"]
    assert rule["Expiration"]["Days"] == stack.history_retention_days  # recordings go with the histories
