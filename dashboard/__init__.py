"""The supervisor dashboard: live calls with live transcripts and actions, and review of finished calls.

``python -m dashboard`` (or ``switchboard dashboard``) serves it on 127.0.0.1:8000; ``service()`` is
its entry in the local stack that ``switchboard up`` starts.
"""

from __future__ import annotations

import sys

from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings


def service(settings: Settings) -> ServiceSpec:
    port = settings.ports.dashboard
    url = f"http://{LOCAL_HOST}:{port}"

    healthy = http_ok(f"{url}/healthz")

    return ServiceSpec(
        name="dashboard",
        argv=[sys.executable, "-m", "dashboard"],
        port=port,
        url=url,
        health=healthy,
        env=settings.to_env(),
        ready_timeout_s=30.0,
        description="supervisor dashboard: live calls, take over, review",
    )
