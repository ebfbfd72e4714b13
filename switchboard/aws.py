"""boto3 clients for the configured AWS: moto on 127.0.0.1 locally, the real endpoints otherwise."""

from __future__ import annotations

from typing import Any

import boto3

from switchboard.config import Settings, get_settings

# moto accepts any credentials; these are used only when the endpoint is local.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for ``service`` (``s3``, ``sesv2``, ``dynamodb``, ``kms``, ``secretsmanager``)."""
    s = settings or get_settings()
    kwargs: dict[str, Any] = {"region_name": s.aws_region}
    if s.aws_endpoint is not None:
        kwargs["endpoint_url"] = s.aws_endpoint
        kwargs.update(_LOCAL_CREDENTIALS)
    return boto3.client(service, **kwargs)
