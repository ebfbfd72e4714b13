"""``python -m infra.realtime_engine --host 127.0.0.1 --port 8765 [--tts-url http://127.0.0.1:8767]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import numpy as np

from infra.realtime_engine.server import Engine, start
from infra.speech.stt import shared_transcriber
from infra.speech.tts import Synthesizer
from switchboard.config import LOCAL_HOST, get_settings


async def serve(host: str, port: int, tts_url: str) -> None:
    stt = shared_transcriber()
    stt.transcribe_sync(np.zeros(16000, np.float32))  # load the weights before the first caller
    speech = Synthesizer(tts_url)
    server = await start(Engine(speech, stt), host, port)
    logging.getLogger(__name__).info("realtime engine on ws://%s:%d/v1/realtime", host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await speech.aclose()
    stt.close()


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m infra.realtime_engine")
    parser.add_argument("--host", default=LOCAL_HOST)
    parser.add_argument("--port", type=int, default=settings.ports.realtime)
    parser.add_argument("--tts-url", default=settings.tts_url)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("faster_whisper", "httpx"):  # one line per utterance / per synthesis request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(serve(args.host, args.port, args.tts_url))


if __name__ == "__main__":
    main()
