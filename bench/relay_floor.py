"""The floor under the voice worker's CPU: a relay that forwards the same traffic and does nothing else.

The server is the media server's own websocket layer (:class:`voice.wsfast.FastPath` on websockets,
on uvloop, alone on core 0), with the call traffic of :mod:`bench.bench_bridge`: per call-second, 50
Twilio media frames in (forwarded as they are to an upstream socket), about 6 agent chunks of 100 ms
from upstream (forwarded as they are to the Twilio side) and a mark echoed for each. No JSON is
parsed, nothing is recorded, no bridge runs: what is left is the kernel, the event loop and the
websocket framing. Its CPU per call-second is the baseline that ``bench_bridge`` divides by, so the
ratio shows what Switchboard's own work (parsing, the bridge, the recording, the meters) adds.

Two helper processes on core 1: the Twilio side (clients sending media on a drift-free 20 ms
schedule over 10 slots, echoing a mark per chunk) and the upstream side (a server that counts the
media and sends each connection a chunk every 160 ms). With ``tls``, the upstream leg is wss://, as
the leg to OpenAI is in production.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from bench.common import MEDIA_FRAME, STREAM_SID, TlsFiles, command_queue, loop_lag, percentiles, pin
from voice import twilio_media
from voice.media_server import StampedServerConnection
from voice.realtime import StampedClientConnection
from voice.serve import run, settle_heap
from voice.twilio_media import MediaOut
from voice.wsfast import FastPath, writable, write_texts

__all__ = ["measure_floor"]

WINDOW_S = 5.0
SLOTS = 10
CHUNK_EVERY_S = 0.16  # about 6 agent chunks a call-second, as in bench_bridge's traffic
_PAYLOAD = base64.b64encode(bytes(range(160))).decode()  # 20 ms of caller audio
_CHUNK = twilio_media.encode(MediaOut(base64.b64encode(bytes(800)).decode()), STREAM_SID)  # 100 ms, down
_MARK = '{"event":"mark","sequenceNumber":"1","streamSid":"' + STREAM_SID + '","mark":{"name":"m"}}'


# -- the relay (core 0) ------------------------------------------------------------------------------


def _relay_main(pipe: Connection, upstream_port: int, uvloop: bool, tls: TlsFiles | None) -> None:
    pin(0)
    run(_relay(pipe, upstream_port, tls), use_uvloop=uvloop)


async def _relay(pipe: Connection, upstream_port: int, tls: TlsFiles | None) -> None:
    dropped = 0
    scheme, client_tls = ("wss", tls.client_context()) if tls else ("ws", None)

    async def handler(twilio: ServerConnection) -> None:
        nonlocal dropped
        up: Any = await connect(
            f"{scheme}://127.0.0.1:{upstream_port}/",
            create_connection=StampedClientConnection,
            compression=None,
            ssl=client_tls,
        )

        def from_twilio(message: bytes, t: int) -> bool:
            nonlocal dropped
            if message.startswith(b'{"event":"media"'):
                if writable(up):
                    write_texts(up, message.decode())
                else:
                    dropped += 1
            return True

        def from_upstream(message: bytes, t: int) -> bool:
            nonlocal dropped
            if writable(twilio):
                write_texts(twilio, message.decode())
            else:
                dropped += 1
            return True

        assert isinstance(twilio, FastPath) and isinstance(up, FastPath)
        twilio.attach(from_twilio)
        up.attach(from_upstream)
        await twilio.wait_closed()
        await up.close()

    lags: list[int] = []
    async with serve(
        handler, "127.0.0.1", 0, create_connection=StampedServerConnection, compression=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        lag_task = asyncio.ensure_future(loop_lag(lags))
        settle_heap()
        commands = command_queue(pipe)
        pipe.send(port)
        cpu0 = 0.0
        while (command := await commands.get()) != "quit":
            if command == "reset":
                cpu0, dropped = time.process_time(), 0
                lags.clear()
            elif command == "collect":
                lag = percentiles(np.asarray(lags) / 1e6).get("p99", 0.0)
                pipe.send({"cpu_s": time.process_time() - cpu0, "loop_lag_p99_ms": lag, "dropped": dropped})
        lag_task.cancel()


# -- the upstream side (core 1) ----------------------------------------------------------------------


def _upstream_main(pipe: Connection, uvloop: bool, tls: TlsFiles | None) -> None:
    pin(1)
    run(_upstream(pipe, tls), use_uvloop=uvloop)


async def _upstream(pipe: Connection, tls: TlsFiles | None) -> None:
    received = 0
    conns: list[Any] = []

    def count(message: bytes, t: int) -> bool:
        nonlocal received
        received += 1
        return True

    async def handler(ws: ServerConnection) -> None:
        assert isinstance(ws, FastPath)
        ws.attach(count)
        conns.append(ws)
        await ws.wait_closed()
        conns.remove(ws)

    async def chunks() -> None:
        loop, k = asyncio.get_running_loop(), 0
        t0 = loop.time()
        while True:
            for slot in range(SLOTS):
                await asyncio.sleep(max(0.0, t0 + (k + slot / SLOTS) * CHUNK_EVERY_S - loop.time()))
                for ws in conns[slot::SLOTS]:
                    if writable(ws):
                        write_texts(ws, _CHUNK)
            k += 1

    async with serve(
        handler,
        "127.0.0.1",
        0,
        create_connection=StampedServerConnection,
        compression=None,
        ssl=tls.server_context() if tls else None,
    ) as server:
        task = asyncio.ensure_future(chunks())
        commands = command_queue(pipe)
        pipe.send(next(iter(server.sockets)).getsockname()[1])
        while (await commands.get()) != "quit":
            pipe.send(received)
        task.cancel()


# -- the Twilio side (core 1) ------------------------------------------------------------------------


def _twilio_main(pipe: Connection, port: int, calls: int, uvloop: bool) -> None:
    pin(1)
    run(_twilio(pipe, port, calls), use_uvloop=uvloop)


async def _twilio(pipe: Connection, port: int, calls: int) -> None:
    conns: list[Any] = []
    late = 0

    for _ in range(calls):
        ws: Any = await connect(
            f"ws://127.0.0.1:{port}/", create_connection=StampedClientConnection, compression=None
        )

        def echo(message: bytes, t: int, ws: Any = ws) -> bool:
            if writable(ws):
                write_texts(ws, _MARK)
            return True

        ws.attach(echo)
        conns.append(ws)
    commands = command_queue(pipe)
    pipe.send("connected")
    t0 = await commands.get()
    for k in range(int((WINDOW_S + 1.0) * 50)):
        for slot in range(SLOTS):
            wait = t0 + k * 0.02 + slot * 0.02 / SLOTS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                late += -wait > 0.02
            frame = MEDIA_FRAME % (k, k, 20 * k, _PAYLOAD)
            for ws in conns[slot::SLOTS]:
                if writable(ws):
                    write_texts(ws, frame)
    pipe.send(late)
    for ws in conns:
        await ws.close()


# -- one level -----------------------------------------------------------------------------------------


def measure_floor(calls: int, *, uvloop: bool = True, tls: TlsFiles | None = None) -> dict[str, Any]:
    """The relay's CPU ms per call-second, its loop lag p99 and any drops, at ``calls`` calls
    (with ``tls``, over wss:// to the upstream side)."""
    ctx = mp.get_context("spawn")
    relay_pipe, relay_theirs = ctx.Pipe()
    up_pipe, up_theirs = ctx.Pipe()
    tw_pipe, tw_theirs = ctx.Pipe()
    upstream = ctx.Process(target=_upstream_main, args=(up_theirs, uvloop, tls), daemon=True)
    upstream.start()
    up_port = up_pipe.recv()
    relay = ctx.Process(target=_relay_main, args=(relay_theirs, up_port, uvloop, tls), daemon=True)
    relay.start()
    port = relay_pipe.recv()
    twilio = ctx.Process(target=_twilio_main, args=(tw_theirs, port, calls, uvloop), daemon=True)
    twilio.start()
    try:
        assert tw_pipe.recv() == "connected"
        t0 = time.monotonic() + 0.1
        tw_pipe.send(t0)
        time.sleep(0.6)  # the chunks and the media are flowing
        relay_pipe.send("reset")
        up_pipe.send("count")
        before = up_pipe.recv()
        time.sleep(WINDOW_S - 1.0)
        relay_pipe.send("collect")
        figures: dict[str, Any] = relay_pipe.recv()
        up_pipe.send("count")
        forwarded = up_pipe.recv() - before
        late = tw_pipe.recv()
    finally:
        for pipe in (relay_pipe, up_pipe):
            pipe.send("quit")
        for proc in (twilio, relay, upstream):
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
    seconds = WINDOW_S - 1.0
    return {
        "cpu_ms_per_call_s": round(1000.0 * figures["cpu_s"] / (calls * seconds), 3),
        "us_per_media_frame": round(1e6 * figures["cpu_s"] / max(forwarded, 1), 2),
        "loop_lag_p99_ms": round(figures["loop_lag_p99_ms"], 2),
        "media_forwarded": forwarded,
        "dropped": figures["dropped"],
        "late_slots": late,
    }


if __name__ == "__main__":
    for n in (100, 200):
        print(n, measure_floor(n), flush=True)
