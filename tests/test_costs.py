"""The price table's arithmetic and the reading of ``response.done`` usage (switchboard/costs.py)."""

from __future__ import annotations

import os
from decimal import Decimal

from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from switchboard.config import Settings
from switchboard.costs import CallCost, PriceTable, TokenUsage, call_cost, phone_minutes

GA_USAGE = {  # a response.done's usage in the GA shape (the numbers of a real turn)
    "total_tokens": 821,
    "input_tokens": 789,
    "output_tokens": 32,
    "input_token_details": {
        "text_tokens": 313,
        "audio_tokens": 476,
        "image_tokens": 0,
        "cached_tokens": 640,
        "cached_tokens_details": {"text_tokens": 256, "audio_tokens": 384, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 9, "audio_tokens": 23},
}


def response_done(usage: dict | None, response_id: str = "resp_1") -> dict:
    return {
        "type": "response.done",
        "event_id": "event_1",
        "response": {"id": response_id, "object": "realtime.response", "status": "completed", "usage": usage},
    }


def test_usage_of_a_response_done_reads_every_detail() -> None:
    event = TypeAdapter(RealtimeServerEvent).validate_python(response_done(GA_USAGE))
    usage = TokenUsage.of_response(event.response.usage)  # type: ignore[union-attr]
    assert usage == TokenUsage(
        responses=1,
        input_text=313,
        input_audio=476,
        cached_text=256,
        cached_audio=384,
        output_text=9,
        output_audio=23,
    )
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (789, 32, 821)
    assert TokenUsage.of_response(GA_USAGE) == usage  # the JSON dict reads the same
    assert TokenUsage.of_response(None) == TokenUsage(responses=1)


def test_usages_add_up() -> None:
    one = TokenUsage.of_response(GA_USAGE)
    two = one + one + TokenUsage()
    assert (
        two.responses == 2 and two.input_audio == 952 and two.cached_text == 512 and two.total_tokens == 1642
    )


def test_price_of_a_call_by_hand() -> None:
    usage = TokenUsage(
        input_text=10_000,
        cached_text=8_000,
        input_audio=3_000,
        cached_audio=1_000,
        output_text=500,
        output_audio=2_000,
    )
    cost = call_cost(usage, PriceTable(), seconds=61.0, direction="outbound")
    # text: 2,000 × $4 + 8,000 × $0.40 + 500 × $16; audio: 2,000 × $32 + 1,000 × $0.40 + 2,000 × $64 (per 1M)
    model = (
        Decimal(8_000) + Decimal(3_200) + Decimal(8_000) + Decimal(64_000) + Decimal(400) + Decimal(128_000)
    )
    assert cost.model_usd == model / Decimal(1_000_000) == Decimal("0.211600")
    assert cost.phone_minutes == 2  # 61 s is two billed minutes
    assert cost.phone_usd == Decimal("0.026000")
    assert cost.total_usd == Decimal("0.237600")
    assert cost.model == "gpt-realtime"
    inbound = call_cost(usage, PriceTable(), seconds=61.0, direction="inbound")
    assert inbound.phone_usd == Decimal("0.017000")


def test_money_is_rounded_once_to_micro_dollars() -> None:
    cost = call_cost(TokenUsage(output_audio=1), PriceTable(), seconds=0)
    assert cost.model_usd == Decimal("0.000064") and cost.phone_usd == 0 and cost.phone_minutes == 0
    tiny = call_cost(TokenUsage(input_text=1, cached_text=1), PriceTable(), seconds=0)
    assert tiny.model_usd == Decimal("0.000000")  # $0.0000004 rounds to nothing, not to a float's noise
    assert [phone_minutes(s) for s in (0, 0.1, 60, 60.001, 119)] == [0, 1, 1, 2, 2]


def test_cost_survives_json() -> None:
    cost = call_cost(TokenUsage(input_audio=1234, output_audio=999), PriceTable(), seconds=42)
    again = CallCost.model_validate_json(cost.model_dump_json())
    assert again == cost


def test_the_price_table_is_configuration() -> None:
    env = {"SWITCHBOARD_PRICE_AUDIO_OUTPUT": "80", "SWITCHBOARD_PRICE_PHONE_INBOUND_PER_MIN": "0.01"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        prices = Settings().prices
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert prices.audio_output == Decimal("80") and prices.phone_inbound_per_min == Decimal("0.01")
    assert prices.text_input == PriceTable().text_input  # the others keep OpenAI's published defaults
    assert Settings().prices == PriceTable()
