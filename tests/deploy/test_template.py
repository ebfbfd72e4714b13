"""template.yaml deploys what the code needs: built functions, the hosts on ECS, a drained websocket load balancer.

cfn-lint and ``sam validate --lint`` check the template's form (``make test``); these check the
wiring: commands, health check, drain, scaling, secrets by ARN, and the URLs each side is given.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from deploy.lock import LAMBDA_MACHINE, LAMBDA_PYTHON
from infra.gateway_events import TEMPLATE, _CfnLoader

ROOT = Path(__file__).resolve().parents[2]
FARGATE_MAX_STOP_TIMEOUT_S = 120


@cache
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass
    return loaded


def resources() -> dict[str, Any]:
    found: dict[str, Any] = template()["Resources"]
    return found


def of_type(kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources().items() if r["Type"] == kind}


def container(task: str) -> dict[str, Any]:
    [definition] = resources()[task]["Properties"]["ContainerDefinitions"]
    found: dict[str, Any] = definition
    return found


def test_every_function_is_built_by_a_makefile_target() -> None:
    functions = of_type("AWS::Serverless::Function")
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^LAMBDA_FUNCTIONS := (.+)$", makefile, re.MULTILINE)
    assert listed is not None and set(listed.group(1).split()) == set(functions)
    for name, function in functions.items():
        assert function["Metadata"] == {"BuildMethod": "makefile"}, name


def test_the_hosts_run_one_image_with_two_commands() -> None:
    assert len(of_type("AWS::ECS::Cluster")) == 1
    assert set(of_type("AWS::ECS::Service")) == {"VoiceService", "WorkerService"}
    voice, worker = container("VoiceTaskDefinition"), container("WorkerTaskDefinition")
    assert voice["Command"] == ["python", "-m", "voice"]
    assert worker["Command"] == ["python", "-m", "workflows.worker"]
    assert voice["Image"] == worker["Image"] == {"!Ref": "HostImage"}
    assert {"Name": "SWITCHBOARD_BIND_ADDRESS", "Value": "0.0.0.0"} in voice["Environment"]


def test_media_streams_are_balanced_health_checked_and_drained() -> None:
    group = resources()["VoiceTargetGroup"]["Properties"]
    assert (group["Protocol"], group["HealthCheckPath"], group["Port"]) == ("HTTP", "/healthz", 8080)
    delay = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}[
        "deregistration_delay.timeout_seconds"
    ]
    assert delay == {"!Ref": "VoiceDrainTimeoutSeconds"}
    rule = resources()["VoiceMediaStreamRule"]["Properties"]
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/media-stream"]
    assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": {"!Ref": "VoiceTargetGroup"}}]
    service = resources()["VoiceService"]["Properties"]
    assert service["LoadBalancers"][0]["TargetGroupArn"] == {"!Ref": "VoiceTargetGroup"}


def test_the_drain_outlasts_the_longest_call_and_the_stop_timeout_is_fargates_maximum() -> None:
    profiles = (ROOT / "switchboard" / "profiles").glob("*.json")
    longest = max(json.loads(p.read_text())["guardrails"]["max_call_seconds"] for p in profiles)
    drain = template()["Parameters"]["VoiceDrainTimeoutSeconds"]
    assert longest < drain["Default"] <= drain["MaxValue"] <= 3600  # the target group's own maximum
    # Fargate stops a container at most 120 s after SIGTERM: the calls drain before it, while the
    # task is deregistering (ECS waits out the deregistration delay before it sends SIGTERM).
    assert container("VoiceTaskDefinition")["StopTimeout"] == FARGATE_MAX_STOP_TIMEOUT_S


def test_the_voice_service_scales_on_live_calls_per_task() -> None:
    target = resources()["VoiceScalableTarget"]["Properties"]
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    policy = resources()["VoiceLiveCallsScaling"]["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    spec = policy["TargetTrackingScalingPolicyConfiguration"]
    assert spec["TargetValue"] == {"!Ref": "LiveCallsPerVoiceTask"}
    assert spec["CustomizedMetricSpecification"]["Statistic"] == "Average"


def test_secrets_reach_the_hosts_by_arn_and_each_role_gets_only_its_own() -> None:
    for task in ("VoiceTaskDefinition", "WorkerTaskDefinition"):
        for secret in container(task)["Secrets"]:
            assert secret["ValueFrom"]["!Ref"].endswith("SecretArn"), secret
        role = resources()[task]["Properties"]["ExecutionRoleArn"]["!GetAtt"].split(".")[0]
        [policy] = resources()[role]["Properties"]["Policies"]
        [statement] = policy["PolicyDocument"]["Statement"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"] == [s["ValueFrom"] for s in container(task)["Secrets"]]


def test_the_voice_task_writes_recordings_encrypted_and_nothing_else() -> None:
    role = resources()["VoiceTaskRole"]["Properties"]
    assert {"!Ref": "RecordingsWrite"} in role["ManagedPolicyArns"]
    recordings = resources()["RecordingsWrite"]["Properties"]["PolicyDocument"]["Statement"]
    statements = recordings + [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "cloudwatch:PutMetricData",
    }
    put = next(s for s in statements if s["Action"] == "s3:PutObject")
    assert put["Condition"]["StringEquals"]["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert put["Resource"] == {"!Sub": "${RecordingsBucket.Arn}/recordings/*"}
    delete = next(s for s in statements if "s3:DeleteObjectVersion" in s["Action"])
    assert delete["Resource"] == {"!Sub": "${RecordingsBucket.Arn}/recordings/segments/*"}  # never an archive
    # The workflow workers archive (or delete) what a dead voice host shipped.
    assert {"!Ref": "RecordingsWrite"} in resources()["WorkerTaskRole"]["Properties"]["ManagedPolicyArns"]


def test_each_side_is_given_the_others_public_url() -> None:
    voice_url = template()["Outputs"]["VoiceUrl"]["Value"]
    assert voice_url == {"!Sub": "wss://${VoiceDomainName}/media-stream"}
    functions_env = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert functions_env["SWITCHBOARD_PUBLIC_VOICE_URL"] == voice_url
    for task in ("VoiceTaskDefinition", "WorkerTaskDefinition"):
        env = {e["Name"]: e["Value"] for e in container(task)["Environment"]}
        assert env["SWITCHBOARD_PUBLIC_API_URL"] == functions_env["SWITCHBOARD_PUBLIC_API_URL"]
        assert env["SWITCHBOARD_PUBLIC_VOICE_URL"] == voice_url
    assert {"VoiceUrl", "VoiceLoadBalancerDnsName", "ApiUrl", "TwilioVoiceUrl"} <= set(template()["Outputs"])


def test_the_functions_runtime_is_the_one_the_artifacts_are_built_for() -> None:
    function = template()["Globals"]["Function"]
    assert function["Runtime"] == f"python{LAMBDA_PYTHON}"
    assert function["Architectures"] == [{"aarch64": "arm64", "x86_64": "x86_64"}[LAMBDA_MACHINE]]


def test_recordings_expire_after_the_retention_the_histories_have() -> None:
    from switchboard.config import Settings

    parameter = template()["Parameters"]["RetentionDays"]
    assert parameter["Default"] == Settings.model_fields["history_retention_days"].default == 30
    assert parameter["MaxValue"] == 90  # Temporal Cloud's longest namespace retention
    [rule] = resources()["RecordingsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"!Ref": "RetentionDays"}
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert "Transitions" not in rule
