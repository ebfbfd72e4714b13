"""The dashboard served in-process against the shared test stack, and Debian's chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr
from temporalio.client import Client

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from infra.stack import free_port
from switchboard.config import LOCAL_HOST, Settings

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = Path(__file__).resolve().parents[2] / "scripts" / "install-chromium.sh"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "test-dashboard-password"
SUPERVISOR = "Dana Supervisor"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed by scripts/install-chromium.sh if missing; skip only if that fails."""
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        subprocess.run(["bash", str(INSTALL)], check=False, capture_output=True, timeout=900)
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed and scripts/install-chromium.sh could not install it")
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dashboard_url(stack: Settings, temporal_client: Client) -> AsyncIterator[str]:
    ds = DashboardSettings(password=SecretStr(PASSWORD), poll_s=0.2)
    runner = web.AppRunner(create_app(stack, client=temporal_client, dashboard=ds), shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOCAL_HOST, port).start()
    yield f"http://{LOCAL_HOST}:{port}"
    await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    pg = await context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    await context.close()


async def sign_in(page: Any, base: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=user]", SUPERVISOR)
    await page.fill("input[name=password]", password)
    await page.click("form.signin button")


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """docs/<name> with SWITCHBOARD_SCREENSHOTS=1 (to refresh the committed images), else a temp file."""
    if os.environ.get("SWITCHBOARD_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parents[2] / "docs" / name
    return tmp_path / name
