"""``python -m infra.phone --host 127.0.0.1 --port 8766``: the local phone network as a process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from infra.phone.app import serving
from infra.phone.network import PhoneNetwork
from infra.speech.tts import Synthesizer
from switchboard.config import LOCAL_HOST, get_settings


async def _serve(args: argparse.Namespace) -> None:
    settings = get_settings()
    speech = Synthesizer(args.tts_url or settings.tts_url)
    network = PhoneNetwork(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        speech=speech,
        recordings_dir=Path(args.recordings or settings.home / "phone"),
        default_voice_url=args.voice_url,
        default_sms_url=args.sms_url,
        business_number=settings.twilio_from_number,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serving(network, args.port, args.host) as url:
            logging.getLogger("infra.phone").info("phone network on %s", url)
            await stop.wait()
    finally:
        await speech.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.phone", description=__doc__)
    parser.add_argument("--host", default=LOCAL_HOST)
    parser.add_argument("--port", type=int, default=get_settings().ports.phone)
    parser.add_argument("--tts-url", default=None, help="The Piper process (default: settings.tts_url).")
    parser.add_argument("--voice-url", default=None, help="Default voice webhook for inbound calls.")
    parser.add_argument("--sms-url", default=None, help="The business number's messaging webhook.")
    parser.add_argument(
        "--recordings", default=None, help="Where heard-audio WAVs go (default: <home>/phone)."
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
