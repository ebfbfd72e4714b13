"""The engine over a real socket, on Piper speech: a caller turn, a tool call, a spoken answer."""

from __future__ import annotations

import base64
import json

import numpy as np

from switchboard.config import Settings
from tests.infra.realtime_helpers import (
    JOB_TOOL,
    RtClient,
    caller_turn,
    open_client,
    speech,
    stream,
    telephone_session,
    words,
)
from voice.audio import mulaw_decode, rms_dbfs

SCRIPT = "What's the status of job four one seven two?"


async def _configure(client: RtClient, session: dict) -> dict:
    await client.send({"type": "session.update", "session": session})
    return await client.next("session.updated")


async def test_scripted_caller_turn_gets_a_tool_call_and_a_spoken_answer(
    engine_url: str,
    tts_settings: Settings,
) -> None:
    client = await open_client(engine_url, "latency_ms=0")
    try:
        updated = await _configure(client, telephone_session([JOB_TOOL]))
        assert updated["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert updated["session"]["tools"][0]["name"] == "get_job_status"

        audio = await speech(tts_settings.tts_url, SCRIPT)
        await stream(client, caller_turn(audio, lead_ms=500, tail_ms=1500))

        started = await client.next("input_audio_buffer.speech_started")
        stopped = await client.next("input_audio_buffer.speech_stopped")
        loud = np.flatnonzero(np.abs(mulaw_decode(audio).astype(np.int32)) > 300)
        onset_ms, end_ms = 500 + loud[0] // 8, 500 + loud[-1] // 8
        # On the input clock: speech_started includes the 300 ms prefix padding before the onset,
        # and the turn ends after the speech plus the 500 ms of silence that closes it.
        assert onset_ms - 300 - 100 <= started["audio_start_ms"] <= onset_ms - 300 + 300
        assert end_ms + 500 - 100 <= stopped["audio_end_ms"] <= end_ms + 500 + 400
        assert stopped["item_id"] == started["item_id"]
        committed = await client.next("input_audio_buffer.committed")
        assert committed["item_id"] == started["item_id"]

        transcript = await client.next("conversation.item.input_audio_transcription.completed")
        said = words(transcript["transcript"].replace("4172", "four one seven two"))
        assert len(set(words(SCRIPT)) ^ set(said)) <= 2, transcript["transcript"]  # within one word

        args_done = await client.next("response.function_call_arguments.done")
        assert args_done["name"] == "get_job_status"
        assert json.loads(args_done["arguments"]) == {"job_id": "4172"}
        first = await client.next("response.done")
        assert first["response"]["status"] == "completed"
        assert first["response"]["output"][0]["type"] == "function_call"

        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": args_done["call_id"],
                    "output": json.dumps({"status": "ready for pickup"}),
                },
            }
        )
        await client.send({"type": "response.create"})
        answer = await client.next("response.done")
        assert answer["response"]["status"] == "completed"
        assert not client.of("error")
        assert answer["response"]["usage"]["output_token_details"]["audio_tokens"] > 0
        spoken = answer["response"]["output"][0]["content"][0]["transcript"]
        assert "ready for pickup" in spoken
        deltas = [
            e
            for e in client.of("response.output_audio.delta")
            if e["response_id"] == answer["response"]["id"]
        ]
        audio_back = b"".join(base64.b64decode(e["delta"]) for e in deltas)
        assert len(audio_back) / 8 > 1000  # over a second of speech
        assert rms_dbfs(mulaw_decode(audio_back)) > -30
        kinds = [e["type"] for e in client.events if e.get("response_id") == answer["response"]["id"]]
        assert kinds.index("response.output_audio_transcript.done") > kinds.index(
            "response.output_audio.done"
        )
    finally:
        await client.close()


async def test_say_exactly_speaks_the_line_and_nothing_else(engine_url: str) -> None:
    client = await open_client(engine_url, "latency_ms=0")
    try:
        await _configure(client, telephone_session([JOB_TOOL]))
        line = "Hi, this is the repair shop's AI assistant. May I record this call?"
        await client.send(
            {
                "type": "response.create",
                "response": {"instructions": f"Greet the caller. Say exactly: “{line}”"},
            }
        )
        done = await client.next("response.done")
        assert done["response"]["output"][0]["content"][0]["transcript"] == line
        assert client.of("response.output_audio_transcript.done")[-1]["transcript"] == line
        sizes = {len(base64.b64decode(e["delta"])) for e in client.of("response.output_audio.delta")}
        assert max(sizes) == 400  # 50 ms of μ-law per delta by default
    finally:
        await client.close()


async def test_pcm_output_and_text_modality(engine_url: str) -> None:
    client = await open_client(engine_url, "latency_ms=0&chunk_ms=100")
    try:
        await client.send({"type": "session.update", "session": {"type": "realtime"}})  # defaults: pcm 24 kHz
        updated = await client.next("session.updated")
        assert updated["session"]["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
        await client.send(
            {"type": "response.create", "response": {"instructions": 'Say exactly: "One moment."'}}
        )
        await client.next("response.done")
        chunks = [base64.b64decode(e["delta"]) for e in client.of("response.output_audio.delta")]
        assert all(len(c) % 2 == 0 for c in chunks) and len(chunks[0]) == 4800  # 100 ms at 48 bytes/ms
        await client.send(
            {
                "type": "response.create",
                "response": {"output_modalities": ["text"], "instructions": 'Say exactly: "Noted."'},
            }
        )
        text_done = await client.next("response.output_text.done")
        assert text_done["text"] == "Noted."
    finally:
        await client.close()
