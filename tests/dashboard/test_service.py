"""``python -m dashboard`` started by the same launcher as ``switchboard up``: healthy, and signed-out
requests land on the sign-in page."""

from __future__ import annotations

from pathlib import Path

import httpx

from dashboard import service
from infra.stack import free_port
from infra.testing import running_stack
from switchboard.config import Settings


async def test_dashboard_service_starts_and_guards_its_pages(stack: Settings, tmp_path: Path) -> None:
    ports = stack.ports.model_copy(update={"dashboard": free_port()})
    settings = stack.model_copy(update={"home": tmp_path, "ports": ports})
    async with running_stack(settings, lambda s: [service(s)]) as running:
        url = running.services[0].url
        async with httpx.AsyncClient(base_url=url, follow_redirects=True) as http:
            assert (await http.get("/healthz")).text == "ok"
            live = await http.get("/live")
            assert live.url.path == "/login" and 'action="/login"' in live.text
            assert "default-src 'self'" in live.headers["content-security-policy"]
