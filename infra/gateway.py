"""The local Lambda gateway: API Gateway (HTTP API) in front of the very handlers ``template.yaml`` deploys.

Each request is matched against the template's ``HttpApi`` routes, turned into the payload 2.0
event and a Lambda context, and handed to the function's ``lambda_handler``; its return value
becomes the HTTP response, as API Gateway maps it. ``sam local`` would need Docker; this needs
nothing but the handlers' own dependencies.

Each function gets one execution environment, as a warm Lambda has: its module is imported once
(with the template's ``POWERTOOLS_*`` variables), and it runs on one dedicated thread, one
invocation at a time, so module-level state (the event loop, the Temporal client, Powertools'
``app``) behaves as it does in AWS. Requests to the same function queue; different functions run
in parallel.

Run it with ``python -m infra.gateway`` (it reads the usual settings), or as a stack service
(``service(settings)``), which passes the handlers the environment the template would set.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from infra.gateway_events import (
    LambdaContext,
    LambdaRoute,
    http_event,
    http_response,
    match,
    routes_from_template,
)
from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings, get_settings

log = logging.getLogger("infra.gateway")

Handler = Callable[[dict[str, Any], Any], Any]

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
HEALTH_PATH = "/_local/health"
# The local stand-in for the form's signing key (in AWS: the FormSecretArn secret).
LOCAL_FORM_SECRET = "local-form-secret"


def local_form_secret() -> str:
    """The key local web forms sign with (``SWITCHBOARD_FORM_SECRET``, else the local default)."""
    return os.environ.get("SWITCHBOARD_FORM_SECRET") or LOCAL_FORM_SECRET


def handler_env(settings: Settings) -> dict[str, str]:
    """The environment the template gives the functions, with the local stack's values."""
    env = {
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "SWITCHBOARD_TASK_QUEUE": settings.task_queue,
        "SWITCHBOARD_CALLING_HOURS": settings.calling_hours,
        "SWITCHBOARD_PUBLIC_API_URL": settings.public_api_url,
        "SWITCHBOARD_PUBLIC_VOICE_URL": settings.public_voice_url,
        "SWITCHBOARD_STREAM_SECRET": settings.stream_secret.get_secret_value(),
        "SWITCHBOARD_IDEMPOTENCY_TABLE": settings.idempotency_table,
        "SWITCHBOARD_HOME": str(settings.home),
        "SWITCHBOARD_PORT_GATEWAY": str(settings.ports.gateway),
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url or "",
        "AWS_REGION": settings.aws_region,
        "AWS_DEFAULT_REGION": settings.aws_region,
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "POWERTOOLS_METRICS_NAMESPACE": "Switchboard",
        "PYTHONUNBUFFERED": "1",
    }
    if settings.temporal_api_key is not None:
        env["TEMPORAL_API_KEY"] = settings.temporal_api_key.get_secret_value()
    if not os.environ.get("SWITCHBOARD_FORM_SECRET_ARN"):
        env["SWITCHBOARD_FORM_SECRET"] = local_form_secret()
    return env


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class LambdaFunction:
    """One function's execution environment: its module, imported once, and its single thread."""

    def __init__(self, name: str, handler: str, env: dict[str, str]) -> None:
        self.name = name
        self.handler_path = handler
        # Only the template's Powertools settings: the endpoints and secrets are the local stack's.
        self.env = {k: v for k, v in env.items() if k.startswith("POWERTOOLS_")}
        self.env["AWS_LAMBDA_FUNCTION_NAME"] = name
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lambda-{name}")
        self._handler: Handler | None = None

    def _import(self) -> Handler:
        module_name, _, attr = self.handler_path.replace("/", ".").rpartition(".")
        with _environment(self.env):
            handler: Handler = getattr(importlib.import_module(module_name), attr)
        return handler

    def load(self) -> None:
        """Import the handler on the environment's own thread (its module-level loop lives there)."""
        self._handler = self.executor.submit(self._import).result()

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        assert self._handler is not None, "load() first"
        return self._handler(event, context)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _json(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class Gateway:
    """The aiohttp application that plays API Gateway for the template's routes."""

    def __init__(self, routes: list[LambdaRoute] | None = None) -> None:
        self.routes = routes if routes is not None else routes_from_template()
        self.functions: dict[str, LambdaFunction] = {}
        for route in self.routes:
            if route.function not in self.functions:
                self.functions[route.function] = LambdaFunction(route.function, route.handler, route.env)

    def load(self) -> None:
        for function in self.functions.values():
            function.load()

    def close(self) -> None:
        for function in self.functions.values():
            function.close()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
        app.router.add_get(HEALTH_PATH, self.health)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"routes": [r.route_key for r in self.routes]})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        raw_path = request.raw_path.split("?", 1)[0]
        route = match(self.routes, request.method, raw_path)
        if route is None:
            return _json(404, "Not Found")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(413, "Request Entity Too Large")
        request_id = uuid.uuid4().hex
        event = http_event(
            route,
            method=request.method,
            path=raw_path,
            query_string=request.rel_url.raw_query_string,
            headers=list(request.headers.items()),
            body=body,
            source_ip=request.remote or LOCAL_HOST,
            request_id=request_id,
        )
        function = self.functions[route.function]
        context = LambdaContext(route.function, route.memory_mb, route.timeout_s)
        future = function.executor.submit(function.invoke, event, context)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), route.timeout_s)
            status, headers, payload = http_response(result)
        except TimeoutError:
            log.error("%s timed out after %.0f s", route.function, route.timeout_s)
            status, headers, payload = (
                503,
                [("content-type", "application/json")],
                b'{"message":"Service Unavailable"}',
            )
        except Exception:
            log.exception("%s failed", route.function)  # the handler's error, as CloudWatch would show it
            status, headers, payload = (
                500,
                [("content-type", "application/json")],
                b'{"message":"Internal Server Error"}',
            )
        response = web.Response(status=status, body=payload)
        for name, value in headers:
            if name.lower() != "content-length":
                response.headers.add(name, value)
        response.headers["apigw-requestid"] = request_id
        # Method, path, status and time only: bodies and query strings may carry personal data.
        log.info(
            "%s %s → %s %d %.1f ms",
            request.method,
            raw_path,
            route.function,
            status,
            (time.perf_counter() - started) * 1000,
        )
        return response


def service(settings: Settings, *, extra_env: dict[str, str] | None = None) -> ServiceSpec:
    """The gateway as a stack service on 127.0.0.1:``settings.ports.gateway``."""
    port = settings.ports.gateway
    url = f"http://{LOCAL_HOST}:{port}"

    healthy = http_ok(f"{url}{HEALTH_PATH}")

    return ServiceSpec(
        name="gateway",
        argv=[sys.executable, "-m", "infra.gateway"],
        port=port,
        url=url,
        health=healthy,
        env={**handler_env(settings), **(extra_env or {})},
        ready_timeout_s=60.0,
        description="Lambda gateway: API Gateway v2 events → the functions of template.yaml",
    )


def _load() -> tuple[Settings, Gateway]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    for key, value in handler_env(settings).items():
        os.environ.setdefault(key, value)
    gateway = Gateway()
    gateway.load()
    return settings, gateway


def _serve(loaded: tuple[Settings, Gateway] | None = None) -> None:
    """One process = one execution environment per function (its module-level state, its thread)."""
    settings, gateway = loaded or _load()
    log.info("routes: %s", ", ".join(r.route_key for r in gateway.routes))
    try:
        web.run_app(
            gateway.app(),
            host=LOCAL_HOST,
            port=settings.ports.gateway,
            reuse_port=True,  # the kernel spreads connections over the processes, as Lambda scales out
            access_log=None,
            print=None,
        )
    finally:
        gateway.close()


def main() -> None:
    """Serve with ``SWITCHBOARD_GATEWAY_CONCURRENCY`` processes (default 2): concurrent invocations
    of one function run in separate execution environments, as on Lambda. The first process
    loads and serves before the others start, so the gateway is ready as soon as one is."""
    concurrency = max(1, int(os.environ.get("SWITCHBOARD_GATEWAY_CONCURRENCY", "2")))
    loaded = _load()
    spawn = multiprocessing.get_context("spawn")
    for _ in range(concurrency - 1):
        spawn.Process(target=_serve, daemon=True).start()
    _serve(loaded)


if __name__ == "__main__":
    main()
