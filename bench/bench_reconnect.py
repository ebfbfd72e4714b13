"""Benchmark: the gap a caller hears when the agent's Realtime session is lost, and at a rollover.

The voice worker's real media server and conversation, a Twilio-like driver (it plays the caller
and keeps what the caller heard), and the tone Realtime stand-in (no model: every millisecond
measured is Switchboard's own, plus the stand-in's lead). For each of ``DROPS`` calls, the caller
speaks, the agent answers with a 1.5 s reply, and the session is lost abruptly (no close frame) at
a random point: while the caller speaks, or 0–1.2 s into the agent's reply.

- **Reconnect gap (heard):** the last agent audio the driver received before the drop → the first
  agent audio after it (the caller's silence). For drops during the caller's turn the caller would
  hear nothing anyway; that case reports the turn's answer time instead.
- **Reconnect gap (meter):** the voice worker's own ``realtime_gap_ms`` slice: failure → first
  agent audio sent.
- **Rollover:** calls whose session is replaced at a quiet moment (cap 4 s, rollover 2 s before);
  the swap time and the answer time of the first turn after it, against turns before it.

Targets: reconnect gap p95 ≤ 1.5 s; a rollover adds nothing the caller hears (the first turn after
it answered as fast as the others). With OpenAI, add the model's first-audio time (≈ 0.3–0.5 s)
to the reconnect gap. Run: ``.venv/bin/python -m bench.bench_reconnect``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import percentiles, report
from infra.testing import isolated_settings
from switchboard.models import Speaker, Turn
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice.conversation import ConversationResult, run_conversation
from voice.media_server import MediaServer, MediaStream
from voice.realtime import RealtimeClient
from voice.sessions import ConversationLog
from voice.wsfast import send_texts

DROPS = int(os.environ.get("BENCH_DROPS", "20"))
ROLLOVERS = int(os.environ.get("BENCH_ROLLOVERS", "5"))


async def _media_after(driver: TwilioDriver, since_bytes: int, timeout_s: float = 6.0) -> float:
    """Wall time when the driver next receives agent audio beyond ``since_bytes``."""
    async with asyncio.timeout(timeout_s):
        while driver.recv_bytes <= since_bytes:  # noqa: ASYNC110 - the driver's reader counts
            await asyncio.sleep(0.002)
    return time.perf_counter()


async def one_drop(home: Path, rng: random.Random) -> dict[str, Any]:
    during_agent = rng.random() < 0.7
    async with ToneRealtime(reply_ms=1500) as rt:
        settings = isolated_settings(home, realtime_url=rt.url)
        results: list[ConversationResult] = []

        async def handler(stream: MediaStream) -> None:
            results.append(await run_conversation(stream, make_profile(), RecordingHooks(), settings))

        async with MediaServer(settings, handler=handler):
            token = sign_stream_token("bench-rc", settings.stream_secret.get_secret_value())
            driver = TwilioDriver(settings.public_voice_url, call_id="bench-rc", token=token)
            await driver.connect()
            if during_agent:
                await driver.play(tone(500, 220.0, 12000))
                silence = asyncio.ensure_future(driver.silence(4000))
                await _media_after(driver, 0)
                await asyncio.sleep(rng.uniform(0.0, 1.2))
                before = driver.recv_bytes
                last_audio = time.perf_counter()
                rt.sessions[0].abort()
                heard_gap = (await _media_after(driver, before) - last_audio) * 1000
                await silence
            else:
                await driver.play(tone(rng.randint(100, 400), 220.0, 12000))
                rt.sessions[0].abort()
                await driver.play(tone(300, 220.0, 12000))
                done = time.perf_counter()
                silence = asyncio.ensure_future(driver.silence(3000))
                heard_gap = (await _media_after(driver, driver.recv_bytes) - done) * 1000
                await silence
            await driver.hang_up()
            async with asyncio.timeout(10):
                while not results:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
    return {
        "during_agent": during_agent,
        "heard_gap_ms": heard_gap,
        "meter": results[0].latency.realtime_gap_ms,
    }


async def one_rollover(home: Path) -> dict[str, Any]:
    async with ToneRealtime(reply_ms=600) as rt:
        settings = isolated_settings(
            home, realtime_url=rt.url, realtime_session_cap_s=4.0, realtime_rollover_before_s=2.0
        )
        results: list[ConversationResult] = []
        hooks = RecordingHooks()

        async def handler(stream: MediaStream) -> None:
            results.append(await run_conversation(stream, make_profile(), hooks, settings))

        answers: list[tuple[int, float]] = []  # (session index answering, ms from turn end to audio)
        async with MediaServer(settings, handler=handler):
            token = sign_stream_token("bench-ro", settings.stream_secret.get_secret_value())
            driver = TwilioDriver(settings.public_voice_url, call_id="bench-ro", token=token)
            await driver.connect()
            for _ in range(4):  # turns across the rollover (due 2 s in)
                await driver.play(tone(400, 220.0, 12000))
                before = driver.recv_bytes
                ended = time.perf_counter()
                silence = asyncio.ensure_future(driver.silence(1400))
                answered = await _media_after(driver, before)
                answers.append((len(rt.sessions), (answered - ended) * 1000))
                await silence
            await driver.hang_up()
            async with asyncio.timeout(10):
                while not results:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
    swaps = [d["swap_ms"] for n, d in hooks.events if n == "realtime_rolled_over"]
    return {"answers": answers, "swaps": swaps}


async def replay_cost(home: Path, turns: int, rounds: int = 20) -> dict[str, Any]:
    """A new session's setup with the conversation so far: connect, configure, replay (bounded)."""
    log = ConversationLog(max_items=40)
    for n in range(turns):
        speaker = Speaker.CALLER if n % 2 == 0 else Speaker.AGENT
        log.turn(
            Turn(
                speaker=speaker,
                text=f"A sentence of about twelve words said in turn {n} of the call.",
                start_ms=n,
            )
        )
    events = [json.dumps(e) for e in log.replay()]
    async with ToneRealtime() as rt:
        settings = isolated_settings(home, realtime_url=rt.url)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            client = await RealtimeClient.connect(settings, make_profile())
            await send_texts(client.connection, *events)
            times.append((time.perf_counter() - start) * 1000)
            await client.close()
    return {"ms": percentiles(times), "items": len(events), "bytes": sum(len(e) for e in events)}


async def main() -> None:
    rng = random.Random(16)
    drops: list[dict[str, Any]] = []
    rollovers: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        for n in range(DROPS):
            drops.append(await one_drop(Path(home) / f"d{n}", rng))
        for n in range(ROLLOVERS):
            rollovers.append(await one_rollover(Path(home) / f"r{n}"))
        replays = {turns: await replay_cost(Path(home) / f"p{turns}", turns) for turns in (0, 40, 400)}
    agent = [d["heard_gap_ms"] for d in drops if d["during_agent"]]
    caller = [d["heard_gap_ms"] for d in drops if not d["during_agent"]]
    meter = [m for d in drops for m in d["meter"]]
    first_after = [ms for r in rollovers for i, (sessions, ms) in enumerate(r["answers"]) if sessions > 1
                   and (i == 0 or r["answers"][i - 1][0] == 1)]  # fmt: skip
    before = [ms for r in rollovers for sessions, ms in r["answers"] if sessions == 1]
    figures = {
        "reconnect_gap_heard_ms (drop while the agent speaks)": percentiles(agent),
        "answer_after_drop_mid_caller_turn_ms": percentiles(caller),
        "reconnect_gap_meter_ms (failure → first audio sent)": percentiles(meter),
        "rollover_swap_ms": percentiles([s for r in rollovers for s in r["swaps"]]),
        "turn_answer_before_rollover_ms": percentiles(before),
        "turn_answer_first_after_rollover_ms": percentiles(first_after),
        "rollovers_seen": sum(len(r["swaps"]) for r in rollovers),
        **{
            f"new_session_with_replay_of_{t}_turns_ms ({r['items']} items, {r['bytes']} B)": r["ms"]
            for t, r in replays.items()
        },
        "goal_reconnect_p95_le_1500ms": percentiles(agent)["p95"] <= 1500,
    }
    report(
        "reconnect",
        figures,
        notes=(
            f"{DROPS} abrupt drops at random points ({len(agent)} while the agent spoke), {ROLLOVERS} calls"
            " with a rollover; tone Realtime stand-in (no model time); one process; loopback only"
        ),
    )


if __name__ == "__main__":
    asyncio.run(main())
