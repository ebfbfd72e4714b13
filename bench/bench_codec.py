"""Benchmark: what the payload codec adds to every payload (AES-256-GCM under a cached data key).

For typical payload sizes (a tool call, a batch of turns, a call's outcome with its transcript) it
times the pydantic converter alone (the floor, measured in the same run) and the converter plus
``EnvelopeCodec`` encode and decode, per payload, alternating round by round (the added cost is
each round's difference), on the hot path (the data key cached, as it is
for ``rotate_after_s`` after each rotation). The one KMS round trip per rotation is timed
separately against moto (its envelope is KMS-sized; the sealed sizes above use the test key's
40-byte wrap, about 140 bytes less than KMS's). Goal: ≤ 2 ms added per payload at p99 (it is far below).

Run: ``.venv/bin/python -m bench.bench_codec``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.common import percentiles, report
from infra import services
from infra.testing import isolated_settings, running_stack
from switchboard.codec import EnvelopeCodec, StaticKeys
from switchboard.messages import TurnBatch
from switchboard.models import Speaker, ToolCall, Turn
from switchboard.temporal import payload_codec

ROUNDS = 2000
WARMUP = 100
SENTENCE = "Hi, it's Jane Citizen on 0412 345 678, I'd like to book for tomorrow at ten please. "


def samples() -> dict[str, BaseModel]:
    def turns(n: int) -> TurnBatch:
        speakers = (Speaker.CALLER, Speaker.AGENT)
        return TurnBatch(turns=[Turn(speaker=speakers[i % 2], text=SENTENCE, start_ms=i) for i in range(n)])

    arguments = {"date": "2026-12-08", "time": "10:00", "name": "Jane Citizen", "phone": "0412345678"}
    return {
        "tool_call": ToolCall(call_id="call_0123abcd", name="book_appointment", arguments=arguments),
        "turn_batch": turns(4),
        "transcript": turns(40),
        "long_transcript": turns(300),
    }


async def round_trip_us(value: BaseModel, codec: EnvelopeCodec | None) -> float:
    """One round, in µs: to payload (+ encode), (decode +) from payload."""
    converter = pydantic_data_converter.payload_converter
    start = time.perf_counter_ns()
    payloads = converter.to_payloads([value])
    if codec is not None:
        payloads = await codec.decode(await codec.encode(payloads))
    converter.from_payloads(payloads, [type(value)])
    return (time.perf_counter_ns() - start) / 1000


async def bench_hot_path() -> dict[str, Any]:
    codec = EnvelopeCodec(StaticKeys(b"b" * 32))
    figures: dict[str, Any] = {}
    for name, value in samples().items():
        plain = pydantic_data_converter.payload_converter.to_payloads([value])
        size, sealed = (
            len(plain[0].SerializeToString()),
            len((await codec.encode(plain))[0].SerializeToString()),
        )
        floor, coded, added = [], [], []
        for i in range(WARMUP + ROUNDS):  # the two alternate, so a busy moment hits both alike
            without, with_codec = await round_trip_us(value, None), await round_trip_us(value, codec)
            if i >= WARMUP:
                floor.append(without)
                coded.append(with_codec)
                added.append(with_codec - without)
        label = f"{name} ({size} B → {sealed} B sealed)"
        figures[f"{label} converter only, µs"] = percentiles(floor)
        figures[f"{label} with codec, µs"] = percentiles(coded)
        figures[f"{label} added per round, µs"] = percentiles(added)  # paired: each round's difference
    return figures


async def bench_kms() -> dict[str, Any]:
    """The cold path: one GenerateDataKey and one Decrypt against moto's KMS per rotation."""
    with tempfile.TemporaryDirectory() as home:
        settings = isolated_settings(Path(home))
        async with running_stack(settings, lambda s: [services.moto(s)]):
            codec = payload_codec(settings)
            payload = pydantic_data_converter.payload_converter.to_payloads([samples()["tool_call"]])
            rotations, unwraps = [], []
            for _ in range(30):
                codec.rotate()
                start = time.perf_counter_ns()
                sealed = await codec.encode(payload)
                rotations.append((time.perf_counter_ns() - start) / 1e6)
                reader = EnvelopeCodec(codec.keys)  # another process: the key is not cached yet
                start = time.perf_counter_ns()
                await reader.decode(sealed)
                unwraps.append((time.perf_counter_ns() - start) / 1e6)
    return {
        "rotation (GenerateDataKey) ms": percentiles(rotations),
        "first decode elsewhere (Decrypt) ms": percentiles(unwraps),
    }


async def main() -> None:
    figures = await bench_hot_path()
    figures |= await bench_kms()
    report(
        "bench_codec",
        figures,
        notes=(
            f"{ROUNDS} rounds per size after {WARMUP} warm-up; a round is to_payloads → encode → decode"
            " → from_payloads. KMS is moto on 127.0.0.1 (AWS KMS is a network round trip, ~5-15 ms),"
            " paid once per rotation (default every 5 minutes) and once per data key per reader."
        ),
    )


if __name__ == "__main__":
    asyncio.run(main())
