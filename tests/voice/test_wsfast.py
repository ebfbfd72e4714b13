"""The websocket hot path (voice/wsfast.py) against websockets itself: every message, in order, whatever
the framing; the backlog when the sink cannot take a message; and frames we write read back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Frame, Opcode
from websockets.protocol import CLIENT, SERVER, Protocol, State

from voice.media_server import StampedServerConnection
from voice.realtime import StampedClientConnection
from voice.wsfast import FAST_MAX, _text_frame, send_texts, writable, write_texts

BIG = "x" * (FAST_MAX + 10)  # over the fast path's frame size: websockets' parser takes it


class Collector:
    """A sink that keeps what it takes; ``refuse`` makes it leave messages to the reader task."""

    def __init__(self) -> None:
        self.taken: list[bytes] = []
        self.refuse: Callable[[bytes], bool] = lambda message: False

    def __call__(self, message: bytes, t: int) -> bool:
        assert isinstance(message, bytes) and t > 0
        if self.refuse(message):
            return False
        self.taken.append(message)
        return True


@asynccontextmanager
async def fast_server(
    on_open: Callable[[StampedServerConnection], Any],
) -> AsyncIterator[ClientConnection]:
    """A server whose connections are StampedServerConnection, and a plain websockets client to it."""

    async def handler(ws: ServerConnection) -> None:
        assert isinstance(ws, StampedServerConnection)
        await on_open(ws)
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, create_connection=StampedServerConnection, compression=None
    ) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=2**22) as client:
            yield client


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - polling state that has no event
            await asyncio.sleep(0.005)


@asynccontextmanager
async def attached_server(
    sink: Collector,
) -> AsyncIterator[tuple[ClientConnection, StampedServerConnection]]:
    """``fast_server`` whose connection hands every message to ``sink``: (client, server side)."""
    conns: list[StampedServerConnection] = []

    async def on_open(ws: StampedServerConnection) -> None:
        ws.attach(sink)
        conns.append(ws)

    async with fast_server(on_open) as client:
        await until(lambda: bool(conns))
        yield client, conns[0]


def raw_frames(*frames: Frame) -> bytes:
    """The bytes a client would send for these frames (masked)."""
    sender = Protocol(CLIENT, state=State.OPEN)
    for frame in frames:
        sender.send_frame(frame)
    return b"".join(sender.data_to_send())


async def test_every_message_reaches_the_sink_in_order_whatever_the_framing() -> None:
    sink = Collector()
    async with attached_server(sink) as (client, server):
        await client.send("first")
        await client.send(b"\x00\x01binary")
        await client.send(["frag", "mented"])  # a fragmented text message
        await asyncio.wait_for(await client.ping(), 5)  # a control frame between data frames
        await client.send("héllo")  # not ASCII: checked to be UTF-8
        await client.send(BIG)
        await send_texts(client, *(f"burst {n}" for n in range(50)))  # many frames in one write
        await client.send("last")
        want = [b"first", b"\x00\x01binary", b"fragmented", "héllo".encode(), BIG.encode()]
        want += [f"burst {n}".encode() for n in range(50)] + [b"last"]
        await until(lambda: len(sink.taken) >= len(want))
        assert [len(m) for m in sink.taken] == [len(m) for m in want]
        assert sink.taken == want
        await asyncio.sleep(0.05)
        await client.send("after")  # on its own: the fast path parses again after the big frame
        await until(lambda: sink.taken[-1] == b"after")
        assert server._fast


async def test_frames_split_at_every_byte_are_put_together() -> None:
    sink = Collector()
    texts = ["a", "b" * 200, "c" * 70_000, "d" * 125, "e" * 126]
    data = raw_frames(*(Frame(Opcode.TEXT, t.encode()) for t in texts))
    async with attached_server(sink) as (client, _server):
        for at in range(0, 400):  # the first frames a byte at a time, then the rest at once
            client.transport.write(data[at : at + 1])
            await asyncio.sleep(0)
        client.transport.write(data[400:])
        await until(lambda: len(sink.taken) == len(texts))
        assert sink.taken == [t.encode() for t in texts]


async def test_refused_messages_wait_in_order_and_reading_pauses_when_many() -> None:
    sink = Collector()
    conns: list[StampedServerConnection] = []
    got: list[bytes] = []
    release = asyncio.Event()

    async def reader(ws: StampedServerConnection) -> None:
        while True:
            message, _t = await ws.next_message()
            got.append(message if isinstance(message, bytes) else message.encode())
            if len(got) == 1:
                await release.wait()  # the reader is slow: later messages queue behind this one

    tasks: list[asyncio.Task[None]] = []

    async def on_open(ws: StampedServerConnection) -> None:
        ws.attach(sink)
        conns.append(ws)
        tasks.append(asyncio.ensure_future(reader(ws)))

    async with fast_server(on_open) as client:
        await until(lambda: bool(conns))
        ws = conns[0]
        sink.refuse = lambda message: message == b"m2"
        for n in range(40):
            await client.send(f"m{n}")
        await until(lambda: ws._reading_paused)  # more than max_queue waiting: reading stops
        assert sink.taken == [b"m0", b"m1"] and got == [b"m2"]  # m3… wait behind m2
        release.set()
        await until(lambda: len(got) + len(sink.taken) == 40)
        # m2… came to the reader until it caught up, then the sink took the rest: all in order
        assert sink.taken[:2] + got + sink.taken[2:] == [f"m{n}".encode() for n in range(40)]
        assert len(got) > 16 and not ws._reading_paused
        await client.send("after")  # the reader has caught up: the sink takes messages again
        await until(lambda: sink.taken[-1:] == [b"after"])


async def test_messages_received_before_attach_come_first() -> None:
    conns: list[StampedServerConnection] = []
    got: list[Any] = []
    sink = Collector()
    attached = asyncio.Event()

    async def on_open(ws: StampedServerConnection) -> None:
        conns.append(ws)
        await until(lambda: len(ws.recv_messages.frames) == 2)
        ws.attach(sink)
        attached.set()
        await until(lambda: len(ws._backlog) == 1)  # "three" waits behind the two unread ones
        for _ in range(3):
            message, _t = await ws.next_message()
            got.append(message)
        with contextlib.suppress(ConnectionClosed):
            await ws.next_message()  # caught up: waits, while the sink takes what comes

    async with fast_server(on_open) as client:
        await client.send("one")
        await client.send("two")
        await attached.wait()
        await client.send("three")
        await until(lambda: len(got) == 3)
        assert [m if isinstance(m, str) else m.decode() for m in got] == ["one", "two", "three"]
        assert sink.taken == []
        await client.send("four")  # the reader has caught up: the sink takes it
        await until(lambda: sink.taken == [b"four"])


async def test_invalid_utf8_closes_with_1007_and_a_close_ends_next_message() -> None:
    outcomes: list[BaseException] = []

    async def on_open(ws: StampedServerConnection) -> None:
        ws.attach(Collector())
        try:
            await ws.next_message()
        except (ConnectionClosedError, ConnectionClosedOK) as exc:
            outcomes.append(exc)

    async with fast_server(on_open) as client:
        await asyncio.sleep(0.05)
        client.transport.write(raw_frames(Frame(Opcode.TEXT, b"\xff\xfe bad")))
        await until(lambda: bool(outcomes))
        closed = outcomes[0]
        assert (
            isinstance(closed, ConnectionClosedError) and closed.sent is not None and closed.sent.code == 1007
        )
    outcomes.clear()
    async with fast_server(on_open) as client:
        await asyncio.sleep(0.05)
        await client.close()
        await until(lambda: bool(outcomes))
        assert isinstance(outcomes[0], ConnectionClosedOK)


async def test_client_side_sink_and_writes_both_ways() -> None:
    async def handler(ws: ServerConnection) -> None:  # plain websockets: echoes, then sends a mix
        for _ in range(3):
            await ws.send(await ws.recv())
        await ws.send(["a", "b"])
        await ws.send("z" * 70_000)
        await ws.send("end")
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**22) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        async with connect(url, create_connection=StampedClientConnection, compression=None) as ws:
            assert isinstance(ws, StampedClientConnection)
            sink = Collector()
            ws.attach(sink)
            assert writable(ws)
            write_texts(ws, "short", "m" * 300)  # masked frames, 7- and 16-bit lengths
            write_texts(ws, "L" * 70_000)  # 64-bit length
            await until(lambda: len(sink.taken) == 6)
            assert sink.taken == [b"short", b"m" * 300, b"L" * 70_000, b"ab", b"z" * 70_000, b"end"]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frames_we_write_parse_back_with_websockets(size: int) -> None:
    for masked, reader_side in ((True, SERVER), (False, CLIENT)):  # a server reads masked frames
        reader = Protocol(reader_side, state=State.OPEN, max_size=None)
        text = "é" + "x" * (size - 2) if size >= 2 else "x" * size
        reader.receive_data(_text_frame(text.encode(), masked))
        (frame,) = reader.events_received()
        assert isinstance(frame, Frame) and frame.opcode is Opcode.TEXT and frame.fin
        assert bytes(frame.data).decode() == text
