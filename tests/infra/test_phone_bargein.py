"""A caller who talks over the agent (Piper TTS speech) and hears it stop: the barge-in measurement."""

from __future__ import annotations

import asyncio
import base64
import wave
from pathlib import Path

import numpy as np

from infra.phone.app import running_network
from infra.phone.callee import Callee
from infra.phone.client import twilio_client
from infra.phone.performer import tone
from infra.phone.script import parse_script
from infra.speech.tts import Synthesizer
from infra.testing import isolated_settings
from switchboard.config import Settings
from tests.infra.test_phone_stream import Agent, AgentConn, events, stream_twiml
from voice.audio import mulaw_decode, rms_dbfs

SPEECH_DBFS = -35.0


def loud_frames(conn: AgentConn) -> list[bool]:
    return [
        rms_dbfs(mulaw_decode(base64.b64decode(m["media"]["payload"]))) > SPEECH_DBFS
        for m in conn.of("media")
    ]


def caller_done(conn: AgentConn, quiet_frames: int = 30) -> bool:
    loud = loud_frames(conn)
    return True in loud and len(loud) - (len(loud) - loud[::-1].index(True)) >= quiet_frames


async def test_caller_barges_in_and_hears_the_agent_stop(tts_settings: Settings, tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    speech = Synthesizer(tts_settings.tts_url)
    agent_speech = tone(300.0, 4000, -16.0)

    async def behaviour(conn: AgentConn) -> None:
        await conn.start()
        for i in range(40):  # 4 s of agent speech, a mark every 100 ms
            await conn.media(agent_speech[i * 800 : (i + 1) * 800])
            await conn.mark(f"p{i}")
        await conn.until(lambda: True in loud_frames(conn))  # the caller started talking
        await conn.send("clear")
        await conn.until(lambda: caller_done(conn))
        await conn.media(agent_speech[:4800])  # a 600 ms reply
        await conn.mark("reply")
        await conn.until(lambda: bool(conn.of("stop")))

    caller = parse_script(
        {
            "steps": [
                {"say": {"text": "Sorry, can I stop you there?", "barge_in_after_ms": 500}},
                {"wait_for_agent": {"silence_ms": 400, "timeout_ms": 10000}},
                "hangup",
            ]
        }
    )
    agent = Agent(behaviour)
    try:
        async with (
            running_network(settings, speech=speech, recordings_dir=tmp_path / "rec") as network,
            agent.serve(),
        ):
            network.register("+61255550141", Callee(ring_ms=10, script=caller))
            client = twilio_client(settings)
            call = await asyncio.to_thread(
                client.calls.create, to="+61255550141", from_="+61255550100", twiml=stream_twiml(agent.url)
            )
            result = await network.wait(str(call.sid), 60)
    finally:
        await speech.aclose()

    agent_start = events(result, "agent_audio_start")[0]["t_ms"]
    onset = events(result, "caller_speech_start")[0]["t_ms"]
    assert 500 <= onset - agent_start <= 560  # barge_in_after_ms on the stream clock
    (barge_in,) = result["barge_ins"]
    assert barge_in["onset_ms"] == onset and barge_in["cleared"] is True
    assert 0 < barge_in["latency_ms"] < 1000
    kinds = [e["kind"] for e in result["timeline"]]
    assert kinds.index("agent_audio_start") < kinds.index("caller_speech_start") < kinds.index("clear")
    flushed = [e for e in events(result, "mark_echoed") if e["detail"]["flushed"]]
    assert len(flushed) > 25  # most of the 4 s was still queued
    # The agent's reply was heard after the caller finished; then the caller waited its turn and hung up.
    assert len(events(result, "agent_audio_start")) == 2
    assert events(result, "agent_audio_start")[1]["t_ms"] > events(result, "caller_speech_stop")[0]["t_ms"]
    assert result["ended_by"] == "caller" and len(agent.conns[0].of("stop")) == 1
    assert (
        500 + barge_in["latency_ms"] - 40
        <= result["heard_audio_ms"] - 600
        <= 500 + barge_in["latency_ms"] + 40
    )

    with wave.open(result["wav_path"]) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    stop_ms = barge_in["last_agent_frame_ms"]
    assert rms_dbfs(pcm[agent_start * 8 : stop_ms * 8, 0]) > -25  # heard the agent until it stopped
    reply_ms = events(result, "agent_audio_start")[1]["t_ms"]
    assert rms_dbfs(pcm[(stop_ms + 20) * 8 : reply_ms * 8, 0]) < -60  # then silence
    said = pcm[:, 1]
    assert rms_dbfs(said[onset * 8 : (onset + 1000) * 8]) > -35  # real speech from Piper
    assert rms_dbfs(said[: onset * 8]) < -60
