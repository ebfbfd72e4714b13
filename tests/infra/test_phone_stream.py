"""Answered calls on Media Streams: a tiny agent stand-in (websockets server) ⇄ the simulated callee."""

from __future__ import annotations

import asyncio
import base64
import json
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest_asyncio
from twilio.request_validator import RequestValidator
from websockets.asyncio.server import ServerConnection, serve

from infra.phone.app import running_network
from infra.phone.callee import Callee
from infra.phone.client import twilio_client
from infra.phone.network import PhoneNetwork
from infra.phone.performer import tone
from infra.phone.script import CallerScript, parse_script
from infra.phone.sink import WebhookSink
from infra.stack import free_port
from infra.testing import isolated_settings
from switchboard.config import LOCAL_HOST, Settings
from voice.audio import mulaw_decode, rms_dbfs

AGENT_TONE = tone(440.0, 1000, -14.0)  # 1 s of "agent speech"


class AgentConn:
    """One media stream as the agent stand-in sees it: every message with its arrival time."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.stream_sid = ""
        self._arrived = asyncio.Condition()

    async def read(self) -> None:
        loop = asyncio.get_running_loop()
        async for raw in self.ws:
            message = json.loads(raw)
            async with self._arrived:
                self.messages.append((loop.time(), message))
                self._arrived.notify_all()

    def of(self, event: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m["event"] == event]

    async def until(self, predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
        async def wait() -> None:
            async with self._arrived:
                await self._arrived.wait_for(predicate)

        await asyncio.wait_for(wait(), timeout_s)

    async def start(self) -> dict[str, Any]:
        await self.until(lambda: bool(self.of("start")))
        start = self.of("start")[0]
        self.stream_sid = start["streamSid"]
        return start

    async def send(self, event: str, **body: Any) -> None:
        await self.ws.send(json.dumps({"event": event, "streamSid": self.stream_sid, **body}))

    async def media(self, audio: bytes) -> None:
        await self.send("media", media={"payload": base64.b64encode(audio).decode()})

    async def mark(self, name: str) -> None:
        await self.send("mark", mark={"name": name})

    def caller_audio(self) -> bytes:
        return b"".join(base64.b64decode(m["media"]["payload"]) for m in self.of("media"))


Behaviour = Callable[[AgentConn], Awaitable[None]]


class Agent:
    """A websockets server at /media-stream that runs ``behaviour`` for each stream."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.conns: list[AgentConn] = []
        self.headers: list[dict[str, str]] = []
        self.port = free_port()
        self.url = f"ws://{LOCAL_HOST}:{self.port}/media-stream"

    async def _handler(self, ws: ServerConnection) -> None:
        self.headers.append({k.lower(): v for k, v in ws.request.headers.raw_items()} if ws.request else {})
        conn = AgentConn(ws)
        self.conns.append(conn)
        reader = asyncio.create_task(conn.read())
        try:
            await self.behaviour(conn)
        finally:
            await ws.close()
            await reader

    def serve(self) -> Any:
        return serve(self._handler, LOCAL_HOST, self.port)


def stream_twiml(url: str, status_callback: str | None = None) -> str:
    cb = f' statusCallback="{status_callback}"' if status_callback else ""
    return (
        f'<Response><Connect><Stream url="{url}" name="agent"{cb}>'
        '<Parameter name="call_id" value="call-1"/><Parameter name="token" value="tok-1"/>'
        "</Stream></Connect></Response>"
    )


@pytest_asyncio.fixture
async def phone(tmp_path: Path) -> AsyncIterator[tuple[PhoneNetwork, Settings]]:
    settings = isolated_settings(tmp_path)
    async with running_network(settings, recordings_dir=tmp_path / "rec") as network:
        yield network, settings


async def call_with(
    phone: tuple[PhoneNetwork, Settings], agent: Agent, caller: CallerScript | None, **kwargs: Any
) -> str:
    network, settings = phone
    number = "+61255550131"
    network.register(number, Callee(ring_ms=10, script=caller, **kwargs))
    client = twilio_client(settings)
    sid = (
        kwargs.pop("sid", None)
        or (
            await asyncio.to_thread(
                client.calls.create, to=number, from_="+61255550100", twiml=stream_twiml(agent.url)
            )
        ).sid
    )
    assert sid is not None
    return sid


def events(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in result["timeline"] if e["kind"] == kind]


async def test_stream_protocol_pacing_marks_and_close(
    phone: tuple[PhoneNetwork, Settings], tmp_path: Path
) -> None:
    network, settings = phone
    sent_at: list[float] = []

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        sent_at.append(asyncio.get_running_loop().time())
        for i in range(5):  # 1 s of audio in 200 ms chunks, a mark after each
            await conn.media(AGENT_TONE[i * 1600 : (i + 1) * 1600])
            await conn.mark(f"m{i}")
        await conn.until(lambda: len(conn.of("mark")) == 5)
        await conn.until(lambda: len(conn.of("dtmf")) == 2)
        await asyncio.sleep(0.2)

    agent = Agent(behaviour)
    caller = parse_script({"steps": [{"pause": 100}, {"tone": {"ms": 300, "freq_hz": 700}}, {"dtmf": "12"}]})
    async with agent.serve():
        sid = await call_with(phone, agent, caller)
        result = await network.wait(sid, 30)

    conn = agent.conns[0]
    kinds = [m["event"] for _, m in conn.messages]
    assert kinds[:2] == ["connected", "start"] and "stop" not in kinds  # the agent closed; nothing follows
    assert conn.messages[0][1] == {
        "event": "connected",
        "protocol": "Call",
        "version": "1.0.0",
        "sequenceNumber": "1",
    }
    start = conn.of("start")[0]["start"]
    assert start["customParameters"] == {"call_id": "call-1", "token": "tok-1"}
    assert start["callSid"] == sid and start["accountSid"] == settings.twilio_account_sid
    assert start["streamSid"].startswith("MZ") and start["tracks"] == ["inbound"]
    assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    signature = agent.headers[0]["x-twilio-signature"]
    assert RequestValidator(settings.twilio_auth_token.get_secret_value()).validate(agent.url, {}, signature)

    # Every message numbered in order; media chunks 1..N, 20 ms timestamps, 160 bytes each.
    assert [int(m["sequenceNumber"]) for _, m in conn.messages] == list(range(1, len(conn.messages) + 1))
    media = conn.of("media")
    assert [int(m["media"]["chunk"]) for m in media] == list(range(1, len(media) + 1))
    assert [int(m["media"]["timestamp"]) for m in media] == [20 * i for i in range(len(media))]
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    # Real-time pace: frames never arrive ahead of the clock (load can only delay them).
    times = [t for t, m in conn.messages if m["event"] == "media"]
    assert len(media) >= 50
    assert all(t - times[0] >= 0.020 * k - 0.030 for k, t in enumerate(times))
    # The caller's tone starts after its 100 ms pause and lasts 300 ms; DTMF digits follow.
    loud = [rms_dbfs(mulaw_decode(base64.b64decode(m["media"]["payload"]))) > -30 for m in media]
    assert loud.index(True) in (5, 6) and sum(loud) in (15, 16)
    assert [d["dtmf"]["digit"] for d in conn.of("dtmf")] == ["1", "2"]

    # Marks come back in order, each only once the audio before it has played (real time).
    echoes = [(t, m["mark"]["name"]) for t, m in conn.messages if m["event"] == "mark"]
    assert [name for _, name in echoes] == ["m0", "m1", "m2", "m3", "m4"]
    assert echoes[-1][0] - sent_at[0] >= 0.95
    played = events(result, "mark_echoed")
    start_ms = events(result, "agent_audio_start")[0]["t_ms"]
    assert [e["t_ms"] - start_ms for e in played] == [200, 400, 600, 800, 1000]
    assert not any(e["detail"]["flushed"] for e in played)
    assert result["heard_audio_ms"] == 1000
    assert events(result, "agent_audio_stop")[0]["t_ms"] == start_ms + 1000
    assert [e["detail"]["digit"] for e in events(result, "dtmf")] == ["1", "2"]
    speech = events(result, "caller_speech_start")[0]["t_ms"], events(result, "caller_speech_stop")[0]["t_ms"]
    assert speech[1] - speech[0] == 300

    # The agent closed the socket: the call completed.
    assert result["status"] == "completed" and result["ended_by"] == "agent"
    assert result["streams"][0]["ended_by"] == "agent"
    with wave.open(result["wav_path"]) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    heard = pcm[start_ms * 8 : (start_ms + 1000) * 8, 0]
    assert rms_dbfs(heard) > -20 and rms_dbfs(pcm[(start_ms + 1100) * 8 :, 0]) < -60


async def test_clear_flushes_audio_and_echoes_pending_marks_at_once(
    phone: tuple[PhoneNetwork, Settings],
) -> None:
    network, _ = phone

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        for name in ("a", "b", "c"):
            await conn.media(AGENT_TONE)
            await conn.mark(name)
        await asyncio.sleep(0.2)
        await conn.send("clear")
        await conn.until(lambda: len(conn.of("mark")) == 3)
        await conn.media(AGENT_TONE[:800])  # 100 ms more, after the clear
        await conn.mark("after")
        await conn.until(lambda: len(conn.of("mark")) == 4)

    agent = Agent(behaviour)
    async with agent.serve():
        sid = await call_with(phone, agent, None)
        result = await network.wait(sid, 30)

    assert [m["mark"]["name"] for m in agent.conns[0].of("mark")] == ["a", "b", "c", "after"]
    (clear,) = events(result, "clear")
    echoed = events(result, "mark_echoed")
    assert [(e["detail"]["name"], e["detail"]["flushed"]) for e in echoed] == [
        ("a", True),
        ("b", True),
        ("c", True),
        ("after", False),
    ]
    assert all(e["t_ms"] == clear["t_ms"] for e in echoed[:3])
    assert clear["detail"]["marks_flushed"] == 3 and clear["detail"]["dropped_ms"] > 1500
    assert result["heard_audio_ms"] < 1000 + 100  # "a" never finished playing
    stops = events(result, "agent_audio_stop")
    assert stops[0]["detail"]["cleared"] is True


async def test_rest_transfer_and_hangup_stop_the_stream(
    phone: tuple[PhoneNetwork, Settings], tmp_path: Path
) -> None:
    network, settings = phone
    client = twilio_client(settings)

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        await conn.until(lambda: bool(conn.of("stop")))

    agent = Agent(behaviour)
    async with WebhookSink() as sink, agent.serve():
        number = "+61255550132"
        network.register(number, Callee(ring_ms=10))
        twiml = stream_twiml(agent.url, status_callback=sink.url("/stream"))
        transfer = await asyncio.to_thread(client.calls.create, to=number, from_="+61255550100", twiml=twiml)
        hangup = await asyncio.to_thread(client.calls.create, to=number, from_="+61255550100", twiml=twiml)
        await asyncio.wait_for(
            _until(lambda: len(agent.conns) == 2 and all(c.stream_sid for c in agent.conns)), 20
        )
        dial = "<Response><Dial><Number>+61255550199</Number></Dial></Response>"
        await asyncio.to_thread(client.calls(transfer.sid).update, twiml=dial)
        await asyncio.to_thread(client.calls(hangup.sid).update, status="completed")
        moved = await network.wait(str(transfer.sid), 20)
        ended = await network.wait(str(hangup.sid), 20)

    assert moved["transferred_to"] == "+61255550199" and moved["status"] == "completed"
    assert moved["streams"][0]["reason"] == "redirect"
    assert ended["ended_by"] == "network" and ended["streams"][0]["reason"] == "hangup"
    for conn in agent.conns:
        (stop,) = conn.of("stop")
        assert stop["stop"]["callSid"] in (transfer.sid, hangup.sid)
    by_call = {
        r.params["CallSid"]: [
            x.params["StreamEvent"] for x in sink.on("/stream") if x.params["CallSid"] == r.params["CallSid"]
        ]
        for r in sink.on("/stream")
    }
    assert by_call == {
        transfer.sid: ["stream-started", "stream-stopped"],
        hangup.sid: ["stream-started", "stream-stopped"],
    }
    assert all(r.valid(settings.twilio_auth_token.get_secret_value()) for r in sink.received)


async def test_caller_hangs_up_mid_call_and_unreachable_stream(phone: tuple[PhoneNetwork, Settings]) -> None:
    network, settings = phone

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        await conn.until(lambda: bool(conn.of("stop")))

    agent = Agent(behaviour)
    async with agent.serve():
        sid = await call_with(phone, agent, None, hangup_after_ms=600)
        result = await network.wait(sid, 20)
    assert result["ended_by"] == "caller" and result["streams"][0]["reason"] == "hangup_after"
    assert len(agent.conns[0].of("stop")) == 1
    assert 20 <= len(agent.conns[0].of("media")) <= 40

    nobody = f"ws://{LOCAL_HOST}:{free_port()}/media-stream"
    client = twilio_client(settings)
    call = await asyncio.to_thread(
        client.calls.create, to="+61255550133", from_="+61255550100", twiml=stream_twiml(nobody)
    )
    failed = await network.wait(str(call.sid), 20)
    assert failed["status"] == "completed" and failed["streams"][0]["ended_by"] == "error"
    assert [e["kind"] for e in failed["events"]].count("stream_error") == 1


async def _until(predicate: Callable[[], bool]) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError


async def test_background_noise_under_everything_the_caller_sends(
    phone: tuple[PhoneNetwork, Settings],
) -> None:
    network, _ = phone

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        await conn.until(lambda: len(conn.of("media")) >= 40)

    agent = Agent(behaviour)
    caller = parse_script(
        {"noise": {"type": "pink", "level_dbfs": -40, "seed": 3}, "steps": [{"pause": 300}, {"noise": "off"}]}
    )
    async with agent.serve():
        sid = await call_with(phone, agent, caller)
        await network.wait(sid, 20)
    frames = [mulaw_decode(base64.b64decode(m["media"]["payload"])) for m in agent.conns[0].of("media")]
    assert -43 < rms_dbfs(np.concatenate(frames[:14])) < -37  # the noise bed while the caller waits
    assert rms_dbfs(np.concatenate(frames[17:40])) == float("-inf")  # switched off: digital silence
