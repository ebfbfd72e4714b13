"""What a call costs: the Realtime tokens it used, priced by a table, plus the phone minutes.

``TokenUsage`` is a call's sum of the ``usage`` of every Realtime ``response.done`` (all of its
sessions, reconnects included). ``call_cost`` is a pure function of that, a ``PriceTable`` and the
call's length. Money is ``Decimal`` dollars, rounded once, at the end, to micro-dollars.

How the Realtime service bills (OpenAI's "Managing costs" guide): each response reads the whole
conversation again as input, so ``input_tokens`` grows turn by turn; the part already read by an
earlier response is reported as ``cached_tokens`` (a subset of the input) and priced far lower.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MICRO = Decimal("0.000001")
MILLION = Decimal(1_000_000)


class TokenUsage(BaseModel):
    """Tokens of one response, or summed over a call. Cached tokens are part of the input ones."""

    model_config = ConfigDict(extra="forbid")

    responses: int = 0
    input_text: int = 0
    input_audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0

    @property
    def input_tokens(self) -> int:
        return self.input_text + self.input_audio

    @property
    def output_tokens(self) -> int:
        return self.output_text + self.output_audio

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})

    @classmethod
    def of_response(cls, usage: Any) -> TokenUsage:
        """One ``response.done``'s ``response.usage`` (the SDK's object or its JSON dict; None is 0)."""

        def get(node: Any, name: str) -> Any:
            return node.get(name) if isinstance(node, dict) else getattr(node, name, None)

        if usage is None:
            return cls(responses=1)
        details_in = get(usage, "input_token_details")
        details_out = get(usage, "output_token_details")
        cached = get(details_in, "cached_tokens_details") if details_in is not None else None

        def n(node: Any, name: str) -> int:
            value = get(node, name) if node is not None else None
            return int(value) if isinstance(value, int | float) else 0

        return cls(
            responses=1,
            input_text=n(details_in, "text_tokens"),
            input_audio=n(details_in, "audio_tokens"),
            cached_text=n(cached, "text_tokens"),
            cached_audio=n(cached, "audio_tokens"),
            output_text=n(details_out, "text_tokens"),
            output_audio=n(details_out, "audio_tokens"),
        )


class PriceTable(BaseModel):
    """Dollars per million tokens of the Realtime model, and per minute of the phone call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "gpt-realtime"
    text_input: Decimal = Decimal("4.00")
    text_cached_input: Decimal = Decimal("0.40")
    text_output: Decimal = Decimal("16.00")
    audio_input: Decimal = Decimal("32.00")
    audio_cached_input: Decimal = Decimal("0.40")
    audio_output: Decimal = Decimal("64.00")
    phone_inbound_per_min: Decimal = Decimal("0.0085")
    phone_outbound_per_min: Decimal = Decimal("0.0130")


class CallCost(BaseModel):
    """A call's cost in US dollars: the Realtime model's tokens and the phone minutes."""

    model_config = ConfigDict(extra="forbid")

    model_usd: Decimal = Decimal(0)
    phone_usd: Decimal = Decimal(0)
    total_usd: Decimal = Decimal(0)
    call_seconds: float = Field(default=0.0, description="The length priced (the media stream's).")
    phone_minutes: int = Field(default=0, description="Billed minutes: each call rounded up to a minute.")
    model: str = ""


def _usd(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def model_cost(usage: TokenUsage, prices: PriceTable) -> Decimal:
    """The tokens' price, unrounded: uncached input, cached input and output, per modality."""
    fresh_text = max(0, usage.input_text - usage.cached_text)  # cached tokens are part of the input
    fresh_audio = max(0, usage.input_audio - usage.cached_audio)
    per_m = (
        fresh_text * prices.text_input
        + usage.cached_text * prices.text_cached_input
        + usage.output_text * prices.text_output
        + fresh_audio * prices.audio_input
        + usage.cached_audio * prices.audio_cached_input
        + usage.output_audio * prices.audio_output
    )
    return per_m / MILLION


def phone_minutes(seconds: float) -> int:
    """Twilio bills a voice call by the minute, each call's length rounded up."""
    return math.ceil(seconds / 60) if seconds > 0 else 0


def call_cost(
    usage: TokenUsage,
    prices: PriceTable,
    *,
    seconds: float,
    direction: Literal["inbound", "outbound", ""] = "inbound",
) -> CallCost:
    """What one call cost: its tokens at the table's prices plus its minutes at the direction's rate."""
    minutes = phone_minutes(seconds)
    rate = prices.phone_outbound_per_min if direction == "outbound" else prices.phone_inbound_per_min
    model_usd = _usd(model_cost(usage, prices))
    phone_usd = _usd(minutes * rate)
    return CallCost(
        model_usd=model_usd,
        phone_usd=phone_usd,
        total_usd=model_usd + phone_usd,
        call_seconds=round(seconds, 3),
        phone_minutes=minutes,
        model=prices.model,
    )


__all__ = ["CallCost", "PriceTable", "TokenUsage", "call_cost", "model_cost", "phone_minutes"]
