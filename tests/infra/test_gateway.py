"""The local Lambda gateway: template routes, the v2 event and context a handler sees, the response mapping.

A tiny handler in this module echoes what it received; the gateway runs in-process on a real
127.0.0.1 socket. (The real functions behind it are tested in ``tests/functions``.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from aiohttp import web

from infra.gateway import Gateway, handler_env, service
from infra.gateway_events import LambdaContext, LambdaRoute, routes_from_template
from infra.stack import free_port
from infra.testing import isolated_settings
from switchboard.config import LOCAL_HOST


def echo(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    path = event["rawPath"]
    if path == "/boom":
        raise RuntimeError("handler failed")
    if path == "/slow":
        time.sleep(1.5)
    seen = {
        "pid": os.getpid(),
        "event": event,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
    }
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "cookies": ["session=abc; Path=/"],
        "body": base64.b64encode(json.dumps(seen).encode()).decode(),
        "isBase64Encoded": True,
    }


def nap(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    time.sleep(0.3)
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}


def bare(event: dict[str, Any], context: LambdaContext) -> list[str]:
    return ["not", "a", "response"]


def route(path: str, handler: str = "echo", method: str = "POST", timeout_s: float = 5.0) -> LambdaRoute:
    return LambdaRoute(method, path, f"Test{handler.title()}", f"{__name__}.{handler}", timeout_s, 256)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def base_url() -> AsyncIterator[str]:
    gateway = Gateway(
        [
            route("/echo"),
            route("/echo", method="GET"),
            route("/boom"),
            route("/slow", timeout_s=0.5),
            route("/nap", handler="nap"),
            route("/bare", handler="bare", method="ANY"),
        ],
        concurrency=2,
        warm=2,
    )
    runner = web.AppRunner(gateway.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOCAL_HOST, port).start()
    try:
        yield f"http://{LOCAL_HOST}:{port}"
    finally:
        await runner.cleanup()
        gateway.close()


def test_the_gateway_routes_exactly_what_the_template_deploys() -> None:
    routes = {(r.route_key, r.function, r.handler) for r in routes_from_template()}
    assert routes == {
        ("POST /callbacks", "FormSubmittedFunction", "functions.form_submitted.lambda_handler"),
        ("POST /forms/submissions", "FormSubmittedFunction", "functions.form_submitted.lambda_handler"),
        ("POST /twilio/status", "CallStatusFunction", "functions.call_status.lambda_handler"),
        ("POST /twilio/transfer/whisper", "CallStatusFunction", "functions.call_status.lambda_handler"),
        ("POST /twilio/transfer/result", "CallStatusFunction", "functions.call_status.lambda_handler"),
        ("POST /twilio/voice", "InboundCallFunction", "functions.inbound_call.lambda_handler"),
        ("POST /twilio/resume", "InboundCallFunction", "functions.inbound_call.lambda_handler"),
        ("POST /twilio/sms", "SmsReceivedFunction", "functions.sms_received.lambda_handler"),
        ("POST /twilio/sms/status", "SmsReceivedFunction", "functions.sms_received.lambda_handler"),
    }
    by_function = {r.function: r for r in routes_from_template()}
    assert by_function["CallStatusFunction"].env["POWERTOOLS_SERVICE_NAME"] == "call_status"
    assert all(r.timeout_s == 10 and r.memory_mb == 512 for r in by_function.values())


async def test_a_request_becomes_the_http_api_v2_event(base_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base_url}/echo?wf=callback-1&tag=a&tag=b",
            content=b'{"k": "v"}',
            headers={"Content-Type": "application/json", "X-Mixed-Case": "1", "Cookie": "a=1; b=2"},
        )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["set-cookie"] == "session=abc; Path=/"
    seen = response.json()
    event = seen["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert (event["rawPath"], event["rawQueryString"]) == ("/echo", "wf=callback-1&tag=a&tag=b")
    assert event["queryStringParameters"] == {"wf": "callback-1", "tag": "a,b"}
    assert event["headers"]["x-mixed-case"] == "1"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": "v"}', False)
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": event["headers"]["user-agent"],
    }
    assert ctx["requestId"] == response.headers["apigw-requestid"]
    assert ctx["routeKey"] == "POST /echo" and ctx["stage"] == "$default"
    assert seen["function_name"] == "TestEcho"
    assert seen["arn"].endswith(":function:TestEcho")
    assert 0 < seen["remaining_ms"] <= 5000


async def test_form_posts_arrive_base64_encoded_as_api_gateway_sends_them(base_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{base_url}/echo", data={"CallSid": "CA1", "To": "+61255550101"})
        get = await http.get(f"{base_url}/echo")
    event = response.json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"CallSid=CA1&To=%2B61255550101"
    assert get.json()["event"]["routeKey"] == "GET /echo"
    assert "body" not in get.json()["event"]


async def test_errors_are_mapped_as_api_gateway_maps_them(base_url: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        missing = await http.post(f"{base_url}/nowhere")
        wrong_method = await http.delete(f"{base_url}/echo")
        failed = await http.post(f"{base_url}/boom")
        slow = await http.post(f"{base_url}/slow")
        too_big = await http.post(f"{base_url}/echo", content=b"x" * (10 * 1024 * 1024 + 1))
        bare = await http.put(f"{base_url}/bare")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    assert wrong_method.status_code == 404
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})
    assert slow.status_code == 503
    assert too_big.status_code == 413
    assert (bare.status_code, bare.json()) == (200, ["not", "a", "response"])


async def test_concurrent_invocations_run_in_separate_environments(base_url: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(*(http.post(f"{base_url}/nap") for _ in range(2)))
        again = await http.post(f"{base_url}/nap")
    assert [a.status_code for a in answers] == [200, 200]
    pids = {a.json()["pid"] for a in answers}
    assert len(pids) == 2 and os.getpid() not in pids  # two warm environments, neither the gateway
    assert again.json()["pid"] in pids  # warm environments are reused


async def test_a_failed_or_timed_out_invocation_leaves_a_working_function(base_url: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        before = {(await http.post(f"{base_url}/echo")).json()["pid"] for _ in range(4)}
        failed = await http.post(f"{base_url}/boom")
        slow = await http.post(f"{base_url}/slow")
        after = await asyncio.gather(*(http.post(f"{base_url}/echo") for _ in range(2)))
    assert (failed.status_code, slow.status_code) == (500, 503)
    assert [a.status_code for a in after] == [201, 201]
    pids = {a.json()["pid"] for a in after}
    assert len(pids & before) <= 1  # the environment that timed out was replaced by a fresh one


def test_the_service_runs_the_gateway_with_the_stack_settings(tmp_path: Any) -> None:
    settings = isolated_settings(tmp_path)
    spec = service(settings)
    assert spec.argv[1:] == ["-m", "infra.gateway"]
    assert spec.port == settings.ports.gateway
    env = handler_env(settings)
    assert spec.env["TEMPORAL_ADDRESS"] == settings.temporal_address == env["TEMPORAL_ADDRESS"]
    assert spec.env["AWS_ENDPOINT_URL"] == settings.aws_endpoint_url
    assert spec.env["SWITCHBOARD_PUBLIC_API_URL"] == f"http://{LOCAL_HOST}:{settings.ports.gateway}"
    assert spec.env["POWERTOOLS_TRACE_DISABLED"] == "true"
