"""The phone network's HTTP server: Twilio's REST subset plus the ``/_sim`` control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from infra.phone import control, rest, texts
from infra.phone.network import PhoneNetwork
from infra.phone.performer import Speech
from switchboard.config import LOCAL_HOST, Settings


def build_app(network: PhoneNetwork) -> web.Application:
    app = web.Application(middlewares=[rest.twilio_auth, control.control_errors], client_max_size=1 << 20)
    app[rest.NETWORK] = network
    app[texts.TEXTS] = network.texts
    rest.add_routes(app)
    texts.add_routes(app)
    control.add_routes(app)
    return app


@asynccontextmanager
async def serving(network: PhoneNetwork, port: int, host: str = LOCAL_HOST) -> AsyncIterator[str]:
    """Serve ``network`` on host:port until the block exits; yields the base URL. Always cleans up."""
    runner = web.AppRunner(build_app(network), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield f"http://{host}:{port}"
    finally:
        await network.aclose()
        await runner.cleanup()


@asynccontextmanager
async def running_network(
    settings: Settings,
    *,
    speech: Speech | None = None,
    recordings_dir: Path | None = None,
    default_voice_url: str | None = None,
    default_sms_url: str | None = None,
) -> AsyncIterator[PhoneNetwork]:
    """An in-process network on ``settings.ports.phone`` with the settings' credentials (tests, evals)."""
    network = PhoneNetwork(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        speech=speech,
        recordings_dir=recordings_dir or settings.home / "phone",
        default_voice_url=default_voice_url,
        default_sms_url=default_sms_url,
        business_number=settings.twilio_from_number,
    )
    async with serving(network, settings.ports.phone):
        yield network
