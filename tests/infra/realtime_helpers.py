"""Test helpers for the Realtime engine: a strict raw client and a caller (the engine process is
the session fixture ``engine_url`` in ``tests/infra/conftest.py``).

Every frame the client receives is validated with the SDK's ``RealtimeServerEvent`` adapter in
strict mode, and every frame it sends (except deliberate garbage) with ``RealtimeClientEvent``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import TypeAdapter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.audio import read_wav, silence, to_mulaw_8k

SERVER = TypeAdapter(RealtimeServerEvent)
CLIENT = TypeAdapter(RealtimeClientEvent)
TIMEOUT = 30.0

JOB_TOOL = {
    "type": "function",
    "name": "get_job_status",
    "description": "Look up the status of a repair job.",
    "parameters": {
        "type": "object",
        "properties": {"job_id": {"type": "string", "description": "The job number"}},
        "required": ["job_id"],
    },
}


class RtClient:
    """A raw websocket client that checks every frame against the SDK's models."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.Event()

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                event = json.loads(frame)
                SERVER.validate_python(event, strict=True)
                event["_at"] = time.monotonic()
                self.events.append(event)
                self._queue.put_nowait(event)
        except ConnectionClosed:
            pass  # a dropped connection is what some tests inject; they check ``closed``
        finally:
            self.closed.set()

    async def send(self, event: dict[str, Any]) -> None:
        CLIENT.validate_python(event, strict=True)
        await self.ws.send(json.dumps(event))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def next(
        self, kind: str, match: Callable[[dict[str, Any]], bool] | None = None, within: float = TIMEOUT
    ) -> dict[str, Any]:
        """The next event of type ``kind`` (skipping others), within ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                event = await self._queue.get()
                if event["type"] == kind and (match is None or match(event)):
                    return event

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def open_client(url: str, query: str = "", headers: dict[str, str] | None = None) -> RtClient:
    sep = "&" if "?" in url else "?"
    full = f"{url}{sep}model=gpt-realtime" + (f"&{query}" if query else "")
    ws = await connect(
        full, additional_headers={"Authorization": "Bearer sk-local", **(headers or {})}, max_size=None
    )
    client = RtClient(ws)
    await client.next("session.created")
    return client


def profile_tool(profile: str, name: str) -> dict[str, Any]:
    """A tool exactly as the voice worker declares it to the Realtime session for ``profile``."""
    from activities.tools.profiles import load_profile
    from voice.realtime import session_config

    return next(t for t in session_config(load_profile(profile))["tools"] if t["name"] == name)


CONSENT_TOOL = profile_tool("clinic_booking", "record_consent")


def telephone_session(tools: list[dict[str, Any]] | None = None, **vad: Any) -> dict[str, Any]:
    return {
        "type": "realtime",
        "instructions": "You answer phones for a repair shop.",
        "tools": tools or [],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500, **vad},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
    }


async def speech(tts_url: str, text: str, *, natural: bool = False) -> bytes:
    """Piper speech as 8 kHz μ-law, without Piper's random noise so every run hears the same caller
    (``natural``: with it, so each take differs in timing and stress like the phone network's caller)."""
    body: dict[str, Any] = {"text": text}
    if not natural:
        body.update(noise_scale=0.0, noise_w_scale=0.0)
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(f"{tts_url}/synthesize", json=body)
        resp.raise_for_status()
    pcm, rate = read_wav(resp.content)
    return to_mulaw_8k(pcm, rate)


async def stream(client: RtClient, mulaw: bytes, frame_ms: int = 20) -> float:
    """Append μ-law in ``frame_ms`` frames at real-time pace; returns when the last was sent."""
    step = frame_ms * 8
    start = time.monotonic()
    for i, at in enumerate(range(0, len(mulaw), step)):
        delay = start + i * frame_ms / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(mulaw[at : at + step]).decode()}
        )
    return time.monotonic()


def caller_turn(speech_audio: bytes, lead_ms: int = 300, tail_ms: int = 1200) -> bytes:
    """Speech framed by line silence, as a phone line carries it."""
    return silence(lead_ms) + speech_audio + silence(tail_ms)


def words(text: str) -> list[str]:
    return [w.strip(".,?!'\"").lower() for w in text.split() if w.strip(".,?!'\"")]
