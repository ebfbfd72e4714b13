"""The local Lambda gateway: API Gateway (HTTP API) in front of the very handlers ``template.yaml`` deploys.

Each request is matched against the template's ``HttpApi`` routes, turned into the payload 2.0
event and a Lambda context, and handed to the function's ``lambda_handler``; its return value
becomes the HTTP response, as API Gateway maps it. ``sam local`` would need Docker; this needs
nothing but the handlers' own dependencies.

Each function has its own execution environments, as on Lambda (``infra/gateway_pool.py``): each
is a process that imports the handler once (with the template's ``POWERTOOLS_*`` variables) and
runs one invocation at a time, so module-level state (the event loop, the Temporal client,
Powertools' ``app``) behaves as it does in AWS. Concurrent requests to a function run in parallel
environments, up to its concurrency (``SWITCHBOARD_GATEWAY_CONCURRENCY``, default two per core,
since a handler mostly waits on Temporal); beyond that they wait for the first free environment,
within API Gateway's 30 s integration timeout, and never behind a busy one while another idles.

Run it with ``python -m infra.gateway`` (it reads the usual settings), or as a stack service
(``service(settings)``), which passes the handlers the environment the template would set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
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
from infra.gateway_pool import FunctionPool, InvocationFailed, InvocationTimeout
from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings, get_settings

log = logging.getLogger("infra.gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
HEALTH_PATH = "/_local/health"
INTEGRATION_TIMEOUT_S = 30.0  # API Gateway HTTP API's limit for queueing plus running an invocation
CONCURRENCY_ENV = "SWITCHBOARD_GATEWAY_CONCURRENCY"  # execution environments per function, at most
WARM_ENV = "SWITCHBOARD_GATEWAY_WARM"  # environments per function started at boot (provisioned)
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


def default_concurrency() -> int:
    """Environments per function: ``SWITCHBOARD_GATEWAY_CONCURRENCY``, else two per core.

    A form or status invocation spends ~7 ms of CPU and the rest of its ~30 ms waiting on
    Temporal, so a core keeps more than one environment busy; past four the local dev server's
    start rate does not rise (~65 starts/s at 4, 8, 16 or 32 in flight), and each extra
    environment costs a cold start (~0.5 s of CPU, forked from the preloaded fork server) and
    memory. They start on demand: an idle gateway holds one per function."""
    configured = os.environ.get(CONCURRENCY_ENV, "").strip()
    return max(1, int(configured)) if configured else max(2, 2 * (os.cpu_count() or 1))


def function_env(name: str, template_env: dict[str, str]) -> dict[str, str]:
    """An environment's own variables: only the template's Powertools settings (the endpoints and
    secrets are the local stack's, inherited from the gateway) and the function's name."""
    env = {k: v for k, v in template_env.items() if k.startswith("POWERTOOLS_")}
    env["AWS_LAMBDA_FUNCTION_NAME"] = name
    return env


def _json(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class Gateway:
    """The aiohttp application that plays API Gateway for the template's routes."""

    def __init__(
        self, routes: list[LambdaRoute] | None = None, *, concurrency: int | None = None, warm: int = 1
    ) -> None:
        self.routes = routes if routes is not None else routes_from_template()
        limit = concurrency if concurrency is not None else default_concurrency()
        self.functions: dict[str, FunctionPool] = {}
        for route in self.routes:
            if route.function not in self.functions:
                self.functions[route.function] = FunctionPool(
                    route.function,
                    route.handler,
                    function_env(route.function, route.env),
                    max_concurrency=limit,
                    warm=warm,
                )

    async def start(self) -> None:
        """Start every function's warm environments (their handlers imported, as after a cold start)."""
        await asyncio.gather(*(function.start() for function in self.functions.values()))

    def close(self) -> None:
        for function in self.functions.values():
            function.close()

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        self.close()

    def app(self) -> web.Application:
        """The application; its startup starts the warm environments and its cleanup stops them all."""
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
        app.cleanup_ctx.append(self._lifecycle)
        app.router.add_get(HEALTH_PATH, self.health)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "routes": [r.route_key for r in self.routes],
                "environments": {name: f.size for name, f in self.functions.items()},
            }
        )

    async def _invoke(
        self, route: LambdaRoute, event: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        function = self.functions[route.function]
        try:
            result = await function.invoke(
                event,
                lambda: LambdaContext(route.function, route.memory_mb, route.timeout_s),
                wait_s=max(0.0, INTEGRATION_TIMEOUT_S - route.timeout_s),
                timeout_s=route.timeout_s,
            )
            return http_response(result)
        except InvocationTimeout:
            log.error("%s timed out after %.0f s", route.function, route.timeout_s)
        except TimeoutError:
            log.error("%s: no execution environment free within the integration timeout", route.function)
        except InvocationFailed as err:
            log.error("%s failed\n%s", route.function, err)  # the handler's error, as CloudWatch shows it
            return 500, [("content-type", "application/json")], b'{"message":"Internal Server Error"}'
        return 503, [("content-type", "application/json")], b'{"message":"Service Unavailable"}'

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
        status, headers, payload = await self._invoke(route, event)
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


def main() -> None:
    """Serve the template's routes on 127.0.0.1:``SWITCHBOARD_PORT_GATEWAY``: one HTTP front (this
    process) and each function's execution environments (``SWITCHBOARD_GATEWAY_CONCURRENCY`` at
    most, ``SWITCHBOARD_GATEWAY_WARM`` started at boot, default 1)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    for key, value in handler_env(settings).items():
        os.environ.setdefault(key, value)  # inherited by the environments
    gateway = Gateway(warm=max(1, int(os.environ.get(WARM_ENV) or 1)))
    log.info(
        "routes: %s; up to %d execution environments per function",
        ", ".join(r.route_key for r in gateway.routes),
        next(iter(gateway.functions.values())).max_concurrency if gateway.functions else 0,
    )
    web.run_app(gateway.app(), host=LOCAL_HOST, port=settings.ports.gateway, access_log=None, print=None)


if __name__ == "__main__":
    main()
