"""Barge-in, truncation, manual commit and the one-active-response rule, over a real socket."""

from __future__ import annotations

import asyncio
import base64

from switchboard.config import Settings
from tests.infra.realtime_helpers import (
    caller_turn,
    open_client,
    speech,
    stream,
    telephone_session,
)

LONG_LINE = (
    "Thanks for calling the repair shop. Our workshop is open from eight in the morning until six "
    "in the evening, Monday to Saturday. You can drop off a device at any time during those hours."
)


async def test_caller_speech_cancels_the_response_and_truncate_is_honoured(
    engine_url: str,
    tts_settings: Settings,
) -> None:
    interruption = await speech(tts_settings.tts_url, "Sorry, can I ask something else?")
    client = await open_client(engine_url, "latency_ms=0")
    try:
        await client.send({"type": "session.update", "session": telephone_session()})
        await client.next("session.updated")
        await client.send(
            {"type": "response.create", "response": {"instructions": f'Say exactly: "{LONG_LINE}"'}}
        )
        first = await client.next("response.output_audio.delta")
        item_id, response_id = first["item_id"], first["response_id"]
        await asyncio.sleep(0.4)  # the caller talks over the agent 400 ms in
        feeding = asyncio.create_task(stream(client, caller_turn(interruption, lead_ms=0, tail_ms=900)))

        started = await client.next("input_audio_buffer.speech_started")
        done = await client.next("response.done")
        assert done["response"]["id"] == response_id
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "turn_detected"
        assert done["response"]["output"][0]["status"] == "incomplete"
        # Cancelled at detection: no audio of that response after speech_started, and it closed
        # before the caller's turn ended.
        after = client.events[client.events.index(started) :]
        assert not [
            e for e in after if e["type"] == "response.output_audio.delta" and e["response_id"] == response_id
        ]
        stopped = await client.next("input_audio_buffer.speech_stopped")
        assert client.events.index(done) < client.events.index(stopped)
        await feeding

        sent_ms = sum(
            len(base64.b64decode(e["delta"])) / 8
            for e in client.of("response.output_audio.delta")
            if e["response_id"] == response_id
        )
        assert 400 <= sent_ms < 6000  # real-time pacing: only the first part was ever sent
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 400,
            }
        )
        truncated = await client.next("conversation.item.truncated")
        assert truncated["audio_end_ms"] == 400
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        item = (await client.next("conversation.item.retrieved"))["item"]
        heard = item["content"][0]["transcript"]
        assert LONG_LINE.startswith(heard) and len(heard) < len(LONG_LINE) / 2

        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 60000,
            }
        )
        error = (await client.next("error"))["error"]
        assert error["message"] == "Audio content of 400ms is already shorter than 60000ms"
        assert error["type"] == "invalid_request_error"
    finally:
        await client.close()


async def test_manual_commit_and_one_active_response(engine_url: str, tts_settings: Settings) -> None:
    said = await speech(tts_settings.tts_url, "Hello, I need some help.")
    client = await open_client(engine_url)
    try:
        await client.send({"type": "session.update", "session": telephone_session()})
        await client.next("session.updated")
        session = telephone_session()
        session["audio"]["input"]["turn_detection"] = None
        await client.send({"type": "session.update", "session": session})
        updated = await client.next("session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"] is None

        await client.send({"type": "input_audio_buffer.commit"})
        error = (await client.next("error"))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["message"].endswith("but buffer only has 0.00ms of audio.")

        await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(said).decode()})
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.next("input_audio_buffer.committed")
        transcript = await client.next("conversation.item.input_audio_transcription.completed")
        assert transcript["item_id"] == committed["item_id"] and "help" in transcript["transcript"].lower()
        assert not client.of("input_audio_buffer.speech_started")  # no VAD in manual mode
        assert not client.of("response.created")  # and no automatic response

        await client.send({"type": "response.create"})
        created = await client.next("response.created")
        await client.send({"type": "response.create"})
        busy = (await client.next("error"))["error"]
        assert busy["code"] == "conversation_already_has_active_response"
        assert created["response"]["id"] in busy["message"]
        await client.send({"type": "response.cancel"})
        done = await client.next("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"
        await client.send({"type": "response.cancel", "event_id": "evt_client_1"})
        late = (await client.next("error"))["error"]
        assert late["code"] == "response_cancel_not_active" and late["event_id"] == "evt_client_1"

        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(said[:800]).decode()}
        )
        await client.send({"type": "input_audio_buffer.clear"})
        await client.next("input_audio_buffer.cleared")
        await client.send({"type": "input_audio_buffer.commit"})
        assert (await client.next("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
    finally:
        await client.close()


async def test_semantic_vad_eagerness_sets_the_pause(engine_url: str, tts_settings: Settings) -> None:
    said = await speech(tts_settings.tts_url, "Yes please.")
    client = await open_client(engine_url, "latency_ms=0")
    try:
        session = telephone_session()
        session["audio"]["input"]["turn_detection"] = {
            "type": "semantic_vad",
            "eagerness": "high",
            "create_response": False,
        }
        await client.send({"type": "session.update", "session": session})
        updated = await client.next("session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["eagerness"] == "high"
        await stream(client, caller_turn(said, lead_ms=200, tail_ms=700))
        started = await client.next("input_audio_buffer.speech_started")
        stopped = await client.next("input_audio_buffer.speech_stopped")
        assert stopped["audio_end_ms"] - started["audio_start_ms"] < len(said) // 8 + 300 + 250 + 200
        await client.next("input_audio_buffer.committed")
        await asyncio.sleep(0.3)
        assert not client.of("response.created")  # create_response: false
    finally:
        await client.close()
