"""``python -m dashboard``: serve the supervisor dashboard on the configured port (127.0.0.1 by default)."""

from __future__ import annotations

import logging

from aiohttp import web

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from switchboard.config import Settings, get_settings


def main(settings: Settings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = settings or get_settings()
    dashboard = DashboardSettings()
    web.run_app(
        create_app(settings, dashboard=dashboard),
        host=dashboard.bind,
        port=settings.ports.dashboard,
        access_log=None,  # URLs carry call ids only, but keep request logs out of the audit stream
        print=lambda msg: logging.getLogger("switchboard.dashboard").info(msg.strip()),
    )


if __name__ == "__main__":
    main()
