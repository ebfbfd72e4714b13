"""The local phone network: Twilio's REST subset, signed callbacks, and simulated callers on Media Streams.

Start it with ``python -m infra.phone`` (or ``service(settings)`` in the stack). Point the real
``twilio`` SDK at it with ``infra.phone.client.twilio_client(settings)``; register callee
behaviours and read call results through ``/_sim`` (``infra.phone.client.SimClient``), or use
``PhoneNetwork`` in-process.
"""

from __future__ import annotations

import sys

from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings


def service(settings: Settings, *, voice_url: str | None = None, sms_url: str | None = None) -> ServiceSpec:
    """The phone network as a stack service (it needs the TTS process at ``settings.tts_url``)."""
    port = settings.ports.phone
    url = f"http://{LOCAL_HOST}:{port}"
    argv = [
        sys.executable,
        "-m",
        "infra.phone",
        "--host",
        LOCAL_HOST,
        "--port",
        str(port),
        "--tts-url",
        settings.tts_url,
        "--recordings",
        str(settings.home / "phone"),
    ]
    if voice_url is not None:
        argv += ["--voice-url", voice_url]
    if sms_url is not None:
        argv += ["--sms-url", sms_url]

    healthy = http_ok(f"{url}/_sim/health")

    return ServiceSpec(
        name="phone",
        argv=argv,
        port=port,
        url=url,
        health=healthy,
        env={
            "PYTHONUNBUFFERED": "1",
            "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
            "TWILIO_FROM_NUMBER": settings.twilio_from_number,
            "SWITCHBOARD_HOME": str(settings.home),
        },
        description="Local phone network: Twilio REST subset, signed callbacks, simulated callers",
    )
