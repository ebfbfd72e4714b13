"""The voice worker's websocket hot path: whole frames in and out, with no task or queue per message.

websockets' asyncio connections cost most of a media frame's CPU: a generator-based frame parser, a
message queue and a task wake-up per message received, a context manager and a drain per message
sent. A call carries 50 caller frames a second each way, so this module takes the common case off
that path and leaves every other case to websockets' own Sans-I/O protocol, which stays the
authority on the connection's state.

:class:`FastPath` is a mixin for websockets' asyncio ``Connection`` classes. Until a sink is
attached it is plain websockets (``recv()``, ``send()``), except that each message's arrival time is
noted in ``arrivals``. Once :meth:`FastPath.attach` hands it a sink, every complete, unfragmented
data frame is parsed straight out of ``data_received`` and offered to the sink in the same
callback, as ``bytes`` (a text frame checked to be UTF-8), with the time its bytes came off the
socket. Anything else (ping, pong and close frames,
fragments, frames over 64 KiB or over ``max_size``, malformed frames, anything once the connection
is no longer OPEN) goes to the protocol as it would have without this module; data messages it
yields come back to the sink in order.

A sink returns False when it cannot take a message now (the socket it writes to is paused, say).
That message and every later one then wait in a backlog, in order, for the reader task
(:meth:`FastPath.next_message`), until it has caught up; messages that arrived before ``attach``
come first. The backlog is bounded like websockets' own queue: reading pauses above ``max_queue``.

:func:`write_texts` frames text messages itself (masked with a fresh random key when the
connection is a client, as RFC 6455 requires) and writes them with one ``transport.write``; it may
be called only when :func:`writable` says websockets' ``send`` would not have to wait.
:func:`send_texts` does the same from a coroutine, falling back to ``send`` in any other state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections import deque
from collections.abc import Callable, Iterator
from time import perf_counter_ns
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.frames import Frame, Opcode, apply_mask
from websockets.protocol import CLIENT, SERVER, State
from websockets.streams import StreamReader
from websockets.typing import Data

__all__ = ["FastPath", "Sink", "send_texts", "writable", "write_texts"]

log = logging.getLogger(__name__)

Sink = Callable[[bytes, int], bool]
"""``(message, arrival ns) → taken``. Text or binary, a message comes as ``bytes`` (JSON parsers read
UTF-8 bytes faster than ``str``); a text message has been checked to be UTF-8."""

FAST_MAX = 65535  # larger frames are rare (none on the media paths) and go to websockets' parser
_OPEN = State.OPEN
_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_FIN_TEXT, _FIN_BINARY = 0x81, 0x82
_AT_EOF = StreamReader.at_eof.__code__
_H16 = struct.Struct("!BBH").pack
_H64 = struct.Struct("!BBQ").pack


def _mask_keys() -> Iterator[bytes]:
    """Masking keys from the OS CSPRNG, drawn 1024 at a time (a syscall per frame costs more than the frame)."""
    while True:
        pool = os.urandom(4096)
        for at in range(0, 4096, 4):
            yield pool[at : at + 4]


_keys = _mask_keys()


def _text_frame(data: bytes, masked: bool) -> bytes:
    n = len(data)
    if not masked:
        if n < 126:
            return bytes((_FIN_TEXT, n)) + data
        return (_H16(_FIN_TEXT, 126, n) if n < 65536 else _H64(_FIN_TEXT, 127, n)) + data
    key = next(_keys)
    if n < 126:
        head = bytes((_FIN_TEXT, 0x80 | n))
    else:
        head = _H16(_FIN_TEXT, 0xFE, n) if n < 65536 else _H64(_FIN_TEXT, 0xFF, n)
    return head + key + apply_mask(data, key)


def writable(connection: Connection) -> bool:
    """Whether ``send`` would write at once: open, below the write high-water mark, no fragmented send."""
    return (
        connection.protocol.state is _OPEN and not connection.paused and connection.send_in_progress is None
    )


def write_texts(connection: Connection, *texts: str) -> None:
    """Write text messages in order, in one ``transport.write``. Only when :func:`writable` is true."""
    protocol = connection.protocol
    if protocol.writes:  # never overtake anything websockets has queued (none expected)
        connection.send_data()
    masked = protocol.side is CLIENT
    if len(texts) == 1:
        connection.transport.write(_text_frame(texts[0].encode(), masked))
    else:
        connection.transport.write(b"".join([_text_frame(text.encode(), masked) for text in texts]))


async def send_texts(connection: Connection, *texts: str) -> None:
    """Send text messages in order: as one write with no await when the connection is writable,
    otherwise through ``send`` (its flow control, and its ``ConnectionClosed``)."""
    if writable(connection):
        write_texts(connection, *texts)
        return
    for text in texts:
        await connection.send(text)


class FastPath(Connection):
    """Mix in before websockets' ``ServerConnection`` or ``ClientConnection``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: deque[int] = deque()
        self._sink: Sink | None = None
        self._backlog: deque[tuple[bytes | UnicodeDecodeError, int]] = deque()
        self._holding = False  # the reader task has messages to catch up on: the sink waits
        self._fast = False  # the protocol's parser stands at a frame boundary with nothing buffered
        self._partial = b""
        self._fragments: list[bytes] = []
        self._fragment_t = 0
        self._fragment_text = True
        self._wakeup: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._mask_bit = 0
        self._limit = FAST_MAX

    # -- attaching -------------------------------------------------------------------------------

    def attach(self, sink: Sink) -> None:
        """From now on, offer each message to ``sink`` as it arrives (after any received earlier)."""
        self._sink = sink
        self._holding = len(self.recv_messages.frames) > 0
        self._fast = False
        self._mask_bit = 0x80 if self.protocol.side is SERVER else 0  # a server reads masked frames
        self._limit = min(self.protocol.max_message_size or FAST_MAX, FAST_MAX)

    def detach(self) -> None:
        """Back to plain websockets: later messages go to ``recv()`` (those in the backlog are dropped)."""
        self._sink = None
        self._backlog.clear()
        if self._partial:
            partial, self._partial = self._partial, b""
            super().data_received(partial)
        self._resume_reading()

    async def next_message(self) -> tuple[Data, int]:
        """The next message the sink has not taken, with its arrival time; for the reader task.

        Raises ``ConnectionClosed`` once the connection is closed and every message was returned.
        """
        while True:
            if len(self.recv_messages.frames):  # received before attach(): plain websockets
                message = await self.recv()
                return message, self.arrivals.popleft() if self.arrivals else perf_counter_ns()
            if self._backlog:
                item, t = self._backlog.popleft()
                if len(self._backlog) <= self._low_water:
                    self._resume_reading()
                if isinstance(item, UnicodeDecodeError):
                    await self._fail_invalid_utf8(item)
                    continue
                return item, t
            if self.connection_lost_waiter.done():
                raise self.close_exc
            self._holding = False  # caught up: the sink takes messages directly again
            self._wakeup = self.loop.create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None

    # -- receiving -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._sink is None:
            super().data_received(data)
            return
        t = perf_counter_ns()
        if self._partial:
            data, self._partial = self._partial + data, b""
        protocol = self.protocol
        if not self._fast and not self._at_boundary():
            super().data_received(data)
            return
        mask_bit, limit = self._mask_bit, self._limit
        pos, end = 0, len(data)
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            n, head = b1 & 0x7F, pos + 2
            if n == 126:
                if end - head < 2:
                    break
                n, head = (data[head] << 8) | data[head + 1], head + 2
            elif n == 127:
                n = limit + 1  # a 64-bit length: over the limit, the protocol takes the frame
            if (
                (b0 != _FIN_TEXT and b0 != _FIN_BINARY)
                or n > limit
                or b1 & 0x80 != mask_bit
                or protocol.current_size is not None
            ):  # anything but a small, whole data frame: the protocol decides
                self._fast = False
                super().data_received(data[pos:])
                return
            if mask_bit:
                stop = head + 4 + n
                if stop > end:
                    break
                payload = apply_mask(data[head + 4 : stop], data[head : head + 4])
            else:
                stop = head + n
                if stop > end:
                    break
                payload = data[head:stop]
            pos = stop
            if b0 == _FIN_TEXT and not payload.isascii():
                try:
                    payload.decode()  # text must be UTF-8 (ASCII is)
                except UnicodeDecodeError as exc:
                    self._deliver(exc, t)
                    continue
            self._deliver(payload, t)
            if self._sink is None:  # detached by the sink (the call ended)
                super().data_received(data[pos:])
                return
        if pos < end:
            self._partial = data[pos:]

    def process_event(self, event: Any) -> None:
        if type(event) is not Frame or event.opcode not in (_TEXT, _BINARY, _CONT):
            super().process_event(event)  # the handshake, ping, pong, close
        elif self._sink is None:
            if event.fin:
                self.arrivals.append(perf_counter_ns())
            super().process_event(event)
        elif event.opcode is _CONT and not self._fragments:  # a message begun before attach()
            self._holding = True
            super().process_event(event)
        else:  # data the protocol parsed: a fragment, or a frame that came after a control frame
            if event.opcode is not _CONT:
                self._fragments, self._fragment_text = [], event.opcode is _TEXT
                self._fragment_t = perf_counter_ns()
            self._fragments.append(bytes(event.data))
            if not event.fin:
                return
            data, self._fragments = b"".join(self._fragments), []
            if self._fragment_text and not data.isascii():
                try:
                    data.decode()
                except UnicodeDecodeError as exc:
                    self._deliver(exc, self._fragment_t)
                    return
            self._deliver(data, self._fragment_t)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._wake()

    # -- internals ---------------------------------------------------------------------------------

    def _deliver(self, message: bytes | UnicodeDecodeError, t: int) -> None:
        sink = self._sink
        if sink is None:
            return
        if not self._holding and type(message) is not UnicodeDecodeError:
            try:
                if sink(message, t):  # type: ignore[arg-type]
                    return
            except Exception:  # a failing sink must not take the connection down with it
                log.exception("websocket sink failed")
                return
        self._holding = True
        self._backlog.append((message, t))
        self._wake()
        high = self.max_queue_high
        if high is not None and len(self._backlog) > high and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    @property
    def _low_water(self) -> int:
        low, high = self.max_queue_low, self.max_queue_high
        return low if low is not None else (high // 4 if high is not None else 0)

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def _at_boundary(self) -> bool:
        """Whether websockets' parser waits for a new frame with nothing buffered (then we may parse)."""
        protocol = self.protocol
        if protocol.state is not _OPEN or protocol.extensions or protocol.reader.buffer:
            return False
        waiting = protocol.parser  # the generator the parser is suspended in, innermost first
        for _ in range(8):
            inner = getattr(waiting, "gi_yieldfrom", None)
            if inner is None:
                break
            waiting = inner
        self._fast = getattr(waiting, "gi_code", None) is _AT_EOF
        return self._fast

    async def _fail_invalid_utf8(self, exc: UnicodeDecodeError) -> None:
        """What websockets' ``recv`` does with a text message that is not UTF-8: close with 1007."""
        from websockets.frames import CloseCode

        self.set_connection_exc(exc)
        async with self.send_context():
            self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
        await asyncio.shield(self.connection_lost_waiter)
        raise self.close_exc
