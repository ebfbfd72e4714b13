"""Bridge overhead per frame, barge-in → clear, and calls per core, over real sockets.

One media-server process pinned to core 0 runs every conversation; this process, pinned to
the other core, plays Twilio (simulated callers, one shared 20 ms ticker) and the Realtime side
(the tone stand-in). The server measures, per frame, from the moment the frame came off the
socket to the moment its forward was written to the other socket: caller → Realtime ("in")
and agent → Twilio ("out"); and ``speech_started`` arrival → ``clear`` written. Every caller
speaks 800 ms, then listens; the agent's 1.8 s answer runs into the caller's next turn, so each
cycle ends with a barge-in. Drops: every caller byte must reach the Realtime side, and every
agent chunk must reach the caller or have been dropped on purpose (deltas of an interrupted
response). Run: ``.venv/bin/python -m bench.bench_bridge``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from bench.common import percentiles, report
from infra.testing import isolated_settings
from switchboard.config import Settings
from switchboard.tokens import sign_stream_token

SPEECH_FRAMES, PERIOD_FRAMES = 40, 120  # 800 ms of speech every 2.4 s
WINDOW_S = 6.0
LEVELS = (1, 50, 100, 200)
SEARCH = (250, 300, 350, 400, 500)


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


# -- the server process --------------------------------------------------------------------------


def _server_main(settings: Settings, pipe: Connection) -> None:
    _pin(0)
    asyncio.run(_serve(settings, pipe))


async def _serve(settings: Settings, pipe: Connection) -> None:
    from tests.voice.twilio_driver import RecordingHooks, make_profile
    from voice.conversation import ConversationResult, run_conversation
    from voice.media_server import MediaServer, MediaStream

    samples: dict[str, list[int]] = {"in": [], "out": [], "clear": []}
    results: list[ConversationResult] = []
    profile = make_profile()

    def probe(kind: str, ns: int) -> None:
        samples[kind].append(ns)

    async def handler(stream: MediaStream) -> None:
        path = Path(settings.home) / "rec" / f"{stream.call_id}.wav"
        results.append(
            await run_conversation(
                stream, profile, RecordingHooks(), settings, recording_path=path, frame_probe=probe
            )
        )

    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    async with MediaServer(settings, handler=handler):
        pipe.send("ready")
        cpu0 = time.process_time()
        while (command := await commands.get()) != "quit":
            if command == "reset":
                for values in samples.values():
                    values.clear()
                results.clear()
                cpu0 = time.process_time()
                pipe.send("ok")
            elif command == "collect":
                figures: dict[str, Any] = {k: percentiles(np.asarray(v) / 1e6) for k, v in samples.items()}
                figures["cpu_s"] = time.process_time() - cpu0
                pipe.send(figures)
            elif command == "results":
                pipe.send(
                    {
                        "calls": len(results),
                        "dropped_deltas": sum(r.dropped_deltas for r in results),
                        "errors": sum(r.malformed_frames + r.realtime_errors for r in results),
                        "reasons": sorted({r.end_reason for r in results}),
                    }
                )


# -- the load generator (this process) -----------------------------------------------------------


async def _level(settings: Settings, pipe: Connection, calls: int) -> dict[str, Any]:
    from tests.voice.tone_realtime import ToneRealtime, tone
    from tests.voice.twilio_driver import TwilioDriver

    speech = [tone(20, 200.0 + 11 * (n % 40), 12000) for n in range(calls)]
    silence = b"\xff" * 160
    async with ToneRealtime(settings.ports.realtime, reply_ms=1800, chunk_ms=100) as tone_rt:
        drivers = []
        for n in range(calls):
            call_id = f"c{calls}-{n}"
            token = sign_stream_token(call_id, settings.stream_secret.get_secret_value())
            d = TwilioDriver(settings.public_voice_url, call_id=call_id, token=token)
            await d.connect()
            drivers.append(d)
        await asyncio.sleep(0.5)
        pipe.send("reset")
        pipe.recv()
        late_ticks = 0
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        ticks = int(WINDOW_S * 50)
        for k in range(ticks):
            due = t0 + k * 0.02
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            elif wait < -0.02:
                late_ticks += 1
            for n, d in enumerate(drivers):
                phase = (k + 7 * n) % PERIOD_FRAMES  # callers out of step, as real calls are
                await d.send_frame(speech[n] if phase < SPEECH_FRAMES else silence)
        pipe.send("collect")
        figures: dict[str, Any] = pipe.recv()
        await asyncio.sleep(0.5)
        for d in drivers:
            await d.hang_up()
        await asyncio.sleep(1.0)
        pipe.send("results")
        server: dict[str, Any] = pipe.recv()
    sent, arrived = sum(d.sent_bytes for d in drivers), sum(s.in_bytes for s in tone_rt.sessions)
    chunks_out = sum(s.out_chunks for s in tone_rt.sessions)
    chunks_heard = sum(d.recv_chunks for d in drivers)
    figures["caller_bytes_lost"] = sent - arrived
    figures["agent_chunks_lost"] = chunks_out - chunks_heard - server["dropped_deltas"]
    figures["clears"] = sum(len(d.clears) for d in drivers)
    figures["late_ticks"] = late_ticks
    figures["errors"] = server["errors"]
    figures["cpu_ms_per_call_s"] = 1000.0 * figures["cpu_s"] / (calls * WINDOW_S)
    return figures


def _ok(f: dict[str, Any]) -> bool:
    return f["in"].get("p99", 1e9) < 5.0 and f["out"].get("p99", 1e9) < 5.0 and _lossless(f)


def _lossless(f: dict[str, Any]) -> bool:
    return f["caller_bytes_lost"] == 0 and f["agent_chunks_lost"] == 0 and f["errors"] == 0


async def _main() -> None:
    _pin(1)
    with TemporaryDirectory() as home:
        settings = isolated_settings(Path(home))
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        server = ctx.Process(target=_server_main, args=(settings, theirs), daemon=True)
        server.start()
        try:
            assert ours.recv() == "ready"
            runs: dict[int, dict[str, Any]] = {}
            for calls in LEVELS:
                runs[calls] = await _level(settings, ours, calls)
                print(
                    f"{calls} calls: in p99 {runs[calls]['in'].get('p99')} ms, lossless {_lossless(runs[calls])}"
                )
            best = max((c for c in LEVELS if _ok(runs[c])), default=0)
            for calls in SEARCH:
                if best < max(LEVELS) or calls <= best:
                    break
                runs[calls] = await _level(settings, ours, calls)
                print(
                    f"{calls} calls: in p99 {runs[calls]['in'].get('p99')} ms, lossless {_lossless(runs[calls])}"
                )
                if not _ok(runs[calls]):
                    break
                best = calls
            ours.send("quit")
        finally:
            server.join(5)
            if server.is_alive():
                server.terminate()
    figures: dict[str, Any] = {}
    for calls, f in runs.items():
        figures[f"overhead_in_ms@{calls}"] = f["in"]
        figures[f"overhead_out_ms@{calls}"] = f["out"]
        figures[f"clear_ms@{calls}"] = f["clear"]
        figures[f"checks@{calls}"] = {
            k: f[k] for k in ("caller_bytes_lost", "agent_chunks_lost", "errors", "clears", "late_ticks")
        }
        figures[f"cpu_ms_per_call_per_s@{calls}"] = round(f["cpu_ms_per_call_s"], 3)
    figures["max_calls_one_core_p99_lt_5ms_no_drops"] = best
    report(
        "bench_bridge",
        figures,
        notes="server pinned to core 0, load generator (callers + tone Realtime) on core 1; "
        f"{WINDOW_S:.0f} s window per level; cpu = server process CPU ms per call per second",
    )


if __name__ == "__main__":
    asyncio.run(_main())
