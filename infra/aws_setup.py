"""Create the AWS resources Switchboard needs, idempotently (moto locally; the SAM template in AWS).

Mirrors ``template.yaml``: the recordings bucket with SSE-KMS default encryption, a public
access block, a TLS-only policy and a lifecycle; the KMS key of the Temporal payloads' data keys;
the SES sender identity; the idempotency table; the people table (a data key per person); the call
records table (a record per finished call, ``switchboard/call_record_store.py``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from switchboard import aws
from switchboard.call_record_store import create_table as _call_records_table
from switchboard.config import Settings


def _kms_key_id(kms: Any, alias: str, description: str = "Switchboard call recordings") -> str:
    for a in kms.list_aliases()["Aliases"]:
        if a["AliasName"] == alias and "TargetKeyId" in a:
            return str(a["TargetKeyId"])
    key_id = str(kms.create_key(Description=description)["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def _bucket(s3: Any, settings: Settings, key_id: str) -> None:
    bucket = settings.recordings_bucket
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        if settings.aws_region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region}
            )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_id,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    tls_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    if not settings.is_local_aws:  # moto would apply the deny to its own plain-HTTP endpoint
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only))
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "recordings-retention",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "recordings/"},
                    "Expiration": {"Days": settings.history_retention_days},  # template's RetentionDays
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )


def _mail_identity(ses: Any, sender: str) -> None:
    domain = sender.rsplit("@", 1)[-1]
    names = {i["IdentityName"] for i in ses.list_email_identities().get("EmailIdentities", [])}
    if domain not in names:
        ses.create_email_identity(EmailIdentity=domain)


def _idempotency_table(ddb: Any, table: str) -> None:
    if table in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )


def _people_table(ddb: Any, table: str) -> None:
    """The people table (``switchboard/people.py``): no TTL and, in AWS, no backups (see template)."""
    if not table or table in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def provision_sync(settings: Settings) -> None:
    kms = aws.client("kms", settings)
    key_id = _kms_key_id(kms, settings.recordings_kms_alias)
    _kms_key_id(kms, settings.payload_kms_alias, "Switchboard Temporal payloads (data keys)")
    _bucket(aws.client("s3", settings), settings, key_id)
    _mail_identity(aws.client("sesv2", settings), settings.mail_sender)
    _idempotency_table(aws.client("dynamodb", settings), settings.idempotency_table)
    _people_table(aws.client("dynamodb", settings), settings.people_table)
    _call_records_table(aws.client("dynamodb", settings), settings.call_records_table)


async def provision(settings: Settings) -> None:
    await asyncio.to_thread(provision_sync, settings)
