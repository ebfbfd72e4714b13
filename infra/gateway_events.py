"""What API Gateway (HTTP API, payload 2.0) and Lambda do around a handler, without the I/O.

- ``routes_from_template``: the functions, handlers, timeouts and ``HttpApi`` routes of ``template.yaml``,
  so the local gateway routes exactly as the deployed API does.
- ``http_event``: one HTTP request as the v2 event a handler receives (lower-cased headers, cookies
  split out, repeated query keys comma-joined, non-text bodies base64-encoded).
- ``LambdaContext``: the context object Powertools reads (request id, ARN, remaining time).
- ``http_response``: a handler's return value as (status, headers, body bytes), as API Gateway maps it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml

ACCOUNT_ID = "123456789012"
TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class LambdaRoute:
    """One ``HttpApi`` event of one function in the template."""

    method: str
    path: str
    function: str
    handler: str
    timeout_s: float
    memory_mb: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (``!Ref``, ``!Sub``…) read as opaque values."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tagged)


def routes_from_template(path: Path = TEMPLATE) -> list[LambdaRoute]:
    """Every ``HttpApi`` route of every ``AWS::Serverless::Function`` in the template."""
    doc = yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass
    defaults = doc.get("Globals", {}).get("Function", {})
    routes: list[LambdaRoute] = []
    for name, resource in doc.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**defaults, **resource.get("Properties", {})}
        variables = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        literal_env = {k: str(v) for k, v in variables.items() if isinstance(v, str | int | float)}
        for event in props.get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            ev = event.get("Properties", {})
            routes.append(
                LambdaRoute(
                    method=str(ev.get("Method", "ANY")).upper(),
                    path=str(ev["Path"]),
                    function=name,
                    handler=str(props["Handler"]),
                    timeout_s=float(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    env=literal_env,
                )
            )
    return routes


def match(routes: list[LambdaRoute], method: str, path: str) -> LambdaRoute | None:
    """The route for a request: exact method first, then ``ANY`` (the template has no path variables)."""
    candidates = [r for r in routes if r.path == path]
    return next((r for r in candidates if r.method == method.upper()), None) or next(
        (r for r in candidates if r.method == "ANY"), None
    )


def _is_text(content_type: str) -> bool:
    ct = content_type.split(";", 1)[0].strip().lower()
    return ct.startswith(_TEXT_TYPES) or ct.endswith(("+json", "+xml"))


def http_event(
    route: LambdaRoute,
    *,
    method: str,
    path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload format 2.0) event for one request."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": merged.get("host", "127.0.0.1").split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        text: str | None = None
        if _is_text(merged.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        event["body"] = text if text is not None else base64.b64encode(body).decode()
        event["isBase64Encoded"] = text is None
    return event


@dataclass
class LambdaContext:
    """The Lambda context object: what Powertools' Logger and idempotency read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    region: str = "us-east-1"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A handler's result as API Gateway (payload 2.0) turns it into an HTTP response."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # A bare value is inferred as a 200 JSON body.
        return 200, [("content-type", "application/json")], json.dumps(result).encode()
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    headers.extend(("set-cookie", c) for c in result.get("cookies") or [])
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw
