"""Plans armed for the next connections, and the ``/control`` routes that arm them.

The voice worker uses one Realtime URL for every call and every reconnect, so a fault in the
URL would hit the reconnect too. A test instead arms a plan on the engine: the next N
connections the engine accepts (handshakes that pass the path, auth and query checks) take it,
oldest plan first; a connection with no plan left gets only its URL's options. A plan either
refuses the handshake (``503``, as an overloaded endpoint does) or overrides the connection's
options (``faults``: a fault, the session cap, the latency profile).

Routes (on the engine's own port, 127.0.0.1 only like every local stand-in; no auth). The
parameters are in the query string: the websockets server reads the request head only and
drops a request that has a body, so a JSON body is not an option.

- ``POST /control/arm?fault=drop_after:40&connections=1`` → 200 ``{"plan": {…}, "armed": […]}``.
  Parameters: ``connections`` (1–10000, default 1); ``refuse=true``; or any of ``fault``,
  ``max_session_s``, ``latency_ms``, ``lead_ms``, ``chunk_ms`` with the URL's syntax. 400 for an
  unknown parameter, a bad value, nothing to arm, or ``refuse`` with options.
- ``POST /control/reset`` → 200 ``{"cleared": N, "armed": []}``.
- ``GET /control/armed`` → 200 ``{"armed": [{"id", "refuse", "options", "connections", "left"}]}``.
- another method → 405 (with ``Allow``); another ``/control/…`` path → 404.

The refusal: HTTP 503 with OpenAI's JSON error body for an overloaded engine
(``{"error": {"message": "The engine is currently overloaded, please try again later",
"type": "server_error", "param": null, "code": null}}``), the status and text of OpenAI's error
guide for its REST API. What the Realtime endpoint itself answers when overloaded is not
documented; a 503 at the upgrade is what a load balancer in front of it answers.
"""

from __future__ import annotations

import http
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from infra.realtime_engine import errors, faults

PREFIX = "/control"
MAX_CONNECTIONS = 10000
OVERLOADED = "The engine is currently overloaded, please try again later"
_ROUTES = {"/control/arm": "POST", "/control/reset": "POST", "/control/armed": "GET"}
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


@dataclass
class Plan:
    id: int
    refuse: bool
    options: dict[str, Any]
    connections: int
    left: int = field(init=False)

    def __post_init__(self) -> None:
        self.left = self.connections

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "refuse": self.refuse,
            "options": self.options,
            "connections": self.connections,
            "left": self.left,
        }


class Armory:
    """The armed plans, oldest first. Synchronous: everything runs on the engine's event loop."""

    def __init__(self) -> None:
        self._plans: deque[Plan] = deque()
        self._ids = 0

    def arm(self, *, refuse: bool, options: dict[str, Any], connections: int) -> Plan:
        self._ids += 1
        plan = Plan(self._ids, refuse, dict(options), connections)
        self._plans.append(plan)
        return plan

    def take(self) -> Plan | None:
        """The plan for the connection being accepted now (one of its connections is used up)."""
        if not self._plans:
            return None
        plan = self._plans[0]
        plan.left -= 1
        if plan.left <= 0:
            self._plans.popleft()
        return plan

    def reset(self) -> int:
        cleared = len(self._plans)
        self._plans.clear()
        return cleared

    def public(self) -> list[dict[str, Any]]:
        return [plan.public() for plan in self._plans]


def json_response(status: http.HTTPStatus, body: Any, extra: Sequence[tuple[str, str]] = ()) -> Response:
    data = json.dumps(body).encode()
    head = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data))), *extra])
    return Response(status.value, status.phrase, head, data)


def error_response(status: http.HTTPStatus, message: str) -> Response:
    return json_response(status, {"error": {"type": "invalid_request_error", "message": message}})


def refusal() -> Response:
    body = {"error": {"message": OVERLOADED, "type": "server_error", "param": None, "code": None}}
    return json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, body)


def handle(armory: Armory, request: Request) -> Response:
    """Answer one ``/control/…`` request."""
    url = urlsplit(request.path)
    path = url.path.rstrip("/")
    method = _ROUTES.get(path)
    if method is None:
        return error_response(http.HTTPStatus.NOT_FOUND, f"Invalid URL ({request.method} {url.path})")
    if request.method != method:
        return json_response(
            http.HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": {"type": "invalid_request_error", "message": f"Use {method} {path}."}},
            [("Allow", method)],
        )
    if path == "/control/armed":
        return json_response(http.HTTPStatus.OK, {"armed": armory.public()})
    if path == "/control/reset":
        cleared = armory.reset()
        return json_response(http.HTTPStatus.OK, {"cleared": cleared, "armed": []})
    try:
        refuse, options, connections = _arm_params(url.query)
    except errors.EngineError as exc:
        return error_response(http.HTTPStatus.BAD_REQUEST, exc.message)
    plan = armory.arm(refuse=refuse, options=options, connections=connections)
    return json_response(http.HTTPStatus.OK, {"plan": plan.public(), "armed": armory.public()})


def _arm_params(query: str) -> tuple[bool, dict[str, int], int]:
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise errors.invalid_value("query", "each parameter may be given once.")
    unknown = sorted(set(params) - {"connections", "refuse", *faults.NAMES})
    if unknown:
        raise errors.unknown_parameter(unknown[0])
    connections = faults.integer("connections", params.pop("connections", "1"), 1, MAX_CONNECTIONS)
    raw_refuse = params.pop("refuse", "false").strip().lower()
    if raw_refuse not in _TRUE | _FALSE:
        raise errors.invalid_value("refuse", f"expected true or false, got {raw_refuse!r}.")
    refuse = raw_refuse in _TRUE
    options = faults.overrides(params)
    if refuse and options:
        raise errors.invalid_value("refuse", "a refused connection never opens; arm its options apart.")
    if not refuse and not options:
        raise errors.invalid_value("query", "nothing to arm: give refuse=true, a fault or an option.")
    return refuse, options, connections
