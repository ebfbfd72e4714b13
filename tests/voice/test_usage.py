"""A call's token usage is the sum of its responses' usage, across the sessions of the call."""

from __future__ import annotations

import json
from typing import Any

from switchboard.costs import TokenUsage
from tests.test_costs import GA_USAGE
from tests.voice.test_bridge import created, make_bridge, rt, start
from voice.usage import CallUsage


def done_with(rid: str, usage: dict[str, Any] | None, status: str = "completed") -> Any:
    response = {"id": rid, "object": "realtime.response", "status": status, "usage": usage}
    return rt("response.done", response=response)


def scaled(k: int) -> dict[str, Any]:
    """GA_USAGE with every count times ``k``."""
    return json.loads(json.dumps(GA_USAGE), parse_int=lambda s: int(s) * k)


def test_usage_adds_up_across_a_reconnect() -> None:
    bridge = make_bridge()
    bridge.on_twilio(start())
    for event in (created("resp_a1"), done_with("resp_a1", GA_USAGE)):  # the first session
        bridge.on_realtime(event)
    bridge.session_lost()  # the socket dropped: a new session takes over, the bridge stays
    bridge.session_started(bridge.clock_ms)
    for event in (
        created("resp_b1"),
        done_with("resp_b1", scaled(2)),  # the new session re-reads the conversation: more input
        created("resp_b2"),
        done_with("resp_b2", None, status="cancelled"),  # a response with no usage counts as one, with 0
    ):
        bridge.on_realtime(event)
    total = bridge.usage.total
    one = TokenUsage.of_response(GA_USAGE)
    assert total.responses == 3
    assert total.input_audio == 3 * one.input_audio and total.cached_text == 3 * one.cached_text
    assert total.output_audio == 3 * one.output_audio and total.total_tokens == 3 * 821


def test_a_response_counts_once() -> None:
    usage = CallUsage()
    event = done_with("resp_1", GA_USAGE)
    usage.add(event.response)
    usage.add(event.response)  # the same response.done seen twice (a replayed frame) is not billed twice
    assert usage.total == TokenUsage.of_response(GA_USAGE)
