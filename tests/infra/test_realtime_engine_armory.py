"""Sans-I/O parts of the session cap and the armed plans: options, wording, FIFO, the routes."""

from __future__ import annotations

import http
import json
from typing import Any

import pytest
from openai.types.realtime import RealtimeErrorEvent
from websockets.datastructures import Headers
from websockets.http11 import Request

from infra.realtime_engine import armory, errors, faults
from infra.realtime_engine.control import control_url


def test_options_layer_env_then_url_then_plan() -> None:
    assert faults.parse({}, env={}).max_session_s == 3600  # OpenAI's 60 minutes
    env = {"SWITCHBOARD_ENGINE_MAX_SESSION_S": "120", "SWITCHBOARD_ENGINE_FAULT": "delay:5"}
    from_env = faults.parse({}, env=env)
    assert (from_env.max_session_s, from_env.delay_ms) == (120, 5)
    from_url = faults.parse({"max_session_s": "2", "fault": "drop_at_ms:700,close_at_ms:900"}, env=env)
    assert (from_url.max_session_s, from_url.drop_at_ms, from_url.close_at_ms) == (2, 700, 900)
    planned = faults.apply(from_url, faults.overrides({"fault": "drop_after:3"}))
    assert (planned.drop_after, planned.drop_at_ms, planned.max_session_s) == (3, 700, 2)
    with pytest.raises(errors.EngineError, match="between 1 and 86400"):
        faults.parse({"max_session_s": "0"}, env={})


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(3600, "60 minutes"), (60, "1 minute"), (120, "2 minutes"), (90, "90 seconds"), (1, "1 second")],
)
def test_session_expired_is_worded_like_openai(seconds: int, words: str) -> None:
    exc = errors.session_expired(seconds)
    message = f"Your session hit the maximum duration of {words}."
    event = {"type": "error", "event_id": "event_x", "error": exc.payload(None)}
    assert event["error"] == {
        "type": "invalid_request_error",
        "code": "session_expired",
        "message": message,
        "param": None,
        "event_id": None,
    }
    RealtimeErrorEvent.model_validate(event, strict=True)
    assert (exc.fatal, exc.close_code, exc.close_reason) == (True, 1001, message)


def test_plans_are_taken_oldest_first_for_exactly_their_connections() -> None:
    arms = armory.Armory()
    first = arms.arm(refuse=False, options={"drop_after": 3}, connections=2)
    second = arms.arm(refuse=True, options={}, connections=1)
    assert [p["left"] for p in arms.public()] == [2, 1]
    assert [arms.take(), arms.take(), arms.take(), arms.take()] == [first, first, second, None]
    assert arms.public() == []
    arms.arm(refuse=True, options={}, connections=5)
    assert arms.reset() == 1 and arms.take() is None


def _route(arms: armory.Armory, path: str, method: str = "POST") -> tuple[int, dict[str, Any]]:
    response = armory.handle(arms, Request(path=path, headers=Headers(), method=method))
    return response.status_code, json.loads(response.body)


def test_control_routes() -> None:
    arms = armory.Armory()
    status, body = _route(arms, "/control/arm?fault=drop_at_ms:1500&connections=2")
    assert status == 200
    assert body["plan"] == {
        "id": 1,
        "refuse": False,
        "options": {"drop_at_ms": 1500},
        "connections": 2,
        "left": 2,
    }
    assert _route(arms, "/control/arm?refuse=true")[1]["plan"]["refuse"] is True
    assert _route(arms, "/control/arm?max_session_s=60")[1]["plan"]["options"] == {"max_session_s": 60}
    status, body = _route(arms, "/control/armed", "GET")
    assert status == 200 and [p["id"] for p in body["armed"]] == [1, 2, 3]
    assert _route(arms, "/control/reset") == (200, {"cleared": 3, "armed": []})

    wrong_method = armory.handle(arms, Request(path="/control/arm", headers=Headers(), method="GET"))
    assert wrong_method.status_code == http.HTTPStatus.METHOD_NOT_ALLOWED
    assert wrong_method.headers["Allow"] == "POST"
    assert _route(arms, "/control/fire")[0] == 404


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("fault=explode:1", "unknown fault 'explode'"),
        ("fault=drop_after:x", "expected an integer"),
        ("fault=drop_after:1&connections=0", "'connections': must be between 1 and 10000"),
        ("max_session_s=0", "'max_session_s': must be between 1 and 86400"),
        ("refuse=maybe", "expected true or false"),
        ("refuse=true&fault=drop_after:1", "a refused connection never opens"),
        ("connections=2", "nothing to arm"),
        ("fualt=drop_after:1", "Unknown parameter: 'fualt'"),
        ("fault=drop_after:1&fault=close_after:1", "each parameter may be given once"),
    ],
)
def test_bad_arming_is_a_400_with_the_reason(query: str, reason: str) -> None:
    arms = armory.Armory()
    status, body = _route(arms, f"/control/arm?{query}")
    assert status == 400
    assert reason in body["error"]["message"]
    assert arms.public() == []  # nothing armed by a bad request


def test_control_url_from_either_engine_url() -> None:
    assert control_url("ws://127.0.0.1:8765/v1/realtime") == "http://127.0.0.1:8765/control"
    assert control_url("http://127.0.0.1:8765") == "http://127.0.0.1:8765/control"


def test_drop_on_names_an_event_type_and_its_count() -> None:
    options = faults.parse({"fault": "drop_on:response.function_call_arguments.done:1"}, env={})
    assert options.drop_on == ("response.function_call_arguments.done", 1)
    assert faults.parse({"fault": "drop_on:input_audio_buffer.speech_started:3"}, env={}).drop_on == (
        "input_audio_buffer.speech_started",
        3,
    )
    for bad in (
        "drop_on:12",
        "drop_on:response.output_audio.delta:0",
        "drop_on:response.output_audio.delta:x",
    ):
        with pytest.raises(errors.EngineError):
            faults.parse({"fault": bad}, env={})
