"""50 calls at once through one media server: every caller frame reaches the Realtime side, every
agent chunk reaches the caller (byte counts and CRCs compared end to end)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from infra.testing import isolated_settings
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice.conversation import ConversationResult, run_conversation
from voice.media_server import MediaServer, MediaStream

CALLS = 50


async def test_fifty_calls_at_once_drop_no_frame(tmp_path: Path) -> None:
    async with ToneRealtime(reply_ms=600) as tone_rt:
        settings = isolated_settings(tmp_path, realtime_url=tone_rt.url)
        results: list[ConversationResult] = []
        profile = make_profile()

        async def handler(stream: MediaStream) -> None:
            results.append(await run_conversation(stream, profile, RecordingHooks(), settings))

        async def caller(n: int) -> TwilioDriver:
            call_id = f"call-{n}"
            token = sign_stream_token(call_id, settings.stream_secret.get_secret_value())
            d = TwilioDriver(settings.public_voice_url, call_id=call_id, token=token)
            await d.connect()
            speech = tone(500, 150.0 + 7 * n, 12000)  # every caller says something different
            for _ in range(2):
                await d.play(speech)
                await d.silence(3000)  # room for the reply to arrive even on a loaded machine
            await d.hang_up()
            return d

        async with MediaServer(settings, handler=handler):
            drivers = await asyncio.wait_for(asyncio.gather(*(caller(n) for n in range(CALLS))), 120)
            for _ in range(200):
                if len(results) == CALLS:
                    break
                await asyncio.sleep(0.05)

    assert len(results) == CALLS and len(tone_rt.sessions) == CALLS
    assert {r.end_reason for r in results} == {"caller_hung_up"}
    assert sum(r.malformed_frames + r.realtime_errors for r in results) == 0
    sent = Counter((d.sent_bytes, d.sent_crc) for d in drivers)
    assert sent == Counter((s.in_bytes, s.in_crc) for s in tone_rt.sessions)  # every caller frame arrived
    heard = Counter((d.recv_bytes, d.recv_crc) for d in drivers)
    assert heard == Counter((s.out_bytes, s.out_crc) for s in tone_rt.sessions)  # every agent chunk arrived
    assert all(s.turns == 2 and s.out_bytes == 2 * 600 * 8 for s in tone_rt.sessions)
    assert sorted(r.frames_in for r in results) == sorted(d.chunk for d in drivers)
