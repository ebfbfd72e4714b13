"""The local Realtime engine: caller stops speaking → first output audio, and CPU per session.

Starts Piper and the engine as real processes (``infra.testing.running_stack``), speaks Piper
caller lines as 8 kHz μ-law in 20 ms frames at real-time pace (then line silence, as a phone
keeps sending), and measures from the moment the last frame of speech was appended to the
first ``response.output_audio.delta``. Three runs:

1. ``service defaults``: server_vad as the real service reports it (200 ms silence) and the
   default latency profile (350 ms after speech_stopped) — the figure to compare with OpenAI.
2. ``no added latency``: ``latency_ms=0``, the engine's own speed (VAD + Whisper + Piper).
3. ``concurrent``: several sessions talking at once for a while; CPU time of the engine and
   Piper processes divided by session-seconds gives the cost of one session, and its inverse
   how many sessions one core sustains in real time.
4. ``baseline``: the engine restarted with ``SWITCHBOARD_STT_WINDOW=full`` (Whisper's 30 s
   window, what the engine did before the fitted window) and run 2 again, in the same run.

Then Whisper in-process, both windows over the eval bank's caller lines: word error rate and
model time (``bench/stt_accuracy.py``), so the speed-up is shown with what it costs in accuracy.

Run: ``.venv/bin/python -m bench.bench_engine`` (about 2–3 minutes). Writes bench/out/engine.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import stt_accuracy
from bench.common import percentiles, report
from infra.realtime_engine import service as engine_service
from infra.speech import tts
from infra.testing import isolated_settings, running_stack
from switchboard.config import LOCAL_HOST, Settings
from tests.infra.realtime_helpers import RtClient, open_client, stream
from voice.audio import mulaw_decode, silence

LINES = [
    "Hi, I'm calling about the weather.",
    "Can you tell me a joke?",
    "What is the capital of France?",
    "I want to order a pizza.",
    "Do you sell garden furniture?",
    "How tall is the tower?",
    "Is it going to rain on Sunday?",
    "Who won the game last night?",
]
TURNS_DEFAULT = 20
TURNS_RAW = 10
CONCURRENT = 3
CONCURRENT_S = 20.0


def _trim(mulaw: bytes) -> bytes:
    """Cut Piper's leading and trailing quiet so the clip ends where the speech ends."""
    pcm = np.abs(mulaw_decode(mulaw).astype(np.int32))
    loud = np.flatnonzero(pcm > 300)
    if loud.size == 0:
        return mulaw
    return mulaw[max(0, loud[0] - 80) : loud[-1] + 1]


def _session(silence_ms: int | None) -> dict:
    vad: dict = {"type": "server_vad"}
    if silence_ms is not None:
        vad["silence_duration_ms"] = silence_ms
    return {
        "type": "realtime",
        "tools": [],
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "turn_detection": vad},
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
    }


SPLITS: dict[str, list[float]] = {"vad_wait_ms": [], "engine_ms": []}


async def _turn(client: RtClient, clip: bytes) -> float:
    """One caller turn; seconds from the end of the speech to the first output audio."""
    await stream(client, silence(300))
    spoken_end = await stream(client, clip)
    line = asyncio.create_task(stream(client, silence(4000)))
    try:
        first = await client.next("response.output_audio.delta", within=15)
        latency = float(first["_at"]) - spoken_end
        stops = [e for e in client.of("input_audio_buffer.speech_stopped") if e["_at"] <= first["_at"]]
        if stops:
            SPLITS["vad_wait_ms"].append(1000 * (stops[-1]["_at"] - spoken_end))
            SPLITS["engine_ms"].append(1000 * (first["_at"] - stops[-1]["_at"]))
        await client.send({"type": "response.cancel"})
        await client.next("response.done", within=15)
    finally:
        line.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await line
    return latency


async def _latencies(url: str, clips: list[bytes], turns: int, query: str) -> list[float]:
    client = await open_client(url, query)
    try:
        await client.send({"type": "session.update", "session": _session(None)})
        await client.next("session.updated")
        return [1000 * await _turn(client, clips[i % len(clips)]) for i in range(turns)]
    finally:
        await client.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _talker(url: str, clips: list[bytes], until: float, out: list[float]) -> None:
    client = await open_client(url, "")
    try:
        await client.send({"type": "session.update", "session": _session(None)})
        await client.next("session.updated")
        i = 0
        while time.monotonic() < until:
            out.append(1000 * await _turn(client, clips[i % len(clips)]))
            i += 1
    finally:
        await client.close()


async def _concurrent(url: str, clips: list[bytes], pids: dict[str, int]) -> dict[str, float]:
    before = {name: _cpu_s(pid) for name, pid in pids.items()}
    started = time.monotonic()
    latencies: list[float] = []
    await asyncio.gather(
        *(_talker(url, clips[k:] + clips[:k], started + CONCURRENT_S, latencies) for k in range(CONCURRENT))
    )
    wall = time.monotonic() - started
    used = {name: _cpu_s(pid) - before[name] for name, pid in pids.items()}
    session_s = CONCURRENT * wall
    per_session = (used["realtime"] + used["tts"]) / session_s
    return {
        "sessions": CONCURRENT,
        "wall_s": wall,
        "engine_cpu_per_session_s": used["realtime"] / session_s,
        "piper_cpu_per_session_s": used["tts"] / session_s,
        "cpu_core_fraction_per_session": per_session,
        "sessions_per_core": 1.0 / per_session if per_session else float("inf"),
        "p50_first_audio_ms_under_load": percentiles(latencies).get("p50", float("nan")),
    }


def _stack(prefix: str) -> tuple[Settings, str]:
    settings = isolated_settings(Path(tempfile.mkdtemp(prefix=prefix)))
    return settings, f"ws://{LOCAL_HOST}:{settings.ports.realtime}/v1/realtime"


async def main() -> None:
    loads = [os.getloadavg()[0]]
    settings, url = _stack("bench-engine-")
    async with running_stack(settings, lambda s: [tts.service(s), engine_service(s)]) as stack:
        speech = tts.Synthesizer(settings.tts_url)
        try:
            clips = [_trim(await speech.mulaw(line)) for line in LINES]
        finally:
            await speech.aclose()
        default = await _latencies(url, clips, TURNS_DEFAULT, "")
        SPLITS["vad_wait_ms"].clear()
        SPLITS["engine_ms"].clear()
        raw = await _latencies(url, clips, TURNS_RAW, "latency_ms=0")
        raw_splits = {name: percentiles(values) for name, values in SPLITS.items()}
        pids = {name: st.pid for name, st in stack._load().items()}
        load = await _concurrent(url, clips, pids)
        loads.append(os.getloadavg()[0])
        lines = stt_accuracy.bank_lines()
        bank_clips = await stt_accuracy.phone_clips(settings.tts_url, lines)
    os.environ["SWITCHBOARD_STT_WINDOW"] = "full"
    settings, url = _stack("bench-engine-full-")
    async with running_stack(settings, lambda s: [tts.service(s), engine_service(s)]):
        baseline = await _latencies(url, clips, TURNS_RAW, "latency_ms=0")
    del os.environ["SWITCHBOARD_STT_WINDOW"]
    accuracy = await asyncio.to_thread(stt_accuracy.compare, lines, bank_clips)
    loads.append(os.getloadavg()[0])
    figures = {
        "first_audio_ms (service defaults: 200 ms silence, 350 ms profile)": percentiles(default),
        "first_audio_ms (latency_ms=0)": percentiles(raw),
        "  of which end of speech → speech_stopped (ms)": raw_splits["vad_wait_ms"],
        "  of which speech_stopped → first audio (ms)": raw_splits["engine_ms"],
        "baseline first_audio_ms (latency_ms=0, full 30 s Whisper window)": percentiles(baseline),
        "ratio baseline / fitted (median, latency_ms=0)": round(
            percentiles(baseline)["p50"] / percentiles(raw)["p50"], 2
        ),
        **{f"concurrent: {k}": v for k, v in load.items()},
        **{f"stt: {k}": v for k, v in accuracy.items()},
        "load_average_1m (start, after sessions, end)": loads,
    }
    report(
        "engine",
        figures,
        notes="Latency is measured from the last appended frame of caller speech to the first output "
        "audio delta, so it includes the VAD's silence wait. CPU counts the engine and Piper processes.",
    )


if __name__ == "__main__":
    asyncio.run(main())
