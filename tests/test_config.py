from __future__ import annotations

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from switchboard.config import Settings
from switchboard.models import CallOutcome, Consent, Outcome, Speaker, Turn


def test_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TEMPORAL_ADDRESS", "AWS_ENDPOINT_URL", "SWITCHBOARD_REALTIME_URL", "TWILIO_API_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.temporal_address == "127.0.0.1:7233"
    assert s.aws_endpoint == "http://127.0.0.1:4566"
    assert s.realtime_url.startswith("ws://127.0.0.1:8765/v1/realtime")
    assert s.voice_task_queue == "voice-local"


def test_real_services_are_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "ns.acct.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "ns.acct")
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret-key")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "aws")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("SWITCHBOARD_REALTIME_URL", "wss://api.openai.com/v1/realtime?model=gpt-realtime")
    monkeypatch.setenv("SWITCHBOARD_PORT_VOICE", "9090")
    s = Settings()
    assert s.temporal_address == "ns.acct.tmprl.cloud:7233"
    assert s.temporal_namespace == "ns.acct"
    assert s.aws_endpoint is None and not s.is_local_aws
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-test"
    assert s.ports.voice == 9090
    assert "secret-key" not in repr(s)  # secrets never print


def test_models_round_trip_through_the_temporal_converter() -> None:
    outcome = CallOutcome(
        call_id="call-1",
        outcome=Outcome.COMPLETED,
        consent=Consent(recording=True, said="yes that's fine"),
        transcript=[Turn(speaker=Speaker.AGENT, text="Hi, I'm an AI assistant", start_ms=0, end_ms=1800)],
    )
    payloads = pydantic_data_converter.payload_converter.to_payloads([outcome])
    (back,) = pydantic_data_converter.payload_converter.from_payloads(payloads, [CallOutcome])
    assert back == outcome
