"""Per-frame CPU of the voice worker's hot path, in one process with no sockets: the old path beside the new.

One call-second of traffic, as the media server sees it: 50 caller frames from Twilio, 10 agent
chunks of 100 ms from the Realtime session and the 10 marks Twilio echoes for them. Each message
goes in as the bytes of a websocket frame (``data_received``), and what the server writes goes to
an in-memory transport; a ``sleep(0)`` after each message lets a reader task run, as the event
loop would. CPU is ``time.process_time()``, so other load on the machine barely moves it.

* **old** — the path before the fast path, rebuilt from the same libraries: websockets' ``recv``
  (its parser, queue and a task wake-up per message), the pydantic TypedDict / SDK model parsers,
  an action at a time, and websockets' frame serializer for every send.
* **new** — :mod:`voice.wsfast` sinks into :class:`voice.relay.Relay`: frames parsed in the
  callback, ``orjson`` reads, one write per socket per message.

The bridge and the recorder are the same objects in both, so the ratio is that of the I/O and
parsing path; the figures leave out the kernel (``recv``/``send``) and the event loop's poll.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.frames import Frame, Opcode
from websockets.protocol import CLIENT, SERVER, Protocol, Side, State

from bench.common import MEDIA_FRAME, STREAM_SID
from tests.voice.tone_realtime import tone
from voice import twilio_media
from voice.actions import AppendAudio, SendTwilio
from voice.bridge import Bridge, BridgeConfig
from voice.latency import LatencyMeter
from voice.realtime import RealtimeClient, parse_server_event
from voice.recorder import Recorder
from voice.relay import Relay
from voice.twilio_media import MarkOut, MediaOut
from voice.wsfast import FastPath

__all__ = ["measure"]

_TD = {"type": "server_vad", "interrupt_response": True, "create_response": True}


class _Transport(asyncio.Transport):
    """Takes writes and drops them."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += len(data)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None: ...

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...

    def abort(self) -> None: ...


class _Stamped(Connection):
    """The old media socket: an arrival stamp per message, websockets' ``recv``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[int] = []

    def process_event(self, event: Any) -> None:
        if type(event) is Frame and event.fin and event.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.arrivals.append(time.perf_counter_ns())
        super().process_event(event)


def _open(cls: type[Connection], side: Side) -> Any:
    conn = cls(Protocol(side, state=State.OPEN, max_size=2**24), ping_interval=None, ping_timeout=None)
    conn.connection_made(_Transport())
    return conn


def _wire(side: Side, texts: list[str]) -> list[bytes]:
    """Each text as the bytes of one websocket frame sent by ``side``."""
    sender = Protocol(side, state=State.OPEN)
    out = []
    for text in texts:
        sender.send_text(text.encode())
        out.append(b"".join(sender.data_to_send()))
    return out


def _traffic(seconds: int) -> list[tuple[str, bytes]]:
    """``seconds`` of one call: per second 50 caller frames, 10 agent chunks, 10 marks echoed."""
    speech = base64.b64encode(tone(20, 220.0, 12000)).decode()
    chunk = base64.b64encode(tone(100, 330.0)).decode()
    out: list[tuple[str, bytes]] = []
    seq = 0
    for s in range(seconds):
        for k in range(50):
            n = 50 * s + k
            seq += 1
            out.append(("tw", _wire(CLIENT, [MEDIA_FRAME % (seq, n, 20 * n, speech)])[0]))
            if k % 5 == 4:  # an agent chunk every 100 ms, and the mark of the one before
                m = 10 * s + k // 5
                delta = {
                    "type": "response.output_audio.delta", "event_id": f"event_{m}", "response_id": "resp_1",
                    "item_id": "item_1", "output_index": 0, "content_index": 0, "delta": chunk,
                }  # fmt: skip
                out.append(("rt", _wire(SERVER, [json.dumps(delta)])[0]))
                if m:
                    mark = {
                        "event": "mark",
                        "streamSid": STREAM_SID,
                        "mark": {"name": f"item_1:{100 * m}:g0:m{m}"},
                    }
                    seq += 1
                    out.append(("tw", _wire(CLIENT, [json.dumps({**mark, "sequenceNumber": str(seq)})])[0]))
    return out


async def _old_send(conn: Connection, text: str) -> None:
    """The old ``send_texts``: websockets' frame serializer, one write."""
    conn.protocol.send_text(text.encode())
    conn.transport.write(b"".join(conn.protocol.data_to_send()))


async def _old_reader_twilio(tw: _Stamped, rt: Connection, bridge: Bridge, recorder: Recorder) -> None:
    while True:
        frame = await tw.recv()
        tw.arrivals.pop(0)
        media = twilio_media._reference_media(frame)  # the TypedDict reader the old path used
        if media is not None:
            ts, payload = media
            recorder.caller_audio(ts, binascii.a2b_base64(payload, strict_mode=True))
            actions = bridge.on_media(ts, payload)
        else:
            actions = bridge.on_twilio(twilio_media.decode(frame))
        for action in actions:
            if type(action) is AppendAudio:
                await _old_send(rt, '{"type":"input_audio_buffer.append","audio":"' + action.payload + '"}')


async def _old_reader_realtime(rt: _Stamped, tw: Connection, bridge: Bridge, recorder: Recorder) -> None:
    meter = LatencyMeter()
    while True:
        frame = await rt.recv()
        rt.arrivals.pop(0)
        event: Any = parse_server_event(frame)
        audio = binascii.a2b_base64(event.delta, strict_mode=True)
        for action in bridge.on_realtime(event):
            if type(action) is SendTwilio:
                message = action.message
                if isinstance(message, MediaOut):
                    recorder.agent_audio(bridge.clock_ms, audio)
                    text = twilio_media.encode(message, STREAM_SID)
                elif isinstance(message, MarkOut):
                    text = json.dumps(
                        {"event": "mark", "streamSid": STREAM_SID, "mark": {"name": message.name}}
                    )
                else:
                    continue
                await _old_send(tw, text)
                meter.agent_audio_sent(time.perf_counter_ns())


async def _run(kind: str, traffic: list[tuple[str, bytes]], home: Path) -> float:
    bridge = Bridge(BridgeConfig(_TD))
    recorder = Recorder(home / f"{kind}.wav")
    tasks: list[asyncio.Task[None]] = []
    if kind == "old":
        tw, rt = _open(_Stamped, SERVER), _open(_Stamped, CLIENT)
        tasks += [
            asyncio.ensure_future(_old_reader_twilio(tw, rt, bridge, recorder)),
            asyncio.ensure_future(_old_reader_realtime(rt, tw, bridge, recorder)),
        ]
    else:
        ftw: Any = type("_Tw", (FastPath,), {})
        tw, rt = _open(ftw, SERVER), _open(ftw, CLIENT)
        relay = Relay(
            tw, STREAM_SID, RealtimeClient(rt), bridge, recorder, LatencyMeter(),
            other=lambda action, t: None, finish=lambda *a, **k: None,
        )  # fmt: skip
        tw.attach(relay.twilio_now)
        rt.attach(relay.realtime_now)
    await asyncio.sleep(0)
    feed = {"tw": tw.data_received, "rt": rt.data_received}
    cpu0 = time.process_time()
    for to, data in traffic:
        feed[to](data)
        await asyncio.sleep(0)
    cpu = time.process_time() - cpu0
    for task in tasks:
        task.cancel()
    recorder.close()
    return cpu


def measure(seconds: int = 40, rounds: int = 3) -> dict[str, float]:
    """CPU ms per call-second of traffic, old and new path (best of ``rounds``), and the ratio."""
    traffic = _traffic(seconds)
    best = {"old": 1e9, "new": 1e9}
    with TemporaryDirectory() as home:
        for _ in range(rounds):
            for kind in ("old", "new"):
                cpu = asyncio.run(_run(kind, traffic, Path(home)))
                best[kind] = min(best[kind], cpu)
    old, new = 1000 * best["old"] / seconds, 1000 * best["new"] / seconds
    frames = 70  # messages in a call-second: 50 caller frames, 10 chunks, 10 marks
    return {
        "old_ms_per_call_s": round(old, 3),
        "new_ms_per_call_s": round(new, 3),
        "old_us_per_message": round(1000 * old / frames, 2),
        "new_us_per_message": round(1000 * new / frames, 2),
        "old_over_new": round(old / new, 2),
    }


if __name__ == "__main__":
    print(measure())
