"""Clients: the real ``twilio`` SDK pointed at the phone network (``switchboard.telephony``,
re-exported here), and the ``/_sim`` control API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from switchboard.telephony import RebasingHttpClient, rebase, twilio_client

__all__ = ["RebasingHttpClient", "SimClient", "rebase", "twilio_client"]


class SimClient:
    """An async client of the ``/_sim`` control API (for tests, the eval runner and the CLI)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/_sim", timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> SimClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _json(self, resp: httpx.Response) -> Any:
        resp.raise_for_status()
        return resp.json()

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(await self._http.get("/health"))
        return result

    async def register(self, number: str, callee: dict[str, Any]) -> None:
        await self._json(await self._http.put(f"/callees/{quote(number)}", json=callee))

    async def forget(self, number: str) -> None:
        await self._http.delete(f"/callees/{quote(number)}")

    async def inbound_call(self, request: dict[str, Any]) -> str:
        """Place a call into a number; ``request`` is ``InboundCall``'s JSON (``from``, ``to``, ``url``…)."""
        body = await self._json(await self._http.post("/calls", json=request))
        return str(body["sid"])

    async def call(self, sid: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(await self._http.get(f"/calls/{sid}"))
        return result

    async def calls(self) -> list[dict[str, Any]]:
        body = await self._json(await self._http.get("/calls"))
        return list(body["calls"])

    async def wait(self, sid: str, timeout_s: float = 60.0) -> dict[str, Any]:
        resp = await self._http.get(
            f"/calls/{sid}/wait", params={"timeout": timeout_s}, timeout=timeout_s + 5
        )
        result: dict[str, Any] = await self._json(resp)
        return result

    async def messages(self) -> list[dict[str, Any]]:
        """Every text sent and received, with its statuses and the webhooks it caused."""
        body = await self._json(await self._http.get("/messages"))
        return list(body["messages"])

    async def audio(self, sid: str) -> bytes:
        resp = await self._http.get(f"/calls/{sid}/audio")
        resp.raise_for_status()
        return resp.content
