"""A client of the engine's ``/control`` routes: arm a fault, a refusal or a session cap for the
next connections, whatever URL they use (the routes are described in ``armory``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

__all__ = ["ControlError", "arm", "armed", "disarm"]


class ControlError(RuntimeError):
    """The engine refused a control request (400 for bad input); the message is the engine's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def control_url(base_url: str) -> str:
    """``http://host:port/control`` from the engine's HTTP or Realtime URL (``ws://host:port/v1/realtime``)."""
    parts = urlsplit(base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/control", "", ""))


async def _call(method: str, base_url: str, route: str, params: dict[str, str], timeout_s: float) -> Any:
    async with httpx.AsyncClient(timeout=timeout_s) as http:
        resp = await http.request(method, f"{control_url(base_url)}/{route}", params=params)
    if resp.status_code != 200:
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = resp.text
        raise ControlError(resp.status_code, message)
    return resp.json()


async def arm(
    base_url: str,
    *,
    fault: str | None = None,
    refuse: bool = False,
    max_session_s: int | None = None,
    connections: int = 1,
    timeout_s: float = 5.0,
) -> dict[str, Any]:
    """Arm a plan for the next ``connections`` Realtime connections the engine accepts.

    Plans are taken oldest first; a connection with no plan left gets only its URL's options.

    Parameters:
        base_url: the engine's URL, ``http://127.0.0.1:8765`` or ``ws://127.0.0.1:8765/v1/realtime``.
        fault: faults in the URL's syntax, e.g. ``"drop_after:40"``, ``"drop_at_ms:1500,delay:200"``.
        refuse: refuse the handshakes instead (HTTP 503 with OpenAI's overloaded error body).
        max_session_s: the session cap for these connections (sends ``session_expired``, closes 1001).
        connections: how many connections take the plan (1–10000).

    Returns the engine's answer, ``{"plan": {...}, "armed": [...]}``. Raises ``ControlError``
    for bad input (the engine answers 400 with its reason).
    """
    params = {"connections": str(connections)}
    if refuse:
        params["refuse"] = "true"
    if fault is not None:
        params["fault"] = fault
    if max_session_s is not None:
        params["max_session_s"] = str(max_session_s)
    result: dict[str, Any] = await _call("POST", base_url, "arm", params, timeout_s)
    return result


async def disarm(base_url: str, *, timeout_s: float = 5.0) -> int:
    """Clear every armed plan (``POST /control/reset``); returns how many were cleared."""
    result = await _call("POST", base_url, "reset", {}, timeout_s)
    return int(result["cleared"])


async def armed(base_url: str, *, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """The plans still armed, oldest first (``GET /control/armed``), each with ``left`` connections."""
    result = await _call("GET", base_url, "armed", {}, timeout_s)
    plans: list[dict[str, Any]] = result["armed"]
    return plans
