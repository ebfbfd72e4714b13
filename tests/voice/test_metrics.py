"""The voice worker's metrics: what each report adds, the labels they may carry, and ``/metrics`` on
the media server over a real socket with a real conversation through it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from infra.testing import isolated_settings
from switchboard.config import Settings
from switchboard.models import LatencySlices
from switchboard.tokens import sign_stream_token
from tests.voice.tone_realtime import ToneRealtime, tone
from tests.voice.twilio_driver import RecordingHooks, TwilioDriver, make_profile
from voice.conversation import ConversationResult, run_conversation
from voice.latency import LatencyMeter
from voice.media_server import MediaServer, MediaStream
from voice.metrics import METRIC_NAMES, SLICE_BUCKETS, VoiceMetrics, label_value

SPEECH = tone(600, 220.0, 12000)


def value(m: VoiceMetrics, name: str, **labels: str) -> float:
    return m.registry.get_sample_value(name, labels) or 0.0


def test_labels_are_short_identifiers_never_free_text() -> None:
    assert label_value("clinic_booking") == "clinic_booking"
    assert label_value("after-hours-intake") == "after-hours-intake"
    for personal in (
        "+61412345678",
        "Jane Citizen",
        "call-CA0123456789abcdef0123456789abcdef0",
        "",
        "x" * 49,
    ):
        assert label_value(personal) == "other", personal


def test_every_slice_of_the_budget_has_a_histogram_with_the_budget_on_a_bucket_edge() -> None:
    assert {f"{name}_ms" for name in SLICE_BUCKETS} == set(LatencySlices.model_fields)
    assert 0.7 in SLICE_BUCKETS["turn_to_first_audio"] and 0.2 in SLICE_BUCKETS["barge_in_to_clear"]
    for name in SLICE_BUCKETS:
        assert f"switchboard_voice_{name}_seconds_bucket" in METRIC_NAMES


def test_the_meter_reports_each_slice_as_it_is_measured_in_seconds_by_profile() -> None:
    m = VoiceMetrics(process=False)
    meter = LatencyMeter(m.slice_sink("clinic"))
    meter.speech_stopped(0)
    meter.agent_audio_sent(650_000_000)  # 650 ms
    meter.clear_sent(1_000_000_000, 1_050_000_000)  # 50 ms
    assert meter.slices.turn_to_first_audio_ms == [650.0]
    name = "switchboard_voice_turn_to_first_audio_seconds"
    assert value(m, f"{name}_count", profile="clinic") == 1
    assert value(m, f"{name}_sum", profile="clinic") == pytest.approx(0.65)
    assert value(m, f"{name}_bucket", profile="clinic", le="0.6") == 0
    assert value(m, f"{name}_bucket", profile="clinic", le="0.7") == 1
    assert value(m, "switchboard_voice_barge_in_to_clear_seconds_count", profile="clinic") == 1


def test_events_tools_streams_and_a_calls_totals() -> None:
    m = VoiceMetrics(process=False)
    m.event("clinic", "barge_in")
    m.event("clinic", "realtime_dropped")
    m.event("clinic", "realtime_reconnected")
    m.event("clinic", "turn_started")  # not a metric: ignored
    m.tool_result("clinic", "book_appointment", "ok")
    m.tool_result("clinic", "book_appointment", "rejected")
    m.stream_accepted()
    m.stream_refused("bad_token")
    m.stream_refused("something new")
    m.recording_shipped(1234)
    result = ConversationResult(
        call_id="call-1", end_reason="agent_ended", frames_in=500, frames_out=400, malformed_frames=2,
        realtime_errors=1,
    )  # fmt: skip
    m.call_ended("clinic", result)
    assert value(m, "switchboard_voice_barge_ins_total", profile="clinic") == 1
    assert value(m, "switchboard_voice_realtime_sessions_total", profile="clinic", event="dropped") == 1
    assert value(m, "switchboard_voice_realtime_sessions_total", profile="clinic", event="reconnected") == 1
    tools = "switchboard_voice_tool_calls_total"
    assert value(m, tools, profile="clinic", tool="book_appointment", result="ok") == 1
    assert value(m, tools, profile="clinic", tool="book_appointment", result="rejected") == 1
    assert value(m, "switchboard_voice_streams_accepted_total") == 1
    assert value(m, "switchboard_voice_streams_refused_total", reason="bad_token") == 1
    assert value(m, "switchboard_voice_streams_refused_total", reason="other") == 1
    assert value(m, "switchboard_voice_recording_bytes_total") == 1234
    assert value(m, "switchboard_voice_calls_total", profile="clinic", end_reason="agent_ended") == 1
    assert value(m, "switchboard_voice_frames_total", direction="in") == 500
    assert value(m, "switchboard_voice_frames_total", direction="out") == 400
    assert value(m, "switchboard_voice_malformed_frames_total") == 2
    assert value(m, "switchboard_voice_realtime_errors_total", profile="clinic") == 1


def test_every_exposed_name_is_listed() -> None:
    m = VoiceMetrics(process=False)
    m.slice_sink("clinic")("tool_round_trip_ms", 120.0)
    m.event("clinic", "barge_in")
    m.tool_result("clinic", "end_call", "ok")
    m.call_ended("clinic", ConversationResult(call_id="c", end_reason="caller_hung_up", realtime_errors=1))
    exposed = {s.name for f in text_string_to_metric_families(m.exposition().decode()) for s in f.samples}
    assert exposed <= METRIC_NAMES, exposed - METRIC_NAMES


async def test_loop_lag_is_observed() -> None:
    m = VoiceMetrics(process=False)
    watcher = asyncio.create_task(m.watch_loop_lag(every_s=0.01))
    await asyncio.sleep(0.05)
    time.sleep(0.03)  # noqa: ASYNC251 (the loop is held on purpose: the next wake-up is late)
    await asyncio.sleep(0.05)
    watcher.cancel()
    assert value(m, "switchboard_voice_loop_lag_seconds_count") >= 3
    assert value(m, "switchboard_voice_loop_lag_seconds_bucket", le="0.01") < value(
        m, "switchboard_voice_loop_lag_seconds_count"
    )


@pytest_asyncio.fixture
async def tone_rt() -> AsyncIterator[ToneRealtime]:
    async with ToneRealtime(reply_ms=600, tools={2: ("end_call", {})}) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, tone_rt: ToneRealtime) -> Settings:
    return isolated_settings(tmp_path, realtime_url=tone_rt.url)


async def test_metrics_page_counts_streams_and_shows_a_conversations_latency(settings: Settings) -> None:
    m = VoiceMetrics()
    done = asyncio.Event()

    async def converse(stream: MediaStream) -> None:
        m.live_calls.inc()
        try:
            result = await run_conversation(
                stream, make_profile("end_call"), RecordingHooks(), settings, on_slice=m.slice_sink("test")
            )
        finally:
            m.live_calls.dec()
        m.call_ended("test", result)
        done.set()

    url = f"http://127.0.0.1:{settings.ports.voice}/metrics"
    secret = settings.stream_secret.get_secret_value()
    async with MediaServer(settings, handler=converse, metrics=m), httpx.AsyncClient() as http:
        refused = TwilioDriver(settings.public_voice_url, call_id="call-2", token="123.abc")
        await refused.connect()
        await refused.wait_closed(10)
        d = TwilioDriver(
            settings.public_voice_url, call_id="call-1", token=sign_stream_token("call-1", secret)
        )
        await d.connect()
        await d.silence(100)
        await d.play(SPEECH)
        await d.silence(1500)  # the agent answers with a tone
        during = await http.get(url)
        await d.hang_up()
        await asyncio.wait_for(done.wait(), 20)
        after = (await http.get(url)).text
    assert during.status_code == 200 and during.headers["content-type"].startswith("text/plain")
    assert "switchboard_voice_live_calls 1.0" in during.text
    assert 'switchboard_voice_streams_refused_total{reason="bad_token"} 1.0' in during.text
    assert "switchboard_voice_streams_accepted_total 1.0" in during.text
    assert 'switchboard_voice_turn_to_first_audio_seconds_count{profile="test"} 1.0' in after
    assert "switchboard_voice_live_calls 0.0" in after
    assert "process_cpu_seconds_total" in after
    assert "call-1" not in after and "call-2" not in after


def test_an_ended_calls_tokens_and_their_cost_are_counted() -> None:
    from switchboard.costs import PriceTable, TokenUsage

    m = VoiceMetrics(process=False)
    usage = TokenUsage(responses=3, input_audio=1000, cached_audio=400, output_audio=500)
    m.call_ended(
        "clinic", ConversationResult(call_id="c", end_reason="agent_ended", usage=usage), PriceTable()
    )
    text = m.exposition().decode()
    assert 'switchboard_voice_realtime_tokens_total{kind="input_audio",profile="clinic"} 1000.0' in text
    assert 'switchboard_voice_realtime_tokens_total{kind="output_audio",profile="clinic"} 500.0' in text
    # 600 uncached audio in at $32/M, 400 cached at $0.40/M, 500 out at $64/M = $0.05136
    assert 'switchboard_voice_model_cost_usd_total{profile="clinic"} 0.05136' in text
